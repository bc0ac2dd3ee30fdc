"""Tensors keep their device and dtype through Hybrid (values are computed on CPU and moved back)."""

import pytest
import torch

from hqnn import Hybrid, angle_encoder, entangling_ansatz

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda)")
    ),
]
MODEL = angle_encoder(2).then(entangling_ansatz(2, reps=1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_keep_device_and_dtype(device, dtype):
    layer = Hybrid("analytic", None, **MODEL.hybrid_kwargs(), readout="z", seed=0).to(device=device, dtype=dtype)
    reference = Hybrid("analytic", None, **MODEL.hybrid_kwargs(), readout="z", seed=0)
    x = torch.rand(4, 3, 2, dtype=dtype, generator=torch.Generator().manual_seed(1)).to(device).requires_grad_()
    out = layer(x)
    assert (out.device.type, out.dtype, out.shape) == (torch.device(device).type, dtype, (4, 3, 2))
    (out**2).sum().backward()
    assert (x.grad.device.type, x.grad.dtype) == (torch.device(device).type, dtype)
    assert (layer.weights.grad.device.type, layer.weights.grad.dtype) == (torch.device(device).type, dtype)
    # Same numbers as the float64 CPU layer, up to the dtype's precision.
    x64 = x.detach().cpu().double().requires_grad_()
    out64 = reference(x64)
    (out64**2).sum().backward()
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out.detach().cpu().double(), out64.detach(), atol=tol, rtol=0)
    torch.testing.assert_close(x.grad.cpu().double(), x64.grad, atol=tol, rtol=0)
    torch.testing.assert_close(layer.weights.grad.cpu().double(), reference.weights.grad, atol=10 * tol, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_path_keeps_device_and_dtype(device):
    layer = Hybrid("analytic", None, **MODEL.hybrid_kwargs(), seed=0).to(device)
    with torch.no_grad():
        out = layer(torch.zeros(5, 2, dtype=torch.float32, device=device))
    assert (out.device.type, out.dtype, out.shape) == (torch.device(device).type, torch.float32, (5, 2))
