"""The batched numpy statevector against Aer's exact probabilities, and the exact-executor choice."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import BatchedStatevectorExecutor, CircuitSpec, Hybrid, StatevectorExecutor
from hqnn.ansatz import reuploading


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
    return qc, p[:3], p[3:]


@pytest.mark.parametrize("qubits", [[0, 1, 2], [2, 0], [1]])
def test_matches_aer_for_every_shiftable_gate(qubits):
    qc, inputs, weights = every_gate_circuit()
    spec = CircuitSpec.from_circuit(qc, inputs=inputs, weights=weights, qubits=qubits)
    angles = np.random.default_rng(0).uniform(-4, 4, (40, spec.n_angles))
    np.testing.assert_allclose(
        BatchedStatevectorExecutor(spec).probabilities(angles),
        StatevectorExecutor(spec).probabilities(angles),
        atol=1e-12,
    )


def test_exact_backends_pick_it_and_agree_with_aer():
    model = reuploading(3, layers=2)
    kwargs = dict(**model.hybrid_kwargs(), readout="z")
    layer = Hybrid("analytic", **kwargs)
    assert isinstance(layer.engine.executor, BatchedStatevectorExecutor)
    spec = layer.spec
    angles = np.random.default_rng(1).uniform(-3, 3, (10, spec.n_angles))
    np.testing.assert_allclose(layer.engine.executor.run(angles), StatevectorExecutor(spec).run(angles), atol=1e-12)


def test_too_wide_circuit_rejected():
    qc = QuantumCircuit(15)
    x = Parameter("x")
    qc.ry(x, 0)
    with pytest.raises(ValueError, match="over 14"):
        BatchedStatevectorExecutor(CircuitSpec.from_circuit(qc, inputs=[x]))
