"""Exact probabilities for any circuit spec: one Aer statevector job with ``save_probabilities``."""

from __future__ import annotations

import numpy as np
from qiskit import transpile
from qiskit_aer import AerSimulator

from ..circuits import CircuitSpec
from .aer_job import bound_columns, run_bound
from .base import Executor, SeedLike, marginals


class StatevectorExecutor(Executor):
    """Exact per-qubit P(1) (``shots=None``); a backend with a noise model gives the exact noisy values."""

    def __init__(self, spec: CircuitSpec, backend=None, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        self.backend = AerSimulator(method="statevector") if backend is None else backend
        # Transpile first (a device's basis has no save instruction), then save the readout's physical qubits.
        self.circuit = transpile(spec.unmeasured(), self.backend)
        layout = self.circuit.layout
        where = layout.final_index_layout() if layout else range(self.circuit.num_qubits)
        physical = [where[q] for q in spec.qubits]
        self.circuit.save_probabilities(physical)
        noise = getattr(self.backend.options, "noise_model", None)
        # A noisy statevector run samples ONE noise trajectory; the density matrix is the exact noisy state.
        self._options = {"method": "density_matrix"} if noise is not None else {}
        self._confusion = readout_confusion(noise, physical)
        self._columns = bound_columns(self.circuit, spec.angles)

    def probabilities(self, angles: np.ndarray) -> np.ndarray:
        """Joint probabilities of the readout qubits, (R, 2**n_out), bit i ↔ readout qubit i."""
        results = run_bound(
            self.backend, self.circuit, self._columns, angles, shots=1, seed_simulator=self.next_seed(), **self._options
        )
        size = 2**self.spec.n_outputs
        joint = np.array([np.asarray(r.data.probabilities).reshape(size) for r in results])
        return joint if self._confusion is None else apply_confusion(joint, self._confusion)

    def run(self, angles: np.ndarray) -> np.ndarray:
        return marginals(self.probabilities(angles), self.spec.n_outputs)


def readout_confusion(noise_model, physical: list[int]) -> list[np.ndarray] | None:
    """Per-readout-qubit 2×2 matrices P(read m | true t) of a noise model's readout errors, or None if it has none."""
    if noise_model is None:
        return None
    default, local = None, {}
    for error in noise_model.to_dict()["errors"]:
        if error["type"] != "roerror":
            continue
        matrix = np.asarray(error["probabilities"], dtype=np.float64)
        if matrix.shape != (2, 2):
            raise ValueError("exact mode supports single-qubit readout errors only; use shots for correlated ones")
        if "gate_qubits" in error:
            local.update({tuple(q)[0]: matrix for q in error["gate_qubits"]})
        else:
            default = matrix
    matrices = [local.get(q, default) for q in physical]
    if all(m is None for m in matrices):
        return None
    return [np.eye(2) if m is None else m for m in matrices]


def apply_confusion(joint: np.ndarray, confusion: list[np.ndarray]) -> np.ndarray:
    """Measured joint probabilities (R, 2**n) from true ones and each readout bit's confusion matrix."""
    n = len(confusion)
    tensor = joint.reshape((len(joint),) + (2,) * n)
    for i, matrix in enumerate(confusion):
        axis = n - i  # bit i of the little-endian index is axis n - i (axis 0 is the row)
        tensor = np.moveaxis(np.moveaxis(tensor, axis, -1) @ matrix, -1, axis)
    return tensor.reshape(joint.shape)
