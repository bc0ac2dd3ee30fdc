"""The numba statevector kernels (``kernels/statevector.py``, installed as ``hqnn.kernels.statevector``) on their
own: a hand-built program's states equal Qiskit's ``Statevector``, its adjoint gradients equal central
differences, its bundles are read by field name, and the torch path of :class:`hqnn.simulator.TorchStatevector`
(the GPU's, forced here on the CPU) equals the kernels' path to 1e-12."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Statevector

from hqnn import angle_encoder, entangling_ansatz
from hqnn.gates import GENERATORS
from hqnn.kernels.statevector import RUN, Factors, Ops, Program
from hqnn.simulator import TorchStatevector


def rotation(name: str, column: int):
    """A kernel factor for gate ``name`` of the angle in ``column``: ((A, C, S), frequency, column)."""
    g = GENERATORS[name]
    return (np.zeros_like(g), np.eye(len(g), dtype=complex), -1j * g), 0.5, column


def hand_program():
    """RY(a) on 0, RX(b) on 1 (runs), RZZ(a) on (0, 1) (dense), CX 0→1 (a permutation), H on 2 (constant)."""
    program = Program(3)
    program.add_run(0, [rotation("ry", 0)])
    program.add_run(1, [rotation("rx", 1)])
    program.add_dense([0, 1], rotation("rzz", 0))
    index = np.arange(8)
    program.add_permutation(index ^ ((index & 1) << 1), None)  # CX: flip bit 1 where bit 0 is set
    program.add_run(2, [np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)])
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.ry(a, 0)
    qc.rx(b, 1)
    qc.rzz(a, 0, 1)
    qc.cx(0, 1)
    qc.h(2)
    return program, qc, (a, b)


def test_states_equal_qiskit():
    program, qc, (a, b) = hand_program()
    angles = np.random.default_rng(0).uniform(-4, 4, size=(70, 2))  # more rows than one chunk (64)
    states = program.states(angles)
    for row, (x, y) in zip(states, angles):
        expected = Statevector(qc.assign_parameters({a: x, b: y})).data
        np.testing.assert_allclose(row, expected, atol=1e-12)


def test_adjoint_gradients_equal_central_differences():
    program, _, _ = hand_program()
    rng = np.random.default_rng(1)
    angles = rng.uniform(-4, 4, size=(5, 2))
    weights = rng.normal(size=8) + 1j * rng.normal(size=8)  # L = Re Σ conj(w)·ψ: dL/dψ = w (torch's convention)

    def loss(x):
        return np.real(np.conj(weights) * program.states(x)).sum(axis=1)

    grads = program.angle_gradients(angles, program.states(angles), np.tile(weights, (5, 1)))
    h = 1e-6
    for k in range(2):
        step = np.zeros_like(angles)
        step[:, k] = h
        np.testing.assert_allclose(grads[:, k], (loss(angles + step) - loss(angles - step)) / (2 * h), atol=1e-7)


def test_bundles_are_named_fields():
    program, _, _ = hand_program()
    ops, factor_arrays, columns, frequencies = program.arrays()
    assert isinstance(ops, Ops) and ops.n == 3 and ops.max_run == 1
    assert list(ops.kind[:2]) == [RUN, RUN] and list(ops.op_qubit[:2]) == [0, 1]
    tables = program._factor_tables(np.zeros((1, 2)))
    assert isinstance(tables, Factors)
    np.testing.assert_array_equal(tables.rotation, factor_arrays[0])
    assert list(columns) == [0, 1, 0] and list(frequencies) == [0.5, 0.5, 0.5]


def test_a_gate_wider_than_the_dense_kernels_is_refused():
    with pytest.raises(ValueError, match="gates on more than 3 qubits are not supported"):
        Program(4).add_dense([0, 1, 2, 3], np.eye(16, dtype=complex))


@pytest.mark.parametrize("n_qubits", [2, 4])
def test_the_torch_path_equals_the_kernels_on_the_cpu(n_qubits):
    model = angle_encoder(n_qubits, "rx").then(entangling_ansatz(n_qubits, 2, entanglement="ring"))
    circuit, parameters = model.circuit, (*model.inputs, *model.weights)
    simulator = TorchStatevector(circuit, parameters)
    assert simulator.program is not None  # the CPU takes the kernels unless forced
    angles = torch.rand(9, len(parameters), dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 6 - 3
    angles.requires_grad_(True)
    kernels, torch_path = simulator.state(angles), simulator.torch_state(angles)
    torch.testing.assert_close(torch_path, kernels, atol=1e-12, rtol=0)
    weights = torch.randn(kernels.shape, dtype=torch.complex128, generator=torch.Generator().manual_seed(3))
    (g_kernels,) = torch.autograd.grad((kernels * weights).real.sum(), angles)
    (g_torch,) = torch.autograd.grad((torch_path * weights).real.sum(), angles)
    torch.testing.assert_close(g_torch, g_kernels, atol=1e-12, rtol=0)
    expected = Statevector(circuit.assign_parameters(dict(zip(parameters, angles[0].tolist())))).data
    np.testing.assert_allclose(kernels[0].detach().numpy(), expected, atol=1e-12)
