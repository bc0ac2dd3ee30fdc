"""The executor protocol: a (R, K) angle matrix in, (R, n_out) per-qubit P(1) estimates out, in ONE job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Integral

import numpy as np

from ..circuits import CircuitSpec

SeedLike = int | np.random.Generator | None


class Executor(ABC):
    """Runs every row of an angle matrix for one circuit spec in a single job.

    ``shots`` is ``None`` for exact probabilities. A seeded ``numpy.random.Generator`` hands each job its seed,
    so the same seed gives the same run.
    """

    def __init__(self, spec: CircuitSpec, shots: int | None, seed: SeedLike = None):
        self.spec = spec
        self.shots = check_shots(shots)
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def run(self, angles: np.ndarray) -> np.ndarray:
        """Estimate P(1) of each readout qubit for each row of ``angles`` (R, K) → (R, n_out), one job."""

    @property
    def diagonal(self) -> bool:
        """Whether :meth:`run_diagonal` is available (angle k drives only readout k, with a closed form)."""
        return False

    def run_diagonal(self, gamma: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Values (B, K) and shift-rule slopes dP_k/dγ_k (B, K) at the base angles, in one pass."""
        raise NotImplementedError(f"{type(self).__name__} has no diagonal path")

    def next_seed(self) -> int:
        """A fresh simulator seed from this executor's generator."""
        return int(self.rng.integers(0, 2**31 - 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shots={self.shots}, outputs={self.spec.n_outputs})"


def check_shots(shots) -> int | None:
    """``None`` (exact) or a positive integer; anything else raises ``ValueError``."""
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, Integral) or shots <= 0:
        raise ValueError(f"shots must be a positive integer, or None for exact probabilities; got {shots!r}")
    return int(shots)


def marginals(probabilities: np.ndarray, n_qubits: int) -> np.ndarray:
    """Per-qubit P(1) from joint probabilities (R, 2**n) indexed little-endian (bit i ↔ readout qubit i)."""
    outcomes = np.arange(probabilities.shape[1])
    bits = (outcomes[:, None] >> np.arange(n_qubits)) & 1
    return probabilities @ bits
