"""Shot allocation inside one job: the emulator draws each row's own shot count, a SamplerV2 gets one PUB per
count (``(circuit, angles, shots)``), both pass χ² against exact probabilities per count; executors that take
one count per job refuse per-row shots with what to use instead."""

import numpy as np
import pytest
import torch
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from hqnn import Hybrid, angle_encoder, entangling_ansatz
from hqnn.circuits import CircuitSpec
from hqnn.executors import AerExecutor, EmulatorExecutor, SamplerExecutor, SimulatorExecutor, emulator
from hqnn.stats import fit_pvalue, grouped_fit_pvalue

MODEL = angle_encoder(2).then(entangling_ansatz(2, reps=1))
SPEC = CircuitSpec.from_circuit(MODEL.circuit, MODEL.inputs, MODEL.weights)


def p1(features):
    return SPEC.readout.outputs(features).numpy()


def _chunked_emulator(monkeypatch):
    monkeypatch.setattr(emulator, "CHUNK_AMPLITUDES", 7 * 2**SPEC.n_qubits)  # chunks of 7 rows: the shots' slices
    return EmulatorExecutor(SPEC, 100, seed=3)


@pytest.mark.parametrize(
    "make",
    [
        lambda monkeypatch: EmulatorExecutor(SPEC, 100, seed=3),
        _chunked_emulator,
        lambda monkeypatch: SamplerExecutor(SPEC, AerSamplerV2(), 100, seed=3),
    ],
    ids=["emulator", "emulator in chunks", "sampler"],
)
def test_per_row_shots_in_one_job_pass_chi2_per_count(make, monkeypatch):
    executor = make(monkeypatch)
    rows = 240
    angles = torch.from_numpy(np.random.default_rng(0).uniform(-np.pi, np.pi, (rows, SPEC.n_angles)))
    shots = np.tile(np.array([1000, 7, 1]), rows // 3)
    if isinstance(executor, SamplerExecutor):
        calls = []
        run = executor.sampler.run
        monkeypatch.setattr(executor.sampler, "run", lambda pubs, **kw: calls.append([p[2] for p in pubs]) or run(pubs, **kw))
    estimates = p1(executor.run(angles, shots=shots))
    exact = p1(SimulatorExecutor(SPEC).run(angles))
    if isinstance(executor, SamplerExecutor):
        assert calls == [[1, 7, 1000]]  # one job: one PUB per shot count of the one setting
    for n in (1000, 7, 1):
        rows_n = shots == n
        assert np.allclose(estimates[rows_n] * n, np.round(estimates[rows_n] * n))  # frequencies of n shots
        fit = fit_pvalue if n >= 100 else grouped_fit_pvalue  # per-row χ² terms are not χ²₁ at a few shots
        assert fit(estimates[rows_n], exact[rows_n], n) > 1e-3
        assert fit(estimates[rows_n], 1 - exact[rows_n], n) < 1e-6  # planted wrong model


def test_one_count_per_job_executors_refuse_per_row_shots():
    with pytest.raises(ValueError, match="one shot count per job.*emulator or a Qiskit SamplerV2"):
        AerExecutor(SPEC, shots=10).check_row_shots(np.array([1, 2]), 2)
    with pytest.raises(ValueError, match=r"per-row shots must be \(2,\) positive integers"):
        EmulatorExecutor(SPEC, 10).run(torch.zeros(2, SPEC.n_angles), shots=np.array([1, 0]))


def test_sampled_shift_on_a_sampler_allocates_shots_in_one_job(monkeypatch):
    sampler = AerSamplerV2()
    calls = []
    run = sampler.run
    monkeypatch.setattr(sampler, "run", lambda pubs, **kw: calls.append([p[2] for p in pubs]) or run(pubs, **kw))
    layer = Hybrid(sampler, 50, **MODEL.hybrid_kwargs(), seed=1, diff_method="sampled-shift",
                   diff_options={"k": 2, "shift_shots": 4})  # fmt: skip
    layer(torch.rand(3, 2, dtype=torch.float64, requires_grad=True)).sum().backward()
    assert calls == [[4, 50]]
    assert layer.executions == layer.cost(3).executions == 3 * 50 + 3 * (2 * 2 + 2 * 2) * 4
