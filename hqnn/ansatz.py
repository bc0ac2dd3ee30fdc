"""A small circuit library: angle encoders, entangling trainable ansätze and data re-uploading.

Each builder returns an :class:`Ansatz` (circuit, inputs, weights) whose gates are all shiftable (rotations,
CX/CZ), so ``Hybrid(..., **ansatz.hybrid_kwargs())`` differentiates it exactly with the two-term rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.library import n_local

from .validation import check_non_negative_int, check_positive_int

#: Single-qubit rotations an encoder or an ansatz layer may use (all have ±½ generators).
ROTATIONS = ("rx", "ry", "rz")
#: Fixed two-qubit gates for the entangling layers.
ENTANGLERS = ("cx", "cz")
#: Entanglement patterns of :func:`entangling_ansatz` (``"ring"`` closes the chain back to qubit 0).
ENTANGLEMENTS = ("linear", "ring", "full")


@dataclass(frozen=True, eq=False)
class Ansatz:
    """A circuit with its ordered input parameters (one per feature) and trainable weight parameters."""

    circuit: QuantumCircuit
    inputs: tuple[Parameter, ...]
    weights: tuple[Parameter, ...]

    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits

    def hybrid_kwargs(self) -> dict:
        """``circuit``, ``inputs`` and ``weights`` for ``Hybrid(backend, shots, **kwargs, readout=..., qubits=...)``."""
        return {"circuit": self.circuit, "inputs": self.inputs, "weights": self.weights}

    def then(self, other: Ansatz) -> Ansatz:
        """This circuit followed by ``other`` on the same qubits; shared parameters stay shared."""
        if other.num_qubits != self.num_qubits:
            raise ValueError(f"cannot chain a {other.num_qubits}-qubit ansatz after a {self.num_qubits}-qubit one")
        circuit = self.circuit.compose(other.circuit)
        return Ansatz(circuit, _union(self.inputs, other.inputs), _union(self.weights, other.weights))


def angle_encoder(n_qubits: int, rotation: str = "ry", prefix: str = "x") -> Ansatz:
    """One input per qubit: ``rotation(x[i])`` on qubit i (after H on every qubit for ``"rz"``)."""
    n_qubits = _check_qubits(n_qubits)
    _check_choice("rotation", rotation, ROTATIONS)
    x = ParameterVector(prefix, n_qubits)
    circuit = QuantumCircuit(n_qubits, name="angle_encoder")
    if rotation == "rz":
        circuit.h(range(n_qubits))  # RZ on |0⟩ is only a phase: start from |+⟩ so the input matters.
    for qubit, parameter in enumerate(x):
        getattr(circuit, rotation)(parameter, qubit)
    return Ansatz(circuit, tuple(x), ())


def entangling_ansatz(
    n_qubits: int,
    reps: int = 1,
    rotations: Sequence[str] = ("ry", "rz"),
    entanglement: str = "linear",
    entangler: str = "cx",
    prefix: str = "w",
) -> Ansatz:
    """``reps`` blocks of trainable rotation layers and ``entangler`` layers, then a final rotation layer.

    Built on :func:`qiskit.circuit.library.n_local`; weights are ``(reps + 1)·len(rotations)·n_qubits``.
    """
    n_qubits = _check_qubits(n_qubits)
    reps = check_non_negative_int(reps, "reps")
    rotations = [rotations] if isinstance(rotations, str) else list(rotations)
    if not rotations:
        raise ValueError(f"rotations must name at least one of {ROTATIONS}")
    for rotation in rotations:
        _check_choice("rotation", rotation, ROTATIONS)
    _check_choice("entanglement", entanglement, ENTANGLEMENTS)
    _check_choice("entangler", entangler, ENTANGLERS)
    pattern = "circular" if entanglement == "ring" else entanglement
    blocks = entangler if n_qubits > 1 else []  # one qubit: rotation layers only
    circuit = n_local(n_qubits, rotations, blocks, pattern, reps=reps, parameter_prefix=prefix)
    circuit.name = "entangling_ansatz"
    return Ansatz(circuit, (), tuple(circuit.parameters))


def reuploading(
    n_qubits: int,
    layers: int = 2,
    reps: int = 1,
    rotation: str = "ry",
    rotations: Sequence[str] = ("ry", "rz"),
    entanglement: str = "linear",
    entangler: str = "cx",
) -> Ansatz:
    """Data re-uploading: ``layers`` × (encoder on the SAME inputs, then a fresh entangling ansatz).

    Each input occurs ``layers`` times; the engine differentiates every occurrence and sums them.
    Layer ℓ's weights are named ``w{ℓ}[…]``.
    """
    layers = check_positive_int(layers, "layers")
    encoder = angle_encoder(n_qubits, rotation)
    model = None
    for layer in range(layers):
        block = encoder.then(entangling_ansatz(n_qubits, reps, rotations, entanglement, entangler, f"w{layer}"))
        model = block if model is None else model.then(block)
    return model


def _union(first: tuple[Parameter, ...], second: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
    return first + tuple(p for p in second if p not in first)


def _check_qubits(n_qubits: int) -> int:
    return check_positive_int(n_qubits, "n_qubits")


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {choices}, got {value!r}")
