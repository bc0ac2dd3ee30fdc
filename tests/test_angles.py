"""The angle map's two evaluations agree: numpy on the CPU (one autograd node, compiled partial derivatives for
its backward) and torch operations (GPU, torch.compile, double backward), for affine and non-affine angles, in
float64 and float32, with gradients by inputs and weights."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import CircuitSpec


def every_kind_of_angle() -> CircuitSpec:
    """Affine angles, products of inputs, and each elementary function hqnn accepts, over inputs and weights."""
    x0, x1, x2, w0, w1 = (Parameter(name) for name in ("x0", "x1", "x2", "w0", "w1"))
    angles = [
        2 * x0 + 1 - w1,  # affine
        x0,
        x0 * x1 * 2,  # zz_feature_map's kind
        (np.pi - x1) * (np.pi - x2),
        (x1**2 + w0).sin() + w0.exp() * 0.1,
        (x0 * w1).cos(),
        (0.3 * x2).tan(),
        (0.2 * x0).arcsin() + (0.2 * x1).arccos() + (x2 * w0).arctan(),
        (0.5 * x0).exp() * (0.5 * w1).cos() - (x1 - w0) ** 3,
        (x2**2 + 1).log() * w1,
        (x0**2 + 2) ** 0.5,
        w0 * w1,  # weights alone: the same angle in every row
    ]
    qc = QuantumCircuit(3)
    for k, angle in enumerate(angles):
        qc.ry(angle, k % 3)
        if k % 3 == 2:
            qc.cx(0, 1)
    return CircuitSpec.from_circuit(qc, inputs=[x0, x1, x2], weights=[w0, w1])


def parameters(dtype, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(6, 3, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype).requires_grad_()
    w = (torch.rand(2, generator=generator, dtype=torch.float64) * 2 - 1).requires_grad_()
    return x, w


def values_and_grads(f, x, w):
    gamma = f(x, w)
    cotangent = torch.linspace(-1, 2, gamma.numel(), dtype=gamma.dtype).reshape(gamma.shape)
    gx, gw = torch.autograd.grad(gamma, (x, w), cotangent)
    return gamma.detach(), gx, gw


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_numpy_map_equals_torch_map(dtype, tolerance):
    angle_map = every_kind_of_angle().angle_map
    assert not angle_map.affine
    x, w = parameters(dtype)
    host = values_and_grads(angle_map, x, w)
    assert angle_map(x, w).grad_fn.name() == "_HostAnglesBackward"  # the CPU call takes the numpy path
    reference = values_and_grads(angle_map.torch_angles, x, w)
    for a, b in zip(host, reference):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, atol=tolerance, rtol=tolerance)


def test_numpy_map_gradcheck_and_double_backward():
    angle_map = every_kind_of_angle().angle_map
    x, w = parameters(torch.float64, seed=1)
    assert torch.autograd.gradcheck(angle_map, (x, w))
    assert torch.autograd.gradgradcheck(angle_map, (x, w))


def test_gradient_by_inputs_alone_or_weights_alone():
    angle_map = every_kind_of_angle().angle_map
    x, w = parameters(torch.float64, seed=2)
    (gx,) = torch.autograd.grad(angle_map(x, w.detach()).sum(), x)
    (gw,) = torch.autograd.grad(angle_map(x.detach(), w).sum(), w)
    reference_x, reference_w = torch.autograd.grad(angle_map.torch_angles(x, w).sum(), (x, w))
    torch.testing.assert_close(gx, reference_x, atol=1e-12, rtol=0)
    torch.testing.assert_close(gw, reference_w, atol=1e-12, rtol=0)


def test_nan_from_an_expression_reaches_the_layer_check():
    x0 = Parameter("x0")
    qc = QuantumCircuit(1)
    qc.ry((x0 - 2).log(), 0)
    spec = CircuitSpec.from_circuit(qc, inputs=[x0], weights=[])
    gamma = spec.angle_map(torch.tensor([[1.0], [3.0]], dtype=torch.float64), torch.empty(0, dtype=torch.float64))
    assert torch.isnan(gamma[0, 0]) and gamma[1, 0] == 0.0  # log(−1) is NaN, not silently a number


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_dtypes_numpy_cannot_hold_take_the_torch_map(dtype):
    angle_map = every_kind_of_angle().angle_map
    x, w = parameters(torch.float64, seed=3)
    x = x.detach().to(dtype).requires_grad_()
    gamma = angle_map(x, w)
    assert gamma.dtype == dtype and gamma.grad_fn.name() != "_HostAnglesBackward"
    gamma.sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
