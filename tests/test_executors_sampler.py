"""Any BaseSamplerV2: one job per forward+backward, estimates that pass χ² against exact probabilities."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2, BaseSamplerV2
from qiskit.primitives.containers import BitArray
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from hqnn import AerExecutor, Hybrid, SamplerExecutor, AerStatevectorExecutor, reuploading
from hqnn.circuits import CircuitSpec
from hqnn.executors import device_simulator
from hqnn.executors.aer_exact import apply_confusion, readout_confusion
from hqnn.executors.sampler import parameter_columns, samples_features
from hqnn.readout import per_qubit
from hqnn.stats import fit_pvalue

from outputs import executor_outputs

fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider", reason="pip install hqnn[devices]")

SHOTS = 4000
MODEL = reuploading(2, layers=2, reps=1)


def spec() -> CircuitSpec:
    return CircuitSpec.from_circuit(MODEL.circuit, MODEL.inputs, MODEL.weights)


def random_angles(rows: int, spec: CircuitSpec, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, (rows, spec.n_angles))


def pubs_per_job(recorder) -> list[int]:
    """The number of PUBs of each recorded ``sampler.run`` call."""
    return [len(args[0]) for args, _ in recorder.arguments]


def exact_isa_p1(executor: SamplerExecutor, angles: np.ndarray, noisy: AerSimulator | None) -> np.ndarray:
    """Exact P(1) of the executor's transpiled (ISA) circuit on ``noisy`` (density matrix + readout errors)."""
    isa = executor.circuits[0]
    physical = [0] * executor.spec.n_outputs
    for inst in isa.data:
        if inst.operation.name == "measure":
            physical[isa.find_bit(inst.clbits[0]).registers[0][1]] = isa.find_bit(inst.qubits[0]).index
    circuit = isa.remove_final_measurements(inplace=False)
    circuit.save_probabilities(physical)
    simulator = noisy or AerSimulator(method="density_matrix")
    column = {a: k for k, a in enumerate(executor.spec.angles)}
    binds = [{p: angles[:, column[p]].tolist() for p in circuit.parameters}]
    result = simulator.run(circuit, parameter_binds=binds, shots=1, method="density_matrix").result()
    joint = np.array([r.data.probabilities for r in result.results])
    confusion = readout_confusion(noisy.options.noise_model if noisy else None, physical)
    joint = joint if confusion is None else apply_confusion(joint, confusion)
    bits = (np.arange(joint.shape[1])[:, None] >> np.arange(len(physical))) & 1
    return joint @ bits  # P(1) of each readout bit


def test_bitarray_decoding_matches_bits_beyond_one_byte():
    rng = np.random.default_rng(1)
    samples = rng.random((3, 50, 11)) < rng.random((3, 1, 11))  # (rows, shots, bits), bit i = clbit i
    bits = BitArray.from_bool_array(samples, order="little")
    setting = per_qubit(range(11)).settings[0]
    parity = samples_features(bits.array, setting, 3, 50)
    np.testing.assert_allclose((1 - parity) / 2, samples.mean(axis=1), atol=1e-15)
    with pytest.raises(RuntimeError, match="expected"):
        samples_features(bits.array, setting, 3, 60)


def test_pub_columns_follow_circuit_parameters_by_identity():
    b, a, c = Parameter("b"), Parameter("a"), Parameter("c")
    circuit = QuantumCircuit(1)
    circuit.rx(a, 0)
    circuit.ry(b, 0)  # spec order (b, a, c); PUB order sorted by name (a, b); c optimized away
    np.testing.assert_array_equal(parameter_columns(circuit, (b, a, c)), [1, 0])


def test_aer_sampler_one_job_per_forward_and_backward(count_calls):
    sampler = AerSamplerV2()
    runs = count_calls(sampler, "run")
    layer = Hybrid(sampler, 200, **MODEL.hybrid_kwargs(), seed=5)
    assert isinstance(layer.strategy.executor, SamplerExecutor)
    x = torch.rand(6, 2, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    assert pubs_per_job(runs) == [1]  # one job, one PUB, holding the batch and every shift
    assert x.grad.shape == (6, 2) and layer.weights.grad.shape == (len(MODEL.weights),)


def test_aer_sampler_estimates_pass_chi2_and_reject_swapped_bits():
    s = spec()
    angles = random_angles(30, s)
    executor = SamplerExecutor(s, AerSamplerV2(), shots=SHOTS, seed=11)
    estimates = executor_outputs(executor, angles)
    exact = executor_outputs(AerStatevectorExecutor(s), angles)
    assert fit_pvalue(estimates, exact, SHOTS) > 1e-3
    assert fit_pvalue(estimates, exact[:, ::-1], SHOTS) < 1e-6  # planted wrong model: readout bits swapped


def test_seeded_sampler_reproduces_and_moves_on():
    s = spec()
    angles = random_angles(4, s)
    first, second = (SamplerExecutor(s, AerSamplerV2(), shots=100, seed=3) for _ in range(2))
    a = executor_outputs(first, angles)
    np.testing.assert_array_equal(a, executor_outputs(second, angles))
    assert not np.array_equal(a, executor_outputs(first, angles))  # each job draws a fresh seed


def test_fake_device_sampler_is_isa_noisy_and_passes_chi2(count_calls):
    fake = fake_provider.FakeManilaV2()
    sampler = BackendSamplerV2(backend=fake)
    s = spec()
    executor = SamplerExecutor(s, sampler, shots=SHOTS, seed=7)
    ops = set(executor.circuits[0].count_ops()) - {"measure", "barrier"}
    assert ops <= set(fake.target.operation_names)  # transpiled once to the device's ISA
    angles = random_angles(30, s, seed=2)
    runs = count_calls(sampler, "run")
    estimates = executor_outputs(executor, angles)
    assert pubs_per_job(runs) == [1]
    noisy = exact_isa_p1(executor, angles, device_simulator(fake))  # the device's own noise model
    assert fit_pvalue(estimates, noisy, SHOTS) > 1e-3
    assert fit_pvalue(estimates, exact_isa_p1(executor, angles, None), SHOTS) < 1e-6  # planted: no noise


def test_fake_backend_goes_through_aer_from_backend():
    fake = fake_provider.FakeManilaV2()
    shots_layer = Hybrid(fake, 100, **MODEL.hybrid_kwargs(), seed=1)
    exact_layer = Hybrid(fake, None, **MODEL.hybrid_kwargs(), seed=1)
    assert isinstance(shots_layer.strategy.executor, AerExecutor)
    assert isinstance(exact_layer.strategy.executor, AerStatevectorExecutor)
    assert shots_layer.strategy.executor.backend.options.noise_model is not None


def test_exact_mode_with_a_sampler_is_a_clear_error():
    with pytest.raises(ValueError, match="shots"):
        Hybrid(AerSamplerV2(), None, **MODEL.hybrid_kwargs())


def test_failed_job_raises_with_the_primitive_message():
    class Offline(BaseSamplerV2):
        def run(self, pubs, *, shots=None):
            raise ConnectionError("device offline for maintenance")

    layer = Hybrid(Offline(), 10, **MODEL.hybrid_kwargs())
    with pytest.raises(RuntimeError, match="device offline for maintenance"):
        layer(torch.zeros(1, 2))
