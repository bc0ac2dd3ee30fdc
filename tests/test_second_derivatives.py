"""Second derivatives (``create_graph=True``: hessians, gradient penalties) are exact on every exact path — the
closed form and the shift rule by the second-order shift rule, reverse mode by double backward through the torch
statevector — and agree to 1e-10; they were a silent 0 before."""

import math

import pytest
import torch

from hqnn import AerStatevectorExecutor, Hybrid, SimulatorExecutor, angle_encoder, entangling_ansatz

ATOL = 1e-10
MODEL = angle_encoder(2).then(entangling_ansatz(2, 1)).hybrid_kwargs()


def hessian(layer, x):
    return torch.autograd.functional.hessian(lambda a: layer(a).sum(), x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Hybrid("analytic"),  # closed form
        lambda: Hybrid("analytic", diff_method="shift", shift=0.7),  # shift rule on the numba kernel
        lambda: Hybrid("aer", None),  # shift rule on Aer's statevector
        lambda: Hybrid("analytic", diff_method="reverse"),  # reverse mode
    ],
    ids=["closed-form", "shift-kernel", "shift-aer", "reverse"],
)
def test_hessian_of_the_chapter_layer_is_minus_sin_over_two(make):
    theta = torch.tensor([[0.3], [-2.0], [4.0]], dtype=torch.float64)
    h = hessian(make(), theta).reshape(3, 3)
    torch.testing.assert_close(h, torch.diag(-torch.sin(theta[:, 0]) / 2), atol=ATOL, rtol=0)


def gradient_penalty(layer, x):
    """d/dx and d/dweights of ‖∂L/∂x‖² (L = Σ outputs²): a gradient-penalty loss, through create_graph=True."""
    x = x.clone().requires_grad_(True)
    (grad_x,) = torch.autograd.grad((layer(x) ** 2).sum(), x, create_graph=True)
    penalty = (grad_x**2).sum()
    return torch.autograd.grad(penalty, (x, layer.weights))


def test_gradient_penalty_agrees_across_strategies():
    x = torch.rand(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 4 - 2
    reverse = Hybrid("analytic", None, **MODEL, observables=["ZZ", "XI"], seed=3)
    spec = reverse.spec
    others = {
        "shift on hqnn's statevector": Hybrid("analytic", None, 0.9, **MODEL, observables=["ZZ", "XI"], seed=3,
                                              diff_method="shift"),
        "shift on Aer": Hybrid(AerStatevectorExecutor(spec)),
        "shift on a user's executor": Hybrid(SimulatorExecutor(spec)),
    }
    expected = gradient_penalty(reverse, x)
    assert all(float(g.abs().max()) > 1e-3 for g in expected)  # not a vacuous 0
    for name, layer in others.items():
        with torch.no_grad():
            layer.weights.copy_(reverse.weights)
        for got, want in zip(gradient_penalty(layer, x), expected):
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0, msg=name)


def test_reverse_mode_hessian_equals_the_second_order_shift_rule_on_weights_too():
    x = torch.tensor([[0.4, -1.1]], dtype=torch.float64)
    reverse = Hybrid("analytic", None, **MODEL, readout="z", seed=5)
    shift = Hybrid("analytic", None, **MODEL, readout="z", seed=5, diff_method="shift")

    def loss(layer):
        return lambda a, w: torch.func.functional_call(layer, {"weights": w}, (a,)).sum()

    w = reverse.weights.detach().clone()
    h_reverse = torch.autograd.functional.hessian(loss(reverse), (x, w))
    h_shift = torch.autograd.functional.hessian(loss(shift), (x, w))
    for a, b in zip(h_reverse, h_shift):
        for left, right in zip(a, b):
            torch.testing.assert_close(left, right, atol=ATOL, rtol=0)


def test_second_derivatives_with_shots_are_shift_rule_estimates():
    theta = torch.tensor([[0.3]], dtype=torch.float64)
    layer = Hybrid("emulator", 10**7, seed=1)  # closed form with binomial shots
    h = hessian(layer, theta)
    assert abs(float(h) + math.sin(0.3) / 2) < 2e-3
