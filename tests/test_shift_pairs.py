"""The shift rule's ±s states from half as many: U(γ ± s) ∝ cos(s/2)·U(γ) ± κ·sin(s/2)·U(γ + π) for Pauli rotations
(κ = 1) and phase gates (κ = −i), so the emulator simulates each shifted angle once, at γ + π
(:meth:`hqnn.simulator.TorchStatevector.shift_distributions`). Checked against the plan's own rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from hqnn import Hybrid, ShiftPlan
from hqnn.simulator import _ShiftLayout


def mixed_circuit():
    """Inputs and weights through RX, RY, RZ, RZZ, RXX, a phase gate, a controlled rotation (decomposed) and a
    shared expression, on 3 qubits."""
    x, w = ParameterVector("x", 2), ParameterVector("w", 6)
    qc = QuantumCircuit(3)
    qc.ry(x[0], 0)
    qc.rx(2 * x[1] + w[0], 1)
    qc.h(2)
    qc.rzz(w[1], 0, 1)
    qc.p(w[2], 2)
    qc.cry(w[3], 2, 0)
    qc.rxx(w[4] - x[0] / 2, 1, 2)
    qc.cx(0, 2)
    qc.rz(w[5], 0)
    qc.ry(x[1] * w[5], 2)
    return {"circuit": qc, "inputs": x, "weights": w}


READOUTS = [{}, {"observables": ["XII", "IYZ", "ZZX", "YIY"]}, {"readout": "probabilities"}]


def simulator_and_angles(readout: dict, dtype=torch.float64, batch=5):
    layer = Hybrid("emulator", 100, **mixed_circuit(), **readout, seed=0)
    simulator = layer.strategy.executor.simulator
    gamma = torch.rand(batch, layer.spec.n_angles, dtype=dtype, generator=torch.Generator().manual_seed(3)) * 8 - 4
    return layer, simulator, gamma


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("shift", [math.pi / 2, 0.7])
def test_shift_distributions_equal_the_plans_rows(readout, shift):
    layer, simulator, gamma = simulator_and_angles(readout)
    k = layer.spec.n_angles
    kinds = {complex(v) for v in simulator.pairs.values()}
    assert len(simulator.pairs) == k and kinds == {1, -1j}  # every column paired; a phase gate among them
    plan = ShiftPlan(k, shift)
    for shifted in (np.arange(k), np.array([0, 2, k - 1])):
        expected = simulator.distributions(plan.rows(gamma, shifted), layer.spec.readout)
        got = simulator.shift_distributions(gamma, shifted, shift, layer.spec.readout)
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_columns_without_a_pair_are_simulated_at_plus_and_minus_s():
    layer, simulator, gamma = simulator_and_angles(READOUTS[1])
    k, shift = layer.spec.n_angles, 0.9
    simulator.pairs = {c: v for c, v in simulator.pairs.items() if c % 3}  # every third column direct
    shifted = np.arange(k)
    expected = simulator.distributions(ShiftPlan(k, shift).rows(gamma, shifted), layer.spec.readout)
    got = simulator.shift_distributions(gamma, shifted, shift, layer.spec.readout)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_torch_probabilities_equal_the_kernels():
    pairs = {0: 1.0, 2: -1j, 3: 1.0}
    layout = _ShiftLayout.of(pairs, np.array([0, 1, 2, 3]), 0.8)
    g = torch.Generator().manual_seed(1)
    states = torch.randn(1 + len(layout.columns), 7, 16, dtype=torch.complex128, generator=g)
    torch.testing.assert_close(layout.torch_probabilities(states), layout.probabilities(states), atol=1e-14, rtol=0)


def test_float32_angles_give_float32_distributions():
    layer, simulator, gamma = simulator_and_angles(READOUTS[1], torch.float32)
    shifted = np.arange(layer.spec.n_angles)
    got = simulator.shift_distributions(gamma, shifted, math.pi / 2, layer.spec.readout)
    rows = ShiftPlan(layer.spec.n_angles).rows(gamma.double(), shifted)
    for a, b in zip(got, simulator.distributions(rows, layer.spec.readout)):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, atol=1e-5, rtol=0)


def test_emulator_shift_rows_are_shot_estimates_of_the_exact_features():
    """z = (estimate − exact) / σ for every feature of every plan row; σ² = (1 − f²)/shots for parities."""
    shots = 20_000
    layer = Hybrid("emulator", shots, **mixed_circuit(), seed=11)
    executor, k = layer.strategy.executor, layer.spec.n_angles
    gamma = torch.rand(4, k, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 6 - 3
    shifted = np.arange(k)
    estimates = executor.run_shift_plan(gamma, shifted, math.pi / 2)
    exact = executor.simulator.features(ShiftPlan(k).rows(gamma, shifted), layer.spec.readout)
    sigma = ((1 - exact**2).clamp_min(1e-12) / shots).sqrt()
    z = ((estimates - exact) / sigma).abs()
    assert estimates.shape == exact.shape and z.max() < 5.5, float(z.max())
    assert z.mean() < 1.0  # |z| of a standard normal has mean 0.80


def test_the_emulator_layer_takes_the_paired_path_and_stays_seeded():
    x = torch.rand(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    results = []
    for _ in range(2):
        layer = Hybrid("emulator", 500, **mixed_circuit(), seed=5)
        calls = []
        executor = layer.strategy.executor
        run_shift_plan = executor.run_shift_plan
        executor.run_shift_plan = lambda *a: calls.append(1) or run_shift_plan(*a)
        out = layer(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert calls == [1]
        results.append((out, grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_a_job_limit_keeps_the_plans_rows_in_several_jobs():
    layer = Hybrid("emulator", 100, **mixed_circuit(), seed=5, max_executions=100 * 40)
    executor = layer.strategy.executor
    executor.run_shift_plan = lambda *a: pytest.fail("one job cannot hold the rows")
    x = torch.rand(6, 2, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    assert layer.strategy.ledger.total.jobs > 1
