"""The shot emulator is statistically Aer (seeded χ² tests: p > 1e-3 to accept, planted wrong models must
give p < 1e-6); same seed, same output; the diagonal fast path it shares with ``analytic`` is exact to 1e-10.
"""

import math

import numpy as np
import pytest
import torch
from hqnn import AerExecutor, EmulatorExecutor, Hybrid, chapter_circuit
from hqnn.engine import DIAGONAL_MIN_ANGLES
from hqnn.stats import fit_pvalue, shift_rule_pvalue, two_sample_pvalue

from closed_forms import dp1_closed, p1_closed

ACCEPT, REJECT, SHOTS = 1e-3, 1e-6, 100
_GRID = np.linspace(0.4, 1.2, 21)
THETA = np.repeat(np.concatenate([-_GRID, _GRID]), 50)  # P(1) at θ and θ ± π/2 stays in (0.03, 0.97)


def layer_values_and_grads(theta, seed, shift=math.pi / 2):
    layer = Hybrid("emulator", SHOTS, shift, seed=seed)
    x = torch.tensor(theta[:, None], requires_grad=True)
    out = layer(x)
    out.sum().backward()
    return out.detach().numpy()[:, 0], x.grad.numpy()[:, 0]


@pytest.mark.parametrize("size", [64, len(THETA)], ids=["rows", "diagonal"])
def test_values_and_gradients_fit_closed_forms_and_reject_wrong_ones(size):
    assert (size >= DIAGONAL_MIN_ANGLES) == (size == len(THETA))
    theta = THETA[:: len(THETA) // size][:size] if size < len(THETA) else THETA
    values, grads = layer_values_and_grads(theta, seed=3)
    assert fit_pvalue(values, p1_closed(theta), SHOTS) > ACCEPT
    p_up, p_down = p1_closed(theta + math.pi / 2), p1_closed(theta - math.pi / 2)
    assert shift_rule_pvalue(grads, dp1_closed(theta), p_up, p_down, SHOTS, math.pi / 2) > ACCEPT
    if size == len(THETA):  # enough rows to reject the planted models
        assert fit_pvalue(values, (1 + np.sin(theta + 0.15)) / 2, SHOTS) < REJECT
        chapter_rule = 2 * grads  # the chapter's gradient, without 1/(2 sin s)
        assert shift_rule_pvalue(chapter_rule, dp1_closed(theta), p_up, p_down, SHOTS, math.pi / 2) < REJECT


def test_two_sample_against_aer_accepts_and_rejects_planted_model():
    rows = THETA[:, None]
    emulated = EmulatorExecutor(chapter_circuit(), SHOTS, seed=1).run(rows)[:, 0]
    aer = AerExecutor(chapter_circuit(), shots=SHOTS, seed=2).run(rows)[:, 0]
    assert two_sample_pvalue(emulated, aer, SHOTS) > ACCEPT
    wrong = EmulatorExecutor(chapter_circuit(), SHOTS, seed=1).run(rows + 0.15)[:, 0]  # planted wrong model
    assert two_sample_pvalue(wrong, aer, SHOTS) < REJECT


def test_diagonal_path_matches_aer_in_distribution():
    """Values from the fused kernel (no shifted rows) against Aer's values from full rows."""
    values, _ = layer_values_and_grads(THETA, seed=5)
    aer = AerExecutor(chapter_circuit(), shots=SHOTS, seed=6).run(THETA[:, None])[:, 0]
    assert two_sample_pvalue(values, aer, SHOTS) > ACCEPT


@pytest.mark.parametrize("size", [8, 4096])
def test_same_seed_same_output_other_seed_differs(size):
    theta = np.linspace(-1, 1, size)
    a, b, c = (layer_values_and_grads(theta, seed) for seed in (7, 7, 8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_estimates_are_multiples_of_one_over_shots():
    values, grads = layer_values_and_grads(THETA, seed=9)
    assert np.allclose(values * SHOTS, np.round(values * SHOTS))
    assert np.allclose(grads * 2 * SHOTS, np.round(grads * 2 * SHOTS))


@pytest.mark.parametrize("readout", ["p1", "z"])
@pytest.mark.parametrize("n_qubits", [1, 3])
def test_exact_diagonal_path_matches_closed_forms(readout, n_qubits):
    """The fast path the emulator shares with the analytic backend: exact to 1e-10 for large batches."""
    from hqnn import AnalyticExecutor

    executor = AnalyticExecutor(chapter_circuit(n_qubits, readout=readout))
    layer = Hybrid(executor, shift=0.7)
    theta = torch.linspace(-7, 7, DIAGONAL_MIN_ANGLES, dtype=torch.float64)[:, None].requires_grad_()
    out = layer(theta)
    out.sum().backward()
    t = theta.detach().numpy()
    scale, offset = (1.0, 0.0) if readout == "p1" else (-2.0, 1.0)
    np.testing.assert_allclose(out.detach().numpy(), np.repeat(offset + scale * p1_closed(t), n_qubits, 1), atol=1e-10)
    np.testing.assert_allclose(theta.grad.numpy(), n_qubits * scale * dp1_closed(t), atol=1e-10)
