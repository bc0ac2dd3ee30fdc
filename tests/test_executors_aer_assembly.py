"""Aer jobs that reuse their assembled circuits give Aer's own job results, count for count, and reassemble
wherever reuse would not be the same job."""

import copy
import pickle
import threading

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

import hqnn.executors.aer_assembly as aer_assembly
from hqnn import AerExecutor, AerStatevectorExecutor, CircuitSpec, Hybrid, chapter_circuit
from hqnn.executors.aer_assembly import AssembledJobs, reuses_assembly
from hqnn.executors.aer_job import AER_EXECUTE, InlineJob, bound_results

from sample_circuits import entangling_circuit


def _noisy() -> AerSimulator:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["ry", "h", "rz"])
    return AerSimulator(noise_model=noise)


def _device() -> AerSimulator:
    from qiskit.providers.fake_provider import GenericBackendV2

    return AerSimulator.from_backend(GenericBackendV2(3, seed=0))


BACKENDS = {"ideal": AerSimulator, "noise-model": _noisy, "device": _device}


def _idle_qubit_circuit(backend) -> tuple[QuantumCircuit, list]:
    """3 qubits, the middle one idle (Aer truncates it away), an expression of two parameters, 2 measured bits."""
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3, 2)
    qc.ry(a, 0)
    qc.rz(a * b + 0.3, 2)
    qc.h(2)
    qc.cx(0, 2)
    qc.measure([0, 2], [0, 1])
    circuit = transpile(qc, backend, seed_transpiler=0)
    return circuit, [p for p in (a, b) if p in set(circuit.parameters)]


def _data(result) -> list[dict]:
    return [r.data.to_dict() for r in result.results]


def _both(backend, jobs, circuits, binds, options):
    """(reused, Aer's own) results of one job."""
    reused = jobs.run(circuits, binds, dict(options), "reused")
    own = getattr(backend, AER_EXECUTE)(circuits, binds, dict(options), "own")
    return reused, own


@pytest.mark.parametrize("make", BACKENDS.values(), ids=BACKENDS.keys())
def test_reused_assembly_gives_aer_s_own_counts_over_random_jobs(make, count_calls):
    backend = make()
    assembled = count_calls(aer_assembly, "assemble_circuits")
    executor = AerExecutor(chapter_circuit(), backend, shots=100, pack=3 if make is AerSimulator else 1)
    packed, packed_columns = executor._template(0, executor.pack)
    idle, idle_parameters = _idle_qubit_circuit(backend)
    jobs, rng = AssembledJobs(backend), np.random.default_rng(5)
    for trial in range(40):
        experiments = int(rng.integers(1, 9))
        binds = [
            {p: rng.uniform(-4, 4, experiments).tolist() for _, p in packed_columns},
            {p: rng.uniform(-4, 4, experiments).tolist() for p in idle_parameters},
        ]
        options = dict(
            shots=int(rng.integers(1, 3000)), seed_simulator=int(rng.integers(2**31)),
            runtime_parameter_bind_enable=bool(trial % 4), max_parallel_threads=1,
        )
        reused, own = _both(backend, jobs, [packed, idle], binds, options)
        assert reused.success and _data(reused) == _data(own)
        assert [r.header for r in reused.results] == [r.header for r in own.results]
    assert assembled.calls == 1  # the reused list, once (Aer's own jobs assemble through their own module)


def test_reused_exact_probabilities_equal_aer_s_own(count_calls):
    """The exact executor's save_probabilities circuits, bound without runtime binding (Aer copies them per row)."""
    circuit, inputs, weights = entangling_circuit()
    executor = AerStatevectorExecutor(CircuitSpec.from_circuit(circuit, inputs=inputs, weights=weights))
    backend, circuits = executor.backend, [circuit for circuit, _ in executor._jobs]
    jobs, rng = AssembledJobs(backend), np.random.default_rng(1)
    for rows in (1, 4, 9):
        binds = [{p: rng.uniform(-3, 3, rows).tolist() for _, p in columns} for _, columns in executor._jobs]
        reused, own = _both(backend, jobs, circuits, binds, dict(shots=1, seed_simulator=rows))
        assert len(reused.results) == len(own.results) == rows * len(circuits)
        for a, b in zip(reused.results, own.results):
            np.testing.assert_array_equal(np.asarray(a.data.probabilities), np.asarray(b.data.probabilities))
    assembled = count_calls(aer_assembly, "assemble_circuits")
    executor._assembled = jobs
    executor.distributions(np.zeros((2, executor.spec.n_angles)))
    assert assembled.calls == 0  # the executor's jobs reuse the list assembled above


def test_executor_jobs_assemble_each_template_once(count_calls):
    assembled = count_calls(aer_assembly, "assemble_circuits")
    executor = AerExecutor(chapter_circuit(), shots=50, seed=0)
    for rows in (3, 3, 5, 6, 12, 3):
        executor.run(torch.linspace(-1, 1, rows)[:, None])
    assert assembled.calls == 3  # the templates of 3, 5 and 6 copies (min(rows, pack = 6))


