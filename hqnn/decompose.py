"""Exact rewrites of parameterized gates into gates the two-term shift rule holds for (generators with
eigenvalues ±½), up to a global phase: controlled rotations as two half-angle rotations around two CX/CZ, ``u``
and ``r`` as Euler rotations, anything else through Qiskit's equivalence library. Angles stay expressions of the
original parameters, so the chain rule recovers the original gate's gradient."""

from __future__ import annotations

import math

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Gate, ParameterExpression
from qiskit.circuit.library import CXGate, CZGate, PhaseGate, RXGate, RYGate, RZGate

from .gates import SHIFTABLE_GATES  # the one table of two-term gates, shared with the simulator

#: What the equivalence-library fallback may produce.
_BASIS = ["rx", "ry", "rz", "p", "cx", "cz", "h", "x", "y", "z", "s", "sdg", "sx", "sxdg", "t", "tdg", "swap"]

Placed = list[tuple[Gate, list[int]]]


def shiftable(gate: Gate, qubits: list[int]) -> Placed:
    """``gate`` on ``qubits`` as a list of (gate, qubits) whose parameterized gates are all shiftable."""
    if gate.name in SHIFTABLE_GATES or not _symbolic(gate):
        return [(gate, qubits)]
    rule = _RULES.get(gate.name)
    placed = rule(*gate.params, *qubits) if rule else _equivalence(gate, qubits)
    bad = [g.name for g, _ in placed if _symbolic(g) and g.name not in SHIFTABLE_GATES]
    if bad:
        raise ValueError(
            f"gate '{gate.name}' on qubits {qubits} could not be rewritten into shiftable gates (left {bad}): "
            f"build it from {sorted(SHIFTABLE_GATES)} and fixed gates"
        )
    return placed


def _symbolic(gate: Gate) -> bool:
    return any(isinstance(p, ParameterExpression) and p.parameters for p in gate.params)


def _controlled(rotation, entangler):
    """C-R(θ) = R(θ/2) on t, entangler, R(−θ/2) on t, entangler: the entangler flips R's sign when c = 1."""
    return lambda theta, c, t: [
        (rotation(theta / 2), [t]),
        (entangler(), [c, t]),
        (rotation(-theta / 2), [t]),
        (entangler(), [c, t]),
    ]


def _controlled_phase(lam, c, t):
    return [
        (PhaseGate(lam / 2), [c]),
        (CXGate(), [c, t]),
        (PhaseGate(-lam / 2), [t]),
        (CXGate(), [c, t]),
        (PhaseGate(lam / 2), [t]),
    ]


def _euler(theta, phi, lam, q):
    """U(θ, φ, λ) = e^{i(φ+λ)/2}·RZ(φ)·RY(θ)·RZ(λ)."""
    return [(RZGate(lam), [q]), (RYGate(theta), [q]), (RZGate(phi), [q])]


_RULES = {
    "crx": _controlled(RXGate, CZGate),
    "cry": _controlled(RYGate, CXGate),
    "crz": _controlled(RZGate, CXGate),
    "cp": _controlled_phase,
    "cu1": _controlled_phase,
    "u": _euler,
    "u3": _euler,
    "u2": lambda phi, lam, q: _euler(math.pi / 2, phi, lam, q),
    "r": lambda theta, phi, q: [(RZGate(-phi), [q]), (RXGate(theta), [q]), (RZGate(phi), [q])],
}


def _equivalence(gate: Gate, qubits: list[int]) -> Placed:
    """Qiskit's own exact translation of ``gate`` into the shiftable basis (global phase dropped)."""
    single = QuantumCircuit(gate.num_qubits)
    single.append(gate, range(gate.num_qubits))
    try:
        translated = transpile(single, basis_gates=_BASIS, optimization_level=0)
    except Exception as error:
        raise ValueError(
            f"gate '{gate.name}' on qubits {qubits} has no known decomposition into shiftable gates ({error}): "
            f"build it from {sorted(SHIFTABLE_GATES)} and fixed gates"
        ) from error
    return [(inst.operation, [qubits[translated.find_bit(q).index] for q in inst.qubits]) for inst in translated.data]
