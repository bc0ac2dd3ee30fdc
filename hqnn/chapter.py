"""The chapter's ``QuantumCircuit(n_qubits, backend, shots).run(thetas)``, vectorized: one job for all thetas."""

from __future__ import annotations

import numpy as np
import torch

from .backends import DEFAULT_SHOTS
from .circuits import chapter_circuit
from .strategies import choose_strategy


class QuantumCircuit:
    """H then RY(θ) on ``n_qubits`` qubits; ``run`` returns P(measure 1) per theta (per qubit if n > 1)."""

    def __init__(self, n_qubits: int, backend="aer", shots: int | None = DEFAULT_SHOTS, seed=None):
        self.spec = chapter_circuit(n_qubits)
        self.strategy = choose_strategy(backend, self.spec, shots, np.pi / 2, seed)

    @property
    def executor(self):
        """The executor of a shift-rule strategy (Aer by default)."""
        return self.strategy.executor

    def run(self, thetas) -> np.ndarray:
        """P(1) for each theta: shape (len(thetas),) for one qubit, (len(thetas), n_qubits) otherwise."""
        thetas = np.asarray(thetas, dtype=np.float64)
        if thetas.ndim != 1 or not thetas.size:
            raise ValueError(f"thetas must be a non-empty 1-D sequence of angles, got shape {thetas.shape}")
        if not np.all(np.isfinite(thetas)):
            raise ValueError("thetas contain NaN or inf")
        gamma = self.spec.angle_map(torch.from_numpy(thetas)[:, None], torch.empty(0, dtype=torch.float64))
        p1, _ = self.strategy.evaluate(gamma, False, False)
        p1 = p1.numpy()
        return p1[:, 0] if self.spec.n_outputs == 1 else p1
