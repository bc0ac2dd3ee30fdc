"""Shot emulation: exact probabilities, then seeded binomial (multinomial) sampling of ``shots`` per row —
statistically the same as Aer's shot sampling of the same circuit (each row an independent draw of ``shots``
joint outcomes of the readout qubits), without a simulator in the loop."""

from __future__ import annotations

import numpy as np

from ..circuits import CircuitSpec
from ..kernels import ry_shots, ry_shots_with_slopes
from .base import Executor, SeedLike, marginals
from .batched import exact_probabilities
from .exact import StatevectorExecutor


class EmulatorExecutor(Executor):
    """Shot estimates drawn from exact probabilities with this executor's seeded generator.

    The chapter circuit is a product state, so its readout qubits are independent binomials drawn by a numba
    kernel; any other circuit gets exact joint probabilities (batched statevector, or one Aer job for a given
    ``backend``) and a multinomial draw.
    """

    def __init__(self, spec: CircuitSpec, shots: int = 100, seed: SeedLike = None, backend=None):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError("EmulatorExecutor samples shots; pass shots > 0 or use backend='analytic'")
        if spec.closed_form == "h_ry":
            self._exact = None
        else:
            self._exact = exact_probabilities(spec) if backend is None else StatevectorExecutor(spec, backend)

    def run(self, angles: np.ndarray) -> np.ndarray:
        if self._exact is None:
            return ry_shots(angles, self.shots, self.rng)
        joint = self._exact.probabilities(angles)
        joint = np.clip(joint, 0.0, None)
        counts = self.rng.multinomial(self.shots, joint / joint.sum(axis=1, keepdims=True))
        return marginals(counts / self.shots, self.spec.n_outputs)

    @property
    def diagonal(self) -> bool:
        return self._exact is None

    def run_diagonal(self, gamma: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Chapter circuit: values (B, K) and shift-rule slopes dP_k/dγ_k (B, K), drawn at γ and γ ± s in one
        pass (the distribution of the 3·B rows' draws; cross terms k ≠ o are exactly zero, not noise)."""
        return ry_shots_with_slopes(gamma, self.shots, shift, self.rng)
