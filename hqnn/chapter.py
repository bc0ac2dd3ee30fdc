"""The chapter's ``QuantumCircuit(n_qubits, backend, shots).run(thetas)``, vectorized: one job for all thetas."""

from __future__ import annotations

import numpy as np

from .circuits import chapter_circuit
from .engine import ShiftEngine
from .executors import Executor, make_executor

_NO_WEIGHTS = np.empty(0)


class QuantumCircuit:
    """H then RY(θ) on ``n_qubits`` qubits; ``run`` returns P(measure 1) per theta (per qubit if n > 1)."""

    def __init__(self, n_qubits: int, backend="aer", shots: int | None = 100, seed=None):
        self.spec = chapter_circuit(n_qubits)
        self.engine = ShiftEngine(make_executor(backend, self.spec, shots, seed), shift=np.pi / 2)

    @property
    def executor(self) -> Executor:
        return self.engine.executor

    def run(self, thetas) -> np.ndarray:
        """P(1) for each theta: shape (len(thetas),) for one qubit, (len(thetas), n_qubits) otherwise."""
        thetas = np.asarray(thetas, dtype=np.float64)
        if thetas.ndim != 1 or not thetas.size:
            raise ValueError(f"thetas must be a non-empty 1-D sequence of angles, got shape {thetas.shape}")
        if not np.all(np.isfinite(thetas)):
            raise ValueError("thetas contain NaN or inf")
        p1, _, _ = self.engine.evaluate(thetas[:, None], _NO_WEIGHTS)
        return p1[:, 0] if self.spec.n_outputs == 1 else p1
