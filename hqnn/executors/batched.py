"""Exact probabilities of every row at once: a numpy statevector of shape (R, 2, …, 2), gate by gate.

A rotation exp(−iγ/2·G) with G² = I is cos(γ/2)·ψ − i·sin(γ/2)·Gψ, so each gate costs two array operations
for the whole batch; no simulator job, no per-row binding. For noise-free circuits of up to ``MAX_QUBITS``.
"""

from __future__ import annotations

import numpy as np
from qiskit.circuit.library import RZGate

from ..circuits import CircuitSpec
from .base import Executor, SeedLike, marginals
from .exact import StatevectorExecutor

#: Widest circuit simulated here: R·2**n complex amplitudes stay small.
MAX_QUBITS = 14


class BatchedStatevectorExecutor(Executor):
    """Exact per-qubit P(1) for any noise-free spec whose gates have matrices (all standard gates)."""

    def __init__(self, spec: CircuitSpec, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        circuit = spec.unmeasured()
        if circuit.num_qubits > MAX_QUBITS:
            raise ValueError(f"{circuit.num_qubits} qubits is over {MAX_QUBITS}: use StatevectorExecutor (Aer)")
        self.n_qubits = circuit.num_qubits
        column = {angle: k for k, angle in enumerate(spec.angles)}
        self._steps = [_step(inst, circuit, column) for inst in circuit.data if inst.operation.name != "barrier"]

    def probabilities(self, angles: np.ndarray) -> np.ndarray:
        """Joint probabilities of the readout qubits, (R, 2**n_out), bit i ↔ readout qubit i."""
        n, rows = self.n_qubits, len(angles)
        state = np.zeros((rows, 2**n), dtype=np.complex128)
        state[:, 0] = 1.0
        state = state.reshape((rows,) + (2,) * n)
        for qubits, matrix, k in self._steps:
            state = _apply(state, matrix, qubits, n, None if k is None else angles[:, k])
        probs = np.abs(state) ** 2
        readout = [1 + n - 1 - q for q in reversed(self.spec.qubits)]  # axes, most significant readout first
        others = tuple(a for a in range(1, n + 1) if a not in readout)
        joint = probs.sum(axis=others) if others else probs
        kept = sorted(readout)
        joint = np.moveaxis(joint, [1 + kept.index(a) for a in readout], range(1, len(readout) + 1))
        return joint.reshape(rows, -1)

    def run(self, angles: np.ndarray) -> np.ndarray:
        return marginals(self.probabilities(angles), self.spec.n_outputs)


def exact_probabilities(spec: CircuitSpec, seed: SeedLike = None) -> BatchedStatevectorExecutor | StatevectorExecutor:
    """The fastest exact executor for a noise-free ``spec``: batched numpy if it fits, else one Aer job."""
    try:
        return BatchedStatevectorExecutor(spec, seed)
    except ValueError:
        return StatevectorExecutor(spec, seed=seed)


def _step(inst, circuit, column):
    """(qubits, matrix, angle column): a fixed unitary (column None), or the generator G of a rotation."""
    op = inst.operation
    qubits = [circuit.find_bit(q).index for q in inst.qubits]
    if op.params and hasattr(op.params[0], "parameters") and op.params[0].parameters:
        # Phase gates differ from RZ by a global phase only, invisible in probabilities.
        gate = RZGate if op.name in ("p", "u1") else type(op)
        return qubits, 1j * gate(np.pi).to_matrix(), column[op.params[0]]  # U(π) = −i·G
    try:
        return qubits, op.to_matrix(), None
    except Exception as error:
        raise ValueError(f"'{op.name}' has no matrix: use StatevectorExecutor (Aer) for this circuit") from error


def _apply(state: np.ndarray, matrix: np.ndarray, qubits: list[int], n: int, angle: np.ndarray | None):
    """Apply ``matrix`` (little-endian over ``qubits``) to every row; a rotation if ``angle`` is given."""
    k = len(qubits)
    axes = [1 + n - 1 - q for q in reversed(qubits)]  # most significant gate qubit first
    moved = np.moveaxis(state, axes, range(-k, 0))
    shape = moved.shape
    flat = moved.reshape(shape[0], -1, 2**k)
    applied = flat @ matrix.T
    if angle is not None:
        half = (angle / 2)[:, None, None]
        applied = np.cos(half) * flat - 1j * np.sin(half) * applied
    return np.moveaxis(applied.reshape(shape), range(-k, 0), axes)
