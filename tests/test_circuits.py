"""Circuit specs: per-occurrence angles, any differentiable angle expression, exact rewrites of gates without a
two-term rule, readouts, and clear errors."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from hqnn import CircuitSpec, chapter_circuit
from hqnn.hadamard_ry import HadamardRY
from hqnn.decompose import SHIFTABLE_GATES, shiftable


def test_chapter_circuit_one_angle_per_qubit():
    spec = chapter_circuit(3)
    assert (spec.n_inputs, spec.n_weights, spec.n_outputs, spec.n_angles) == (1, 0, 3, 3)
    np.testing.assert_array_equal(spec.angle_map.coefficients, np.ones((3, 1)))
    np.testing.assert_array_equal(spec.angle_map.offsets, np.zeros(3))
    assert isinstance(spec.closed_form, HadamardRY)
    ops = [inst.operation.name for inst in spec.circuit.data]
    assert ops.count("h") == 3 and ops.count("ry") == 3 and "measure" not in ops


def test_affine_expressions_and_shared_parameters():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(2 * x + 1, 0)
    qc.rz(x, 1)  # x used twice
    qc.rxx(w - 0.5 * x, 0, 1)  # two parameters in one angle
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])
    np.testing.assert_allclose(spec.angle_map.coefficients, [[2, 0], [1, 0], [-0.5, 1]])
    np.testing.assert_allclose(spec.angle_map.offsets, [1, 0, 0])
    assert spec.angle_map.affine and len(set(spec.circuit.parameters)) == 3
    assert list(spec.angle_map.uses_inputs) == [True, True, True]
    assert list(spec.angle_map.uses_weights) == [False, False, True]


def test_any_differentiable_expression_and_its_per_sample_chain_rule():
    x0, x1, w = Parameter("x0"), Parameter("x1"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x0 * x1 * 2, 0)  # a product of inputs (zz_feature_map's kind)
    qc.ry((x1**2 + w).sin() + w.exp() * 0.1, 1)
    qc.rzz(x0, 0, 1)  # affine, in the same map
    spec = CircuitSpec.from_circuit(qc, inputs=[x0, x1], weights=[w])
    assert not spec.angle_map.affine
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    gamma = spec.angle_map(x, weights)
    a, b, c = x.detach()[:, 0], x.detach()[:, 1], 0.7
    expected = torch.stack([2 * a * b, torch.sin(b**2 + c) + 0.1 * np.exp(c), a], 1)
    torch.testing.assert_close(gamma.detach(), expected, atol=1e-15, rtol=0)
    assert torch.autograd.gradcheck(spec.angle_map, (x, weights))


@pytest.mark.parametrize(
    "angle, message",
    [("sign", "sign"), ("abs", "Abs"), ("complex", "complex")],
)
def test_non_differentiable_or_complex_angles_rejected(angle, message):
    x = Parameter("x")
    expr = {"sign": x.sign(), "abs": x.abs(), "complex": x * 1j}[angle]
    qc = QuantumCircuit(1)
    qc.ry(expr, 0)
    with pytest.raises(ValueError, match=rf"gate 'ry' on qubits \[0\]: angle .*{message}"):
        CircuitSpec.from_circuit(qc, inputs=[x])


@pytest.mark.parametrize(
    "build",
    [
        lambda qc, a, b: qc.crx(a, 0, 1),
        lambda qc, a, b: qc.cry(a, 1, 0),
        lambda qc, a, b: qc.crz(a, 0, 1),
        lambda qc, a, b: qc.cp(a, 0, 1),
        lambda qc, a, b: qc.cu(a, b, 0.3, a * b, 0, 1),
        lambda qc, a, b: qc.u(a, b, 0.2, 0),
        lambda qc, a, b: qc.r(a, b, 1),
        lambda qc, a, b: qc.append(__import__("qiskit.circuit.library", fromlist=["U2Gate"]).U2Gate(a, b), [0]),
        lambda qc, a, b: qc.append(
            __import__("qiskit.circuit.library", fromlist=["XXPlusYYGate"]).XXPlusYYGate(a, b), [0, 1]
        ),
    ],
    ids=["crx", "cry", "crz", "cp", "cu", "u", "r", "u2", "xx_plus_yy"],
)
def test_gates_without_a_two_term_rule_are_rewritten_exactly(build):
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2)
    build(qc, a, b)
    spec = CircuitSpec.from_circuit(qc, inputs=[a, b])
    assert {i.operation.name for i in spec.circuit.data if i.operation.params} <= SHIFTABLE_GATES
    rng = np.random.default_rng(0)
    for _ in range(3):
        values = rng.uniform(-3, 3, 2)
        original = Operator(qc.assign_parameters(dict(zip([a, b], values)), strict=False))
        gamma = spec.angle_map(torch.from_numpy(values)[None], torch.empty(0, dtype=torch.float64))[0].numpy()
        rewritten = Operator(spec.circuit.assign_parameters(dict(zip(spec.angles, gamma))))
        assert original.equiv(rewritten)  # equal up to a global phase


def test_shiftable_gates_pass_through_unchanged():
    x = Parameter("x")
    gate = QuantumCircuit(1).ry(x, 0)[0].operation
    assert shiftable(gate, [0]) == [(gate, [0])]


def test_readout_qubits_and_z():
    x = Parameter("x")
    qc = QuantumCircuit(3)
    qc.ry(x, 2)
    spec = CircuitSpec.from_circuit(qc, inputs=[x], qubits=[2, 0], readout="z")
    assert spec.readout.qubits == (2, 0) and spec.n_outputs == 2
    parity = torch.tensor([[1.0, -1.0]], dtype=torch.float64)  # ⟨Z⟩ features pass through
    torch.testing.assert_close(spec.readout.outputs(parity), parity)


def test_custom_composite_gate_is_flattened():
    x = Parameter("x")
    inner = QuantumCircuit(1, name="block")
    inner.ry(x, 0)
    inner.rz(x, 0)
    qc = QuantumCircuit(1)
    qc.append(inner.to_gate(), [0])
    spec = CircuitSpec.from_circuit(qc, inputs=[x])
    assert spec.n_angles == 2


def test_final_measurements_are_removed_and_settings_measure():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.measure_all()
    spec = CircuitSpec.from_circuit(qc, inputs=[x])
    assert "measure" not in {inst.operation.name for inst in spec.circuit.data}
    measured = spec.measured(spec.readout.settings[0])
    assert [inst.operation.name for inst in measured.data].count("measure") == 1


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
    with pytest.raises(ValueError, match="do not also pass"):
        CircuitSpec.from_circuit(qc, inputs=[x], observables=["ZZ"], qubits=[0])


def test_mid_circuit_measurement_rejected():
    x = Parameter("x")
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.ry(x, 0)
    with pytest.raises(ValueError, match="mid-circuit"):
        CircuitSpec.from_circuit(qc, inputs=[x])


def test_an_rv_gate_of_parameters_is_refused_with_what_to_do():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.rv(x, 0.2, 0.1, 0)
    with pytest.raises(ValueError, match=r"hqnn cannot differentiate 'rv'.*u\(θ, φ, λ\) or rx/ry/rz"):
        CircuitSpec.from_circuit(qc, [x])


def test_amplitude_encoding_is_refused_with_what_to_do():
    from qiskit_machine_learning.circuit.library import raw_feature_vector

    qc = raw_feature_vector(4)
    with pytest.raises(ValueError, match=r"'ParameterizedInitialize': amplitude encoding.*hqnn.angle_encoder"):
        CircuitSpec.from_circuit(qc, list(qc.parameters))


def test_a_non_commuting_evolution_warns_once_which_approximation_runs():
    import warnings

    from qiskit.circuit.library import PauliEvolutionGate
    from qiskit.quantum_info import SparsePauliOp

    t = Parameter("t")
    qc = QuantumCircuit(2)
    qc.append(PauliEvolutionGate(SparsePauliOp(["XY", "ZI"]), time=t), [0, 1])
    with pytest.warns(UserWarning, match=r"non-commuting terms: hqnn simulates its synthesis LieTrotter\(reps=1\).*"
                      r"not exp\(-itH\).*synthesis=LieTrotter\(reps=r\)"):
        CircuitSpec.from_circuit(qc, [t])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the same operator does not warn again
        CircuitSpec.from_circuit(qc, [t])
    commuting = QuantumCircuit(2)
    commuting.append(PauliEvolutionGate(SparsePauliOp(["ZZ", "ZI"]), time=t), [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # commuting terms: the synthesis is exact, no warning
        CircuitSpec.from_circuit(commuting, [t])
