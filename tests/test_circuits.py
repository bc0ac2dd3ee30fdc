import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import CircuitSpec, chapter_circuit


def test_chapter_circuit_one_angle_per_qubit():
    spec = chapter_circuit(3)
    assert (spec.n_inputs, spec.n_weights, spec.n_outputs, spec.n_angles) == (1, 0, 3, 3)
    np.testing.assert_array_equal(spec.coefficients, np.ones((3, 1)))
    np.testing.assert_array_equal(spec.offsets, np.zeros(3))
    assert spec.closed_form == "h_ry"
    ops = [inst.operation.name for inst in spec.circuit.data]
    assert ops.count("h") == 3 and ops.count("ry") == 3 and ops.count("measure") == 3


def test_affine_expressions_and_shared_parameters():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(2 * x + 1, 0)
    qc.rz(x, 1)  # x used twice
    qc.rxx(w - 0.5 * x, 0, 1)  # two parameters in one angle
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])
    np.testing.assert_allclose(spec.coefficients, [[2, 0], [1, 0], [-0.5, 1]])
    np.testing.assert_allclose(spec.offsets, [1, 0, 0])
    assert len(set(spec.circuit.parameters)) == 3


def test_readout_qubits_and_z():
    x = Parameter("x")
    qc = QuantumCircuit(3)
    qc.ry(x, 2)
    spec = CircuitSpec.from_circuit(qc, inputs=[x], qubits=[2, 0], readout="z")
    assert spec.qubits == (2, 0) and spec.n_outputs == 2
    np.testing.assert_allclose(spec.to_readout(np.array([[0.0, 1.0]])), [[1.0, -1.0]])


def test_custom_composite_gate_is_flattened():
    x = Parameter("x")
    inner = QuantumCircuit(1, name="block")
    inner.ry(x, 0)
    inner.rz(x, 0)
    qc = QuantumCircuit(1)
    qc.append(inner.to_gate(), [0])
    spec = CircuitSpec.from_circuit(qc, inputs=[x])
    assert spec.n_angles == 2


def test_final_measurements_are_replaced():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.measure_all()
    spec = CircuitSpec.from_circuit(qc, inputs=[x])
    assert [inst.operation.name for inst in spec.circuit.data].count("measure") == 1


@pytest.mark.parametrize("gate", ["crx", "cry", "cp"])
def test_controlled_rotation_rejected_with_advice(gate):
    x = Parameter("x")
    qc = QuantumCircuit(2)
    getattr(qc, gate)(x, 0, 1)
    with pytest.raises(ValueError, match=rf"gate '{gate}'.*decompose"):
        CircuitSpec.from_circuit(qc, inputs=[x])


def test_u_gate_rejected():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.u(x, x, 0.1, 0)
    with pytest.raises(ValueError, match="gate 'u'"):
        CircuitSpec.from_circuit(qc, inputs=[x])


@pytest.mark.parametrize("angle", ["sin", "square", "product"])
def test_non_affine_angle_rejected(angle):
    x, w = Parameter("x"), Parameter("w")
    expr = {"sin": x.sin(), "square": x * x, "product": x * w}[angle]
    qc = QuantumCircuit(1)
    qc.ry(expr, 0)
    with pytest.raises(ValueError, match="not affine"):
        CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])


def test_parameter_roles_checked():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x + w, 0)
    with pytest.raises(ValueError, match="neither inputs nor weights"):
        CircuitSpec.from_circuit(qc, inputs=[x])
    with pytest.raises(ValueError, match="listed twice"):
        CircuitSpec.from_circuit(qc, inputs=[x, w], weights=[w])


def test_bad_readout_and_qubits():
    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    with pytest.raises(ValueError, match="readout"):
        CircuitSpec.from_circuit(qc, inputs=[x], readout="expectation")
    with pytest.raises(ValueError, match="qubits"):
        CircuitSpec.from_circuit(qc, inputs=[x], qubits=[2])
    with pytest.raises(ValueError, match="n_qubits"):
        chapter_circuit(0)


def test_mid_circuit_measurement_rejected():
    x = Parameter("x")
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.ry(x, 0)
    with pytest.raises(ValueError, match="mid-circuit"):
        CircuitSpec.from_circuit(qc, inputs=[x])
