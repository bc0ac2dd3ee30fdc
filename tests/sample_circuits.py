"""Circuits several test files share."""

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter


def entangling_circuit():
    """3 qubits, inputs x0 x1, weights w0 w1; x0 used twice, an expression 2·w0 + 1, entangling gates."""
    x0, x1, w0, w1 = (Parameter(n) for n in ("x0", "x1", "w0", "w1"))
    qc = QuantumCircuit(3)
    qc.h([0, 1, 2])
    qc.ry(x0, 0)
    qc.rx(x1, 1)
    qc.cx(0, 1)
    qc.rzz(2 * w0 + 1, 1, 2)
    qc.ry(x0, 2)
    qc.cx(2, 0)
    qc.rxx(w1 - 0.5 * x1, 0, 2)
    qc.ry(w1, 1)
    return qc, [x0, x1], [w0, w1]
