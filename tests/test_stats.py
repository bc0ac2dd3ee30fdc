"""Shot estimates against the closed forms: calibrated χ² tests that also reject planted wrong rules.

Aer's estimates of P(1) are Binomial(shots, p)/shots; shift-rule gradients are a difference of two such
estimates over 2 sin s. Each test runs once on hqnn's output (must not reject, p > 1e-4; seeded) and once
against a planted wrong model (must reject, p < 1e-6).
"""

import math

import numpy as np
import pytest
import torch

from hqnn import Hybrid
from hqnn.stats import fit_pvalue, shift_rule_pvalue

from closed_forms import dp1_closed, p1_closed

ACCEPT, REJECT = 1e-4, 1e-6


def grid(shift, copies=20):
    """Angles where P(1) at θ and θ ± s lies in (0.05, 0.95), so every binomial cell is well populated."""
    theta = np.linspace(-math.pi, math.pi, 73)
    inside = np.ones_like(theta, dtype=bool)
    for offset in (0.0, shift, -shift):
        p = p1_closed(theta + offset)
        inside &= (p > 0.05) & (p < 0.95)
    return np.repeat(theta[inside], copies)


def gradient_chi2_pvalue(grads, theta, shift, shots, dp_model):
    """χ² of shift-rule gradient estimates against a model derivative, with the chapter circuit's variance."""
    return shift_rule_pvalue(grads, dp_model, p1_closed(theta + shift), p1_closed(theta - shift), shots, shift)


def aer_values_and_grads(theta, shots, shift, seed):
    layer = Hybrid("aer", shots, shift, seed=seed)
    x = torch.tensor(theta[:, None], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    return out.detach().numpy()[:, 0], x.grad.numpy()[:, 0]


@pytest.mark.parametrize("shots", [100, 1000])
def test_values_fit_closed_form_and_reject_cos_model(shots):
    theta = grid(0.0)
    values, _ = aer_values_and_grads(theta, shots, math.pi / 2, seed=shots)
    assert fit_pvalue(values, p1_closed(theta), shots) > ACCEPT
    wrong = (1 + np.cos(theta)) / 2  # planted wrong model
    usable = (wrong > 0.01) & (wrong < 0.99)
    assert fit_pvalue(values[usable], wrong[usable], shots) < REJECT


@pytest.mark.parametrize("shots", [100, 1000])
@pytest.mark.parametrize("shift", [math.pi / 2, 0.9])
def test_gradients_unbiased_with_binomial_variance(shots, shift):
    theta = grid(shift)
    _, grads = aer_values_and_grads(theta, shots, shift, seed=7 * shots)
    assert gradient_chi2_pvalue(grads, theta, shift, shots, dp1_closed(theta)) > ACCEPT
    error = grads - dp1_closed(theta)
    assert abs(error.mean() / error.std(ddof=1) * math.sqrt(len(error))) < 4, "mean gradient is biased"


@pytest.mark.parametrize("shots", [100, 1000])
def test_chapter_rule_without_one_over_two_sin_s_is_rejected(shots):
    """The chapter's gradient, f(θ+s) − f(θ−s), rebuilt from hqnn's own shots, fails the same test."""
    shift = math.pi / 2
    theta = grid(shift)
    _, grads = aer_values_and_grads(theta, shots, shift, seed=11 * shots)
    chapter_grads = grads * 2 * math.sin(shift)
    assert gradient_chi2_pvalue(chapter_grads, theta, shift, shots, dp1_closed(theta)) < REJECT


def test_shot_noise_shrinks_as_one_over_sqrt_shots():
    errors = {}
    for shots in (100, 10_000):
        theta = grid(0.0, copies=5)
        values, _ = aer_values_and_grads(theta, shots, math.pi / 2, seed=1)
        errors[shots] = np.std(values - p1_closed(theta))
    assert 7 < errors[100] / errors[10_000] < 13
