"""The one-node CPU readout (:mod:`hqnn.kernel_readout`) against the node-by-node path (kernel states, then torch's
basis changes, |ψ|², marginals and readout matrices): outputs and gradients equal to 1e-12 for every kind of
readout, float32 as well, gradcheck, and a backward that stays differentiable. A layer's angle map inside the same
node (affine or not) equals the map as torch operations feeding the node. The readout kernels equal numpy."""

import numpy as np
import pytest
import torch

from hqnn import Hybrid
from hqnn.kernel_readout import kernel_outputs
from hqnn.kernels.probabilities import joint_outputs, joint_outputs_backward
from hqnn.kernels.rows import use_threads
from sample_circuits import entangling_circuit

READOUTS = [
    {"readout": "z"},
    {"readout": "p1", "qubits": [2, 0]},
    {"readout": "probabilities", "qubits": [1, 2]},
    {"observables": ["XZI", "YYX", "ZIZ", "IXI"]},
    {"observables": ["III", "XXX"]},
]


def _layer(options: dict) -> Hybrid:
    circuit, inputs, weights = entangling_circuit()
    return Hybrid("analytic", None, circuit=circuit, inputs=inputs, weights=weights, seed=3, **options)


def _angles(layer: Hybrid, dtype=torch.float64) -> torch.Tensor:
    x = torch.rand(6, 2, generator=torch.Generator().manual_seed(1), dtype=dtype) * 6 - 3
    return layer.spec.angle_map(x, layer.weights.detach().to(dtype)).detach().requires_grad_()


@pytest.mark.parametrize("options", READOUTS, ids=lambda o: str(list(o.values())))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_one_node_equals_node_by_node(options, dtype):
    layer = _layer(options)
    simulator, readout = layer.strategy.simulator, layer.spec.readout
    gamma = _angles(layer, dtype)
    cotangent = torch.rand(len(gamma), readout.n_outputs, generator=torch.Generator().manual_seed(2), dtype=dtype)
    fused = kernel_outputs(gamma, simulator, readout)
    (fused_grad,) = torch.autograd.grad(fused, gamma, cotangent)
    reference = readout.outputs(simulator.features(gamma, readout))
    (reference_grad,) = torch.autograd.grad(reference, gamma, cotangent)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert fused.dtype == dtype and fused_grad.dtype == dtype
    torch.testing.assert_close(fused, reference, atol=tolerance, rtol=0)
    torch.testing.assert_close(fused_grad, reference_grad, atol=tolerance, rtol=0)


@pytest.mark.parametrize("options", READOUTS[2:4], ids=["probabilities", "observables"])
def test_gradcheck_and_double_backward(options):
    layer = _layer(options)
    simulator, readout = layer.strategy.simulator, layer.spec.readout
    gamma = _angles(layer)[:3].detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda g: kernel_outputs(g, simulator, readout), (gamma,))
    assert torch.autograd.gradgradcheck(lambda g: kernel_outputs(g, simulator, readout), (gamma,))


def test_reverse_mode_runs_the_one_node_path():
    layer = _layer({"observables": ["XZI"]})
    out = layer(torch.zeros(2, 2, dtype=torch.float64))
    assert any("KernelOutputs" in type(node).__name__ for node in _nodes(out.grad_fn))


def _non_affine_layer(options: dict) -> Hybrid:
    circuit, inputs, weights = entangling_circuit()
    x0, x1 = inputs
    circuit.ry(x0 * x1 * 2 + weights[0].sin(), 2)  # products of inputs (zz_feature_map's kind), a function
    circuit.cx(1, 2)
    circuit.rz((x1 - weights[1]) ** 2, 0)
    return Hybrid("analytic", None, circuit=circuit, inputs=inputs, weights=weights, seed=3, **options)


