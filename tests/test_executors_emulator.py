"""The shot emulator is statistically Aer (seeded χ² tests: p > 1e-3 to accept, planted wrong models must
give p < 1e-6), through both of its strategies (closed-form draws, shift-rule rows); same seed, same output."""

import math

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import AerExecutor, CircuitSpec, EmulatorExecutor, Hybrid, AerStatevectorExecutor, chapter_circuit
from hqnn.executors import emulator
from hqnn.stats import fit_pvalue, shift_rule_pvalue, two_sample_pvalue

from closed_forms import dp1_closed, p1_closed
from outputs import executor_outputs

ACCEPT, REJECT, SHOTS = 1e-3, 1e-6, 100
_GRID = np.linspace(0.4, 1.2, 21)
THETA = np.repeat(np.concatenate([-_GRID, _GRID]), 50)  # P(1) at θ and θ ± π/2 stays in (0.03, 0.97)
DIFF_METHODS = ["closed-form", "shift"]


def layer_values_and_grads(theta, seed, diff_method="closed-form", shift=math.pi / 2):
    layer = Hybrid("emulator", SHOTS, shift, seed=seed, diff_method=diff_method)
    x = torch.tensor(theta[:, None], requires_grad=True)
    out = layer(x)
    out.sum().backward()
    return out.detach().numpy()[:, 0], x.grad.numpy()[:, 0]


@pytest.mark.parametrize("diff_method", DIFF_METHODS)
def test_values_and_gradients_fit_closed_forms_and_reject_wrong_ones(diff_method):
    values, grads = layer_values_and_grads(THETA, seed=3, diff_method=diff_method)
    assert fit_pvalue(values, p1_closed(THETA), SHOTS) > ACCEPT
    p_up, p_down = p1_closed(THETA + math.pi / 2), p1_closed(THETA - math.pi / 2)
    assert shift_rule_pvalue(grads, dp1_closed(THETA), p_up, p_down, SHOTS, math.pi / 2) > ACCEPT
    assert fit_pvalue(values, (1 + np.sin(THETA + 0.15)) / 2, SHOTS) < REJECT  # planted wrong model
    chapter_rule = 2 * grads  # the chapter's gradient, without 1/(2 sin s)
    assert shift_rule_pvalue(chapter_rule, dp1_closed(THETA), p_up, p_down, SHOTS, math.pi / 2) < REJECT


def test_two_sample_against_aer_accepts_and_rejects_planted_model():
    rows = THETA[:, None]
    emulated = executor_outputs(EmulatorExecutor(chapter_circuit(), SHOTS, seed=1), rows)[:, 0]
    aer = executor_outputs(AerExecutor(chapter_circuit(), shots=SHOTS, seed=2), rows)[:, 0]
    assert two_sample_pvalue(emulated, aer, SHOTS) > ACCEPT
    wrong = executor_outputs(EmulatorExecutor(chapter_circuit(), SHOTS, seed=1), rows + 0.15)[:, 0]
    assert two_sample_pvalue(wrong, aer, SHOTS) < REJECT


def test_closed_form_draws_match_aer_in_distribution():
    values, _ = layer_values_and_grads(THETA, seed=5)
    aer = executor_outputs(AerExecutor(chapter_circuit(), shots=SHOTS, seed=6), THETA[:, None])[:, 0]
    assert two_sample_pvalue(values, aer, SHOTS) > ACCEPT


def entangled_spec(**readout) -> CircuitSpec:
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(3)
    qc.ry(x, 0)
    qc.cx(0, 1)
    qc.rx(w, 1)
    qc.cry(x + w, 1, 2)
    return CircuitSpec.from_circuit(qc, inputs=[x], weights=[w], **readout)


@pytest.mark.parametrize("chunk_rows", [None, 16], ids=["one chunk", "chunks of 16 rows"])
@pytest.mark.parametrize("readout", [{"qubits": [2, 0, 1]}, {"observables": ["ZZI", "XIY", "IYX"]}])
def test_entangled_estimates_fit_exact_values(readout, chunk_rows, monkeypatch):
    spec = entangled_spec(**readout)
    if chunk_rows:
        monkeypatch.setattr(emulator, "CHUNK_AMPLITUDES", chunk_rows * 2**spec.n_qubits)
    rng = np.random.default_rng(4)
    angles = rng.uniform(0.3, 2.8, (2000, spec.n_angles))
    exact = executor_outputs(AerStatevectorExecutor(spec), angles)
    shots = executor_outputs(EmulatorExecutor(spec, SHOTS, seed=8), angles)
    to_p = (lambda v: v) if "qubits" in readout else (lambda v: (1 - v) / 2)  # a parity is 1 − 2·P(odd)
    ok = (to_p(exact) > 0.02) & (to_p(exact) < 0.98)
    for o in range(spec.n_outputs):
        keep = ok[:, o]
        assert fit_pvalue(to_p(shots[keep, o]), to_p(exact[keep, o]), SHOTS) > ACCEPT
    planted = np.roll(exact, 1, axis=1)  # outputs swapped
    keep = ok[:, 0] & ok[:, 1]
    assert fit_pvalue(to_p(shots[keep, 0]), to_p(planted[keep, 0]), SHOTS) < REJECT


@pytest.mark.parametrize("diff_method", DIFF_METHODS)
@pytest.mark.parametrize("size", [8, 4096])
def test_same_seed_same_output_other_seed_differs(size, diff_method):
    theta = np.linspace(-1, 1, size)
    a, b, c = (layer_values_and_grads(theta, seed, diff_method) for seed in (7, 7, 8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("diff_method", DIFF_METHODS)
def test_estimates_are_multiples_of_one_over_shots(diff_method):
    values, grads = layer_values_and_grads(THETA, seed=9, diff_method=diff_method)
    assert np.allclose(values * SHOTS, np.round(values * SHOTS))
    assert np.allclose(grads * 2 * SHOTS, np.round(grads * 2 * SHOTS))


def test_empty_batch_gives_empty_features():
    spec = entangled_spec(qubits=[2, 0])
    features = EmulatorExecutor(spec, SHOTS, seed=1).run(torch.zeros(0, spec.n_angles, dtype=torch.float64))
    assert features.shape == (0, spec.readout.n_features)
