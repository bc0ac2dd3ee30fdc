"""Aer executors: counts decoding into features, one job for every setting, the exact statevector path."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator

from hqnn import AerExecutor, CircuitSpec, AerStatevectorExecutor, chapter_circuit
from hqnn.executors.aer import counts_features
from hqnn.executors.aer_job import (
    AER_SIMULATE, InlineJob, bound_columns, bound_results, run_bound, runs_inline, submit_bound,
)
from hqnn.readout import observables, per_qubit, probabilities
from hqnn.stats import fit_pvalue

from closed_forms import p1_closed
from outputs import executor_outputs


def test_counts_decode_into_parities_per_bit():
    counts = [{"0x0": 6, "0x3": 4}, {"0x1": 10}, {"0x2": 5, "0x0": 5}]
    parity = counts_features(counts, per_qubit([0, 1]).settings[0], copies=1, shots=10)
    np.testing.assert_allclose((1 - parity) / 2, [[0.4, 0.4], [1.0, 0.0], [0.0, 0.5]])


def test_counts_decode_into_outcome_frequencies_and_packed_copies():
    counts = [{"0x0": 6, "0xd": 4}]  # two copies of 2 bits: copy 0 sees 01 (=1) 4 times, copy 1 sees 11 (=3)
    frequencies = counts_features(counts, probabilities([0, 1]).settings[0], copies=2, shots=10)
    np.testing.assert_allclose(frequencies, [[0.6, 0.4, 0, 0], [0.6, 0, 0, 0.4]])


@pytest.mark.parametrize("readout", [per_qubit([0, 2, 1]), probabilities([1, 0, 2])], ids=["parities", "frequencies"])
def test_packed_counts_table_equals_per_outcome_sums(monkeypatch, readout):
    """The packed table kernel against the per-outcome sums (the path of settings too wide for a table), over
    random counts of 4 experiments of 3 packed copies of 3 bits."""
    rng = np.random.default_rng(3)
    counts = []
    for _ in range(4):
        keys = rng.choice(2**9, size=rng.integers(1, 12), replace=False)
        hits = rng.multinomial(50, np.ones(len(keys)) / len(keys))
        counts.append({hex(int(k)): int(h) for k, h in zip(keys, hits) if h})
    setting = readout.settings[0]
    dense = counts_features(counts, setting, copies=3, shots=50)
    monkeypatch.setattr(type(setting), "dense", property(lambda self: False))
    if setting.masks is not None:
        np.testing.assert_allclose(dense, counts_features(counts, setting, copies=3, shots=50), atol=1e-15)
    rows = np.zeros((12, 8))
    for e, experiment in enumerate(counts):
        for key, hits in experiment.items():
            for c in range(3):
                rows[3 * e + c, (int(key, 16) >> 3 * c) & 7] += hits / 50
    expected = rows if setting.masks is None else rows @ setting.signs()
    np.testing.assert_allclose(dense, expected, atol=1e-15)


def test_counts_with_wrong_total_rejected():
    with pytest.raises(RuntimeError, match="shots per experiment"):
        counts_features([{"0x0": 3}], per_qubit([0]).settings[0], 1, 10)


def test_aer_executor_one_run_for_all_rows_and_settings(count_calls):
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)
    qc.rx(w, 1)
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w], observables=["XZ", "ZZ", "YI"])
    assert len(spec.readout.settings) == 3
    executor = AerExecutor(spec, shots=200, seed=0)
    jobs = count_calls(executor.backend, AER_SIMULATE)  # every Aer job runs it once, however it runs
    angles = np.linspace(-1, 1, 40).reshape(20, 2)
    out = executor_outputs(executor, angles)
    assert out.shape == (20, 3) and jobs.calls == 1
    exact = executor_outputs(AerStatevectorExecutor(spec), angles)
    # ⟨P⟩ = 1 − 2·P(parity 1): the shot estimate of P(parity 1) is Binomial(200, p)/200 in every row and column
    assert fit_pvalue((1 - out) / 2, (1 - exact) / 2, shots=200) > 1e-4


def test_statevector_matches_closed_form_and_entangled_state():
    spec = chapter_circuit(2)
    angles = np.array([[0.3, -1.2], [2.0, 0.1]])
    np.testing.assert_allclose(executor_outputs(AerStatevectorExecutor(spec), angles), p1_closed(angles), atol=1e-12)

    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)  # Bell-like: both qubits read 1 with probability sin²(x/2)
    bell = CircuitSpec.from_circuit(qc, inputs=[x], readout="probabilities")
    (joint,) = AerStatevectorExecutor(bell).distributions(np.array([[1.0]]))
    p = np.sin(0.5) ** 2
    np.testing.assert_allclose(joint, [[1 - p, 0, 0, p]], atol=1e-12)


def test_parameter_removed_by_transpiler_is_tolerated():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.rz(w, 0)  # diagonal right before measurement: may be optimized away
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])
    p1 = executor_outputs(AerExecutor(spec, shots=100, seed=1), np.array([[np.pi / 2, 0.3]] * 20))
    assert p1.shape == (20, 1) and fit_pvalue(p1, np.full((20, 1), 0.5), shots=100) > 1e-4


def test_circuit_without_parameters_left_runs_one_experiment_per_row():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.h(0)
    qc.rz(x, 0)  # in the Z basis after the H, P(1) = 1/2 whatever x: the transpiler may drop rz
    spec = CircuitSpec.from_circuit(qc, inputs=[x])
    out = executor_outputs(AerExecutor(spec, shots=1000, seed=2, pack=1), np.zeros((5, 1)))
    assert out.shape == (5, 1) and fit_pvalue(out, np.full((5, 1), 0.5), shots=1000) > 1e-4


def test_observables_readout_values_on_aer_shots():
    spec = CircuitSpec.from_circuit(QuantumCircuit(2), inputs=[], observables=["XX", "ZI", "IZ"])
    out = executor_outputs(AerExecutor(spec, shots=100, seed=3), np.zeros((3, 0)))
    assert out.shape == (3, 3) and np.all(out[:, 1:] == 1.0)  # |00⟩: Z's are exactly +1
    assert observables(["ZZ"], 2).n_outputs == 1


def _bound_job(backend=None):
    """The chapter's circuit transpiled for ``backend`` with its column, and 5 rows of angles."""
    from qiskit import transpile

    spec = chapter_circuit()
    circuit = transpile(spec.measured(spec.readout.settings[0]), backend or AerSimulator(), seed_transpiler=0)
    return circuit, [(circuit, bound_columns(circuit, spec.angles))], np.linspace(-2, 2, 5)[:, None]