@pytest.mark.parametrize("make", [_layer, _non_affine_layer], ids=["affine", "non-affine"])
@pytest.mark.parametrize("options", READOUTS[::2], ids=lambda o: str(list(o.values())))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_angle_map_inside_the_node_equals_the_map_feeding_it(make, options, dtype):
    layer = make(options)
    simulator, readout, angle_map = layer.strategy.simulator, layer.spec.readout, layer.spec.angle_map
    x = (torch.rand(5, 2, generator=torch.Generator().manual_seed(4), dtype=dtype) * 6 - 3).requires_grad_()
    weights = layer.weights.detach().clone().requires_grad_()
    cotangent = torch.rand(5, readout.n_outputs, generator=torch.Generator().manual_seed(5), dtype=dtype)
    inside = torch.func.functional_call(layer, {"weights": weights}, (x,))
    assert any("KernelOutputs" in type(node).__name__ for node in _nodes(inside.grad_fn))
    assert not any("HostAngles" in type(node).__name__ for node in _nodes(inside.grad_fn))  # one node, not two
    feeding = kernel_outputs(angle_map.torch_angles(x, weights), simulator, readout)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(inside, feeding, atol=tolerance, rtol=0)
    for a, b in zip(torch.autograd.grad(inside, (x, weights), cotangent), torch.autograd.grad(feeding, (x, weights), cotangent)):
        torch.testing.assert_close(a, b, atol=tolerance, rtol=0)


def test_angle_map_inside_the_node_gradcheck_and_double_backward():
    layer = _non_affine_layer({"observables": ["XZI", "YYX"]})
    x = (torch.rand(3, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 2 - 1).requires_grad_()
    weights = layer.weights.detach().clone().requires_grad_()
    f = lambda a, w: torch.func.functional_call(layer, {"weights": w}, (a,))  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, weights))
    assert torch.autograd.gradgradcheck(f, (x, weights))


def test_angle_map_inside_the_node_refuses_nan_angles():
    circuit, inputs, weights = entangling_circuit()
    circuit.ry((inputs[0] - 2).log(), 1)  # log(−1) at x0 = 1
    layer = Hybrid("analytic", None, circuit=circuit, inputs=inputs, weights=weights, seed=3)
    with pytest.raises(ValueError, match="circuit angles contain NaN or inf"):
        layer(torch.tensor([[1.0, 0.0]], dtype=torch.float64))


def _nodes(node, seen=None):
    seen = set() if seen is None else seen
    if node is None or node in seen:
        return seen
    seen.add(node)
    for child, _ in node.next_functions:
        _nodes(child, seen)
    return seen


@pytest.mark.parametrize("measured", [8, 5], ids=["every qubit", "5 of 8 qubits"])
def test_joint_output_kernels_equal_numpy_and_any_thread_count(measured):
    """The readout kernels on 8 qubits (each output's sum long enough to run vectorized) against numpy: outputs and
    the backward to 1e-12, and bit-identical on 1 and 2 threads."""
    rng = np.random.default_rng(7)
    states = rng.normal(size=(40, 256)) + 1j * rng.normal(size=(40, 256))
    index = (np.arange(256) >> 3) & ((1 << measured) - 1)  # qubits 3 … 3 + measured − 1
    weights = rng.normal(size=(5, 1 << measured))  # (outputs, outcomes)
    grads = rng.normal(size=(40, 5))
    joint = np.zeros((40, 1 << measured))
    np.add.at(joint, (slice(None), index), np.abs(states) ** 2)
    expected_out = 0.5 + joint @ weights.T
    expected_adjoint = 2 * (grads @ weights)[:, index] * states
    results = []
    for threads in (1, 2):
        use_threads(threads)
        out, adjoint = np.full((40, 5), 0.5), np.zeros_like(states)
        joint_outputs(states, index, weights, np.empty(joint.shape), out)
        joint_outputs_backward(states, index, weights, grads, np.empty(joint.shape), adjoint)
        np.testing.assert_allclose(out, expected_out, atol=1e-12, rtol=0)
        np.testing.assert_allclose(adjoint, expected_adjoint, atol=1e-12, rtol=0)
        results.append((out, adjoint))
    use_threads(1)
    for first, second in zip(*results):
        assert np.array_equal(first, second)
