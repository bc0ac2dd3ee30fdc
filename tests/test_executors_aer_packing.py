"""Register packing in AerExecutor: c independent copies per experiment give the same statistics as c runs.

Seeded two-sample χ² tests (packed vs unpacked counts must not differ, p > 1e-3) and goodness-of-fit tests
on packed runs (closed form accepted, a planted wrong model rejected with p < 1e-6).
"""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error
from hqnn import AerExecutor, CircuitSpec, AerStatevectorExecutor, chapter_circuit
from hqnn.executors.aer import PACK_QUBITS
from hqnn.executors.aer_job import AER_SIMULATE
from hqnn.stats import fit_pvalue, two_sample_pvalue

from closed_forms import p1_closed
from outputs import executor_outputs

ACCEPT, REJECT, SHOTS = 1e-3, 1e-6, 100
THETA = np.repeat(np.linspace(-1.2, 1.2, 41), 25)  # P(1) in (0.03, 0.97): every binomial cell populated


def chapter_run(pack, seed, theta=THETA):
    executor = AerExecutor(chapter_circuit(), shots=SHOTS, seed=seed, pack=pack)
    return executor_outputs(executor, theta[:, None])[:, 0]


def test_packed_and_unpacked_agree_and_fit_closed_form():
    packed, unpacked = chapter_run(PACK_QUBITS, seed=1), chapter_run(1, seed=2)
    assert two_sample_pvalue(packed, unpacked, SHOTS) > ACCEPT
    assert fit_pvalue(packed, p1_closed(THETA), SHOTS) > ACCEPT
    assert fit_pvalue(packed, (1 + np.sin(THETA + 0.15)) / 2, SHOTS) < REJECT  # planted wrong model
    assert two_sample_pvalue(packed, chapter_run(1, seed=3, theta=THETA + 0.15), SHOTS) < REJECT


def test_auto_pack_fills_pack_qubits_in_one_job(count_calls):
    executor = AerExecutor(chapter_circuit(), shots=SHOTS, seed=0)
    assert executor.pack == PACK_QUBITS
    jobs = count_calls(executor.backend, AER_SIMULATE)
    rows = 3 * PACK_QUBITS + 1  # 4 experiments, the last one padded
    out = executor_outputs(executor, np.linspace(0, 1, rows)[:, None])
    assert out.shape == (rows, 1) and jobs.calls == 1
    ((_, _, config), _), = jobs.arguments
    (bound,) = config.parameterizations  # one circuit: (position in it, a value per experiment) per parameter
    assert {len(values) for _, values in bound} == {4} and len(bound) == PACK_QUBITS


def test_packing_off_with_noise_model_or_coupling_map_unless_asked():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["ry", "h"])
    noisy = AerSimulator(noise_model=noise)
    assert AerExecutor(chapter_circuit(), noisy, shots=SHOTS).pack == 1
    device = AerSimulator.from_backend(GenericBackendV2(2, noise_info=False, seed=0))  # coupling map, no noise
    assert AerExecutor(chapter_circuit(), device, shots=SHOTS).pack == 1
    assert AerExecutor(chapter_circuit(), noisy, shots=SHOTS, pack=4).pack == 4


@pytest.mark.parametrize("pack", [0, -1, 2.5, True])
def test_bad_pack_raises(pack):
    with pytest.raises(ValueError, match="pack"):
        AerExecutor(chapter_circuit(), shots=SHOTS, pack=pack)


def test_entangled_two_qubit_copies_keep_their_own_marginals():
    """Packing a circuit with a CX and two readouts: each copy's bits decode to its own row's P(1)."""
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)
    qc.rx(w, 1)
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w], qubits=[1, 0])
    rng = np.random.default_rng(5)
    angles = np.column_stack([rng.uniform(0.6, 2.5, 1000), rng.uniform(0.6, 2.5, 1000)])
    exact = executor_outputs(AerStatevectorExecutor(spec), angles)
    packed = executor_outputs(AerExecutor(spec, shots=SHOTS, seed=4, pack=3), angles)
    assert packed.shape == (1000, 2)
    for o in range(2):
        assert fit_pvalue(packed[:, o], exact[:, o], SHOTS) > ACCEPT
    assert fit_pvalue(packed[:, 0], exact[:, 1], SHOTS) < REJECT  # swapped readouts are rejected
