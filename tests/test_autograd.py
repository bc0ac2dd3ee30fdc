"""Gradients through every strategy: gradcheck on entangling circuits (inputs and weights), gradcheck's teeth
against the chapter's rule, weight gradients summed over the batch, one custom operator for the glue."""

import numpy as np
import pytest
import torch
from hqnn import Hybrid

from closed_forms import dp1_closed, p1_closed
from sample_circuits import entangling_circuit


@pytest.mark.parametrize("backend", ["analytic", "aer"])
@pytest.mark.parametrize("shape", [(5, 1), (3, 4, 1)])
def test_exact_values_and_gradients_match_closed_form(backend, shape):
    layer = Hybrid(backend, shots=None)
    theta = torch.linspace(-7, 7, int(np.prod(shape)), dtype=torch.float64).reshape(shape).requires_grad_()
    out = layer(theta)
    assert out.shape == shape
    out.sum().backward()
    t = theta.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), p1_closed(t), atol=1e-10)
    np.testing.assert_allclose(theta.grad.numpy(), dp1_closed(t), atol=1e-10)


def test_z_readout_and_general_shift():
    layer = Hybrid("analytic", shift=0.7, readout="z", diff_method="shift")
    theta = torch.tensor([[0.3], [2.0]], dtype=torch.float64, requires_grad=True)
    out = layer(theta)
    out.sum().backward()
    t = theta.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), -np.sin(t), atol=1e-12)
    np.testing.assert_allclose(theta.grad.numpy(), -np.cos(t), atol=1e-12)


def layer_function(layer: Hybrid):
    return lambda x, w: torch.func.functional_call(layer, {"weights": w}, (x,))


@pytest.mark.parametrize("diff_method", ["reverse", "shift"])
@pytest.mark.parametrize("readout", ["p1", "z"])
def test_gradcheck_entangling_circuit(readout, diff_method):
    qc, inputs, weights = entangling_circuit()
    layer = Hybrid(
        "analytic",
        circuit=qc,
        inputs=inputs,
        weights=weights,
        readout=readout,
        qubits=[0, 2],
        seed=3,
        diff_method=diff_method,
    )
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    w = layer.weights.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(layer_function(layer), (x, w))


def test_wrong_jacobian_fails_gradcheck():
    """gradcheck has teeth here: the chapter's rule (no 1/(2 sin s)) is caught."""
    qc, inputs, weights = entangling_circuit()
    layer = Hybrid("analytic", circuit=qc, inputs=inputs, weights=weights, diff_method="shift")
    plan = layer.strategy.plan
    original = plan.reduce
    plan.reduce = lambda *args: (lambda values, jacobian: (values, 2 * jacobian))(*original(*args))
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    w = layer.weights.detach().clone().requires_grad_()
    assert not torch.autograd.gradcheck(layer_function(layer), (x, w), raise_exception=False)


@pytest.mark.parametrize("diff_method", ["reverse", "shift"])
def test_weight_gradient_summed_over_batch(diff_method):
    qc, inputs, weights = entangling_circuit()
    layer = Hybrid("analytic", circuit=qc, inputs=inputs, weights=weights, seed=0, diff_method=diff_method)
    x = torch.randn(6, 2, dtype=torch.float64)
    layer(x).sum().backward()
    total = layer.weights.grad.clone()
    per_sample = torch.zeros_like(total)
    for row in x:
        layer.weights.grad = None
        layer(row[None]).sum().backward()
        per_sample += layer.weights.grad
    torch.testing.assert_close(total, per_sample, atol=1e-12, rtol=0)


def test_only_the_needed_jacobians_are_built(count_calls):
    """Inputs without grad: only angles the weights reach are shifted; neither: base rows only."""
    qc, inputs, weights = entangling_circuit()
    layer = Hybrid("analytic", circuit=qc, inputs=inputs, weights=weights, diff_method="shift")
    run = count_calls(layer.strategy.executor, "run")
    x = torch.rand(4, 2, dtype=torch.float64)
    layer(x).sum().backward()  # weights only: rzz(2·w0 + 1), rxx(w1 − ½x1), ry(w1)
    layer(x.requires_grad_()).sum().backward()  # all 6 angles
    with torch.no_grad():
        layer(x)
    assert [len(args[0]) for args, _ in run.arguments] == [4 * (1 + 2 * 3), 4 * (1 + 2 * 6), 4]


def test_the_strategy_registry_does_not_keep_a_layer_alive():
    import gc
    import weakref

    from hqnn import autograd

    layer = Hybrid("aer", 10)
    handle, alive = layer.strategy.handle, weakref.ref(layer.strategy)
    assert autograd._strategy(handle) is layer.strategy
    layer(torch.rand(2, 1, requires_grad=True)).sum().backward()
    del layer
    gc.collect()
    assert alive() is None and handle not in autograd._STRATEGIES
