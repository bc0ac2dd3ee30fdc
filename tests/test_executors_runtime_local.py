"""qiskit-ibm-runtime's local testing mode, offline: SamplerV2 and EstimatorV2 on a fake device and inside a
Batch. Circuits are transpiled to the device's ISA, measurements and observables follow the layout, split
jobs run inside the Batch, and the provider's execution limit is the default."""

import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from hqnn import Hybrid, reuploading
from hqnn.cost import JobCost
from hqnn.executors.jobs import IBM_MAX_EXECUTIONS

runtime = pytest.importorskip("qiskit_ibm_runtime", reason="pip install hqnn[devices]")
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

pytestmark = pytest.mark.filterwarnings("ignore:The (Sampler|Estimator)V2 class is deprecated:DeprecationWarning")

MODEL = reuploading(2, layers=2, reps=1)


def triangle() -> tuple[QuantumCircuit, list]:
    """RY on 3 qubits, then CX 0→1, 1→2, 0→2: a triangle that a line of qubits cannot hold without routing."""
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    for i in range(3):
        circuit.ry(x[i], i)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.cx(0, 2)
    return circuit, list(x)


def test_runtime_sampler_on_a_fake_device_is_isa_and_trains():
    fake = fake_provider.FakeManilaV2()
    layer = Hybrid(runtime.SamplerV2(mode=fake), 64, **MODEL.hybrid_kwargs(), seed=1)
    executor = layer.strategy.executor
    assert executor.backend is fake and layer.jobs.max_executions == IBM_MAX_EXECUTIONS
    ops = set(executor.circuits[0].count_ops()) - {"measure", "barrier"}
    assert ops <= set(fake.target.operation_names)  # the device's ISA
    assert executor.circuits[0].num_qubits == fake.num_qubits  # laid out on the device
    x = torch.rand(2, 2, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.shape == (2, 2) and torch.isfinite(x.grad).all() and torch.isfinite(layer.weights.grad).all()


@pytest.mark.parametrize("primitive", ["sampler", "estimator"])
def test_readouts_follow_a_routed_layout(primitive):
    """|0, 0, 1⟩ prepared on a circuit the device must route: ⟨Z⟩ per logical qubit is (1, 1, −1) up to the
    fake device's noise only if measurements (sampler) and observables (estimator) follow the layout."""
    fake = fake_provider.FakeManilaV2()
    circuit, x = triangle()
    make = runtime.SamplerV2 if primitive == "sampler" else runtime.EstimatorV2
    layer = Hybrid(make(mode=fake), 1000, circuit=circuit, inputs=x, readout="z", seed=3)
    executor = layer.strategy.executor
    isa = executor.circuits[0] if primitive == "sampler" else executor.circuit
    assert isa.layout.final_index_layout() != [0, 1, 2]  # the device moved the logical qubits
    if primitive == "estimator":
        physical = isa.layout.final_index_layout()
        for observable, qubit in zip(executor.observables, physical):
            assert observable.paulis[0].z.nonzero()[0].tolist() == [qubit]
    with torch.no_grad():
        z = layer(torch.tensor([[0.0, 0.0, torch.pi]]))[0]
    assert z[0] > 0.8 and z[1] > 0.7 and z[2] < -0.8, z


def test_split_jobs_run_inside_a_runtime_batch():
    fake = fake_provider.FakeManilaV2()
    with runtime.Batch(backend=fake) as batch:
        sampler = runtime.SamplerV2(mode=batch)
        submitted = []
        run = sampler.run
        sampler.run = lambda pubs, **kw: submitted.append(run(pubs, **kw)) or submitted[-1]
        layer = Hybrid(sampler, 32, **MODEL.hybrid_kwargs(), seed=2, max_executions=32 * 30)
        assert layer.cost(2) == JobCost(3, 82, 82 * 32)  # 82 rows in jobs of 30
        x = torch.rand(2, 2, dtype=torch.float64, requires_grad=True)
        layer(x).sum().backward()
    assert len(submitted) == 3 and sampler.mode is batch
    assert torch.isfinite(x.grad).all()


def test_runtime_estimator_splits_only_when_asked():
    fake = fake_provider.FakeManilaV2()
    layer = Hybrid(runtime.EstimatorV2(mode=fake), 100, **MODEL.hybrid_kwargs(), readout="z")
    assert layer.jobs.max_executions is None  # IBM splits estimator jobs on the service side
    capped = Hybrid(runtime.EstimatorV2(mode=fake), 100, **MODEL.hybrid_kwargs(), readout="z", max_executions=4000)
    assert capped.cost(2) == JobCost(5, 164, 16400)  # 82 rows × 2 observables, 20 rows per job
    with torch.no_grad():
        assert capped(torch.zeros(2, 2)).shape == (2, 2)