def test_circuits_the_compile_step_rewrites_are_assembled_afresh(count_calls):
    """A quantum-error instruction in the circuit: Aer's compile step moves it into a noise model and hands on a
    new circuit, so nothing is kept."""
    qc = QuantumCircuit(1, 1)
    theta = Parameter("θ")
    qc.ry(theta, 0)
    qc.append(depolarizing_error(0.2, 1), [0])
    qc.measure(0, 0)
    backend = AerSimulator()
    jobs = AssembledJobs(backend)
    assembled = count_calls(aer_assembly, "assemble_circuits")
    for seed in range(3):
        reused = jobs.run([qc], [{theta: [0.4, 1.1]}], dict(shots=500, seed_simulator=seed), "j")
        own = getattr(backend, AER_EXECUTE)([qc], [{theta: [0.4, 1.1]}], dict(shots=500, seed_simulator=seed), "j")
        assert _data(reused) == _data(own)
    assert assembled.calls == 3 and not jobs._entries  # one per job


def test_a_circuit_twice_in_one_job_is_assembled_afresh(count_calls):
    circuit, _ = _idle_qubit_circuit(AerSimulator())
    bound = circuit.assign_parameters([0.3, 0.9])
    backend = AerSimulator()
    jobs = AssembledJobs(backend)
    assembled = count_calls(aer_assembly, "assemble_circuits")
    reused, own = _both(backend, jobs, [bound, bound], [], dict(shots=200, seed_simulator=4))
    assert _data(reused) == _data(own) and assembled.calls == 1 and not jobs._entries


def test_a_busy_entry_lets_another_thread_assemble_its_own(count_calls):
    backend = AerSimulator()
    circuit, parameters = _idle_qubit_circuit(backend)
    binds = [{p: [0.2, -0.7] for p in parameters}]
    options = dict(shots=300, seed_simulator=8)
    jobs = AssembledJobs(backend)
    first = jobs.run([circuit], binds, dict(options), "j")
    (entry,) = jobs._entries.values()
    assembled = count_calls(aer_assembly, "assemble_circuits")
    with entry.lock:  # another thread's job is running on the kept circuits
        busy = jobs.run([circuit], binds, dict(options), "j")
    assert assembled.calls == 1 and _data(busy) == _data(first)


def test_jobs_from_several_threads_at_once_each_give_aer_s_own_counts():
    backend = AerSimulator()
    circuit, parameters = _idle_qubit_circuit(backend)
    jobs = AssembledJobs(backend)
    cases = [([{p: [0.1 * k, -0.3 * k] for p in parameters}], dict(shots=400, seed_simulator=k)) for k in range(24)]
    found: dict[int, list] = {}

    def work(indices):
        for k in indices:
            binds, options = cases[k]
            found[k] = _data(jobs.run([circuit], binds, dict(options), "j"))

    threads = [threading.Thread(target=work, args=(range(i, 24, 3),)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, (binds, options) in enumerate(cases):
        assert found[k] == _data(getattr(backend, AER_EXECUTE)([circuit], binds, dict(options), "j"))


def test_a_device_whose_basis_changes_is_reassembled(count_calls):
    backend = _device()
    circuit, parameters = _idle_qubit_circuit(backend)
    binds, options = [{p: [0.5] for p in parameters}], dict(shots=100, seed_simulator=1)
    jobs = AssembledJobs(backend)
    jobs.run([circuit], binds, dict(options), "j")
    assembled = count_calls(aer_assembly, "assemble_circuits")
    jobs.run([circuit], binds, dict(options), "j")
    assert assembled.calls == 0
    backend.set_options(basis_gates=backend.configuration().basis_gates + ["rzz"])
    reused, own = _both(backend, jobs, [circuit], binds, options)
    assert assembled.calls == 1 and _data(reused) == _data(own)


def test_a_failed_reused_job_raises_aer_s_message_at_result():
    backend = AerSimulator(method="stabilizer")  # RY(θ) is not Clifford
    circuit, parameters = _idle_qubit_circuit(AerSimulator())
    job = InlineJob(backend, [circuit], [{p: [0.3] for p in parameters}], dict(shots=10), AssembledJobs(backend))
    with pytest.raises(RuntimeError, match="Aer job failed.*stabilizer"):
        bound_results(job)


def test_only_aer_backends_with_every_step_reuse_assemblies():
    class Older(AerSimulator):
        _convert_binds = None  # an Aer without this step

    assert reuses_assembly(AerSimulator()) and reuses_assembly(_device())
    assert not reuses_assembly(Older()) and not reuses_assembly(object())
    assert AerExecutor(chapter_circuit(), Older(), shots=10)._assembled is None


@pytest.mark.parametrize("shots", [100, None], ids=["shots", "exact"])
def test_a_layer_that_has_run_copies_and_pickles_and_its_copies_run_alike(shots):
    layer = Hybrid("aer", shots, seed=3)
    x = torch.tensor([[0.3], [1.2]], dtype=torch.float64)
    layer(x)  # its templates are assembled now
    copies = [copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))]
    expected = layer(x)
    for twin in copies:
        assert not twin.strategy.executor._assembled._entries
        assert torch.equal(twin(x), expected)  # the same seeded stream, assembled afresh
