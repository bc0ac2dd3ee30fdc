"""Tensors keep their device and dtype through every strategy; on CUDA, exact and emulated layers compute on the
GPU (no tensor of the batch's size is made on the host). The CUDA cases run when ``torch.cuda`` is available."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hqnn import ClosedForm, Hybrid, ReverseMode, ShiftRule, angle_encoder, entangling_ansatz

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda)")
    ),
]
CUDA = DEVICES[1:]
MODEL = angle_encoder(2).then(entangling_ansatz(2, reps=1))


def layers(**extra):
    """One layer per strategy: reverse mode, shift rule on the emulator, closed-form shots."""
    return {
        "reverse": Hybrid("analytic", None, **MODEL.hybrid_kwargs(), readout="z", seed=0, **extra),
        "shift": Hybrid("analytic", None, **MODEL.hybrid_kwargs(), readout="z", seed=0, diff_method="shift", **extra),
        "emulator": Hybrid("emulator", 1000, **MODEL.hybrid_kwargs(), readout="z", seed=0, **extra),
        "closed-form shots": Hybrid("emulator", 1000, seed=0),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_values_and_gradients_keep_device_and_dtype(device, dtype):
    layer = Hybrid("analytic", None, **MODEL.hybrid_kwargs(), readout="z", seed=0).to(device=device, dtype=dtype)
    assert isinstance(layer.strategy, ReverseMode)
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
@pytest.mark.parametrize("name", ["reverse", "shift", "emulator", "closed-form shots"])
def test_every_strategy_keeps_device_and_dtype(device, name):
    layer = layers()[name].to(device)
    assert type(layer.strategy) in (ReverseMode, ShiftRule, ClosedForm)
    x = torch.rand(5, layer.spec.n_inputs, dtype=torch.float32, device=device, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert (out.device.type, out.dtype) == (torch.device(device).type, torch.float32)
    assert (x.grad.device.type, x.grad.dtype) == (torch.device(device).type, torch.float32)
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


class HostTensors(TorchDispatchMode):
    """Records every operator output that lands on the host with more than one element."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu" and tensor.numel() > 1:
                self.seen.append(str(func))
        return out


@pytest.mark.parametrize("device", CUDA)
@pytest.mark.parametrize("name", ["reverse", "shift", "emulator", "closed-form shots"])
def test_gpu_layers_compute_on_the_gpu(device, name):
    layer = layers()[name].to(device)
    x = torch.rand(64, layer.spec.n_inputs, device=device, requires_grad=True)
    layer(x).sum().backward()  # constants are copied to the device once, on the first call
    with HostTensors() as host:
        layer(x).sum().backward()
    assert host.seen == []


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_path_keeps_device_and_dtype(device):
    layer = Hybrid("analytic", None, **MODEL.hybrid_kwargs(), seed=0).to(device)
    with torch.no_grad():
        out = layer(torch.zeros(5, 2, dtype=torch.float32, device=device))
    assert (out.device.type, out.dtype, out.shape) == (torch.device(device).type, torch.float32, (5, 2))