def _noisy() -> AerSimulator:
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["ry", "h"])
    return AerSimulator(noise_model=noise)


def _device() -> AerSimulator:
    from qiskit.providers.fake_provider import GenericBackendV2

    return AerSimulator.from_backend(GenericBackendV2(2, seed=0))


@pytest.mark.parametrize("make", [AerSimulator, _noisy, _device], ids=["ideal", "noise-model", "device"])
def test_aer_simulator_jobs_run_inline_with_the_counts_of_backend_run(make, count_calls):
    backend = make()
    _, jobs, angles = _bound_job(backend)
    assert runs_inline(backend)
    runs = count_calls(backend, "run")
    inline = run_bound(backend, jobs, angles, shots=100, seed_simulator=11)
    assert runs.calls == 0  # no thread hand-off
    circuit, columns = jobs[0]
    binds = [{p: angles[:, k].tolist() for k, p in columns}]
    direct = backend.run([circuit], parameter_binds=binds, shots=100, seed_simulator=11).result().results
    assert [r.data.counts for r in inline] == [r.data.counts for r in direct]


def test_a_backend_that_overrides_run_keeps_its_run(count_calls):
    class Recorded(AerSimulator):
        def run(self, circuits, **options):
            return super().run(circuits, **options)

    _, jobs, angles = _bound_job()
    backend = Recorded()
    assert not runs_inline(backend) and not runs_inline(object())
    runs = count_calls(backend, "run")
    assert len(run_bound(backend, jobs, angles, shots=10, seed_simulator=1)) == 5 and runs.calls == 1


def test_a_failed_inline_job_raises_aer_s_message_at_result():
    _, jobs, angles = _bound_job()
    job = submit_bound(AerSimulator(method="stabilizer"), jobs, angles, shots=10)  # RY(θ) is not Clifford
    assert isinstance(job, InlineJob) and job.job_id().startswith("aer-inline-")
    with pytest.raises(RuntimeError, match="Aer job failed.*stabilizer"):
        bound_results(job)
