"""The torch statevector against Aer's exact probabilities for every gate kind and readout setting."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import CircuitSpec, Hybrid, ReverseMode, AerStatevectorExecutor, SimulatorExecutor
from hqnn.ansatz import reuploading
from hqnn.simulator import MAX_QUBITS, TorchStatevector


def every_gate_circuit():
    p = [Parameter(f"p{i}") for i in range(8)]
    qc = QuantumCircuit(3)
    qc.h([0, 1, 2])
    qc.ry(p[0], 0)
    qc.rx(2 * p[1] + 1, 1)
    qc.cx(0, 2)
    qc.rzz(p[2], 1, 2)
    qc.rxx(p[3], 0, 1)
    qc.ryy(p[4], 2, 0)
    qc.rzx(p[5], 0, 2)
    qc.p(p[6], 1)
    qc.s(1)
    qc.t(0)
    qc.swap(0, 1)
    qc.cz(1, 2)
    qc.rz(p[7], 0)
    qc.h(0)
    qc.p(p[0], 2)
    qc.sx(1)
    qc.ccx(0, 1, 2)
    qc.cry(p[1] * p[2], 2, 1)
    qc.ecr(0, 2)
    return qc, p[:3], p[3:]


READOUTS = [
    {"qubits": [0, 1, 2]},
    {"qubits": [2, 0], "readout": "z"},
    {"readout": "probabilities", "qubits": [1, 2]},
    {"observables": ["XYZ", "ZIZ", "YYI", "IXX"]},
]


@pytest.mark.parametrize("options", READOUTS, ids=["p1", "z", "probabilities", "paulis"])
def test_matches_aer_for_every_gate_and_setting(options):
    qc, inputs, weights = every_gate_circuit()
    spec = CircuitSpec.from_circuit(qc, inputs=inputs, weights=weights, **options)
    angles = torch.from_numpy(np.random.default_rng(0).uniform(-4, 4, (40, spec.n_angles)))
    torch.testing.assert_close(
        SimulatorExecutor(spec).run(angles), AerStatevectorExecutor(spec).run(angles), atol=1e-12, rtol=0
    )


def test_distributions_are_joint_probabilities_in_readout_order():
    x = Parameter("x")
    qc = QuantumCircuit(3)
    qc.ry(x, 0)
    qc.cx(0, 2)  # qubits 0 and 2 read 1 together with probability sin²(x/2); qubit 1 stays 0
    simulator = TorchStatevector(qc, (x,))
    spec = CircuitSpec.from_circuit(qc, inputs=[x], readout="probabilities", qubits=[2, 1])
    (joint,) = simulator.distributions(torch.tensor([[1.0]], dtype=torch.float64), spec.readout)
    p = np.sin(0.5) ** 2
    torch.testing.assert_close(joint, torch.tensor([[1 - p, p, 0, 0]], dtype=torch.float64), atol=1e-15, rtol=0)


@pytest.mark.parametrize("dtype, complex_dtype", [(torch.float64, torch.complex128), (torch.float32, torch.complex64)])
def test_precision_follows_the_angles(dtype, complex_dtype):
    model = reuploading(2, layers=1)
    spec = CircuitSpec.from_circuit(model.circuit, model.inputs, model.weights)
    state = TorchStatevector(spec.circuit, spec.angles).state(torch.zeros(3, spec.n_angles, dtype=dtype))
    assert state.dtype == complex_dtype and state.shape == (3, 4)


def test_exact_layers_pick_reverse_mode_and_agree_with_aer():
    model = reuploading(3, layers=2)
    layer = Hybrid("analytic", **model.hybrid_kwargs(), readout="z")
    assert isinstance(layer.strategy, ReverseMode)
    x = torch.rand(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 6 - 3
    aer = Hybrid(AerStatevectorExecutor(layer.spec))
    aer.weights = layer.weights
    torch.testing.assert_close(layer(x), aer(x), atol=1e-12, rtol=0)


def test_too_wide_circuit_rejected():
    qc = QuantumCircuit(MAX_QUBITS + 1)
    x = Parameter("x")
    qc.ry(x, 0)
    with pytest.raises(ValueError, match=f"over {MAX_QUBITS}"):
        TorchStatevector(qc, (x,))
