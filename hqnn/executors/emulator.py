"""Shot emulation: exact probabilities, then seeded multinomial sampling of ``shots`` outcomes per row.

Statistically the same as Aer's shot sampling of the same circuit (each row an independent draw of
``shots`` joint outcomes of the readout qubits), without a simulator in the loop.
"""

from __future__ import annotations

import numpy as np

from ..circuits import CircuitSpec
from ..kernels import ry_p1
from .base import Executor, SeedLike, marginals
from .exact import StatevectorExecutor


class EmulatorExecutor(Executor):
    """Shot estimates drawn from exact probabilities with this executor's seeded generator."""

    def __init__(self, spec: CircuitSpec, shots: int = 100, seed: SeedLike = None, backend=None):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError("EmulatorExecutor samples shots; pass shots > 0 or use backend='analytic'")
        self._exact = None if spec.closed_form == "h_ry" else StatevectorExecutor(spec, backend)

    def run(self, angles: np.ndarray) -> np.ndarray:
        if self._exact is None:
            # Chapter circuit: a product state, so the readout qubits are independent binomials.
            return self.rng.binomial(self.shots, ry_p1(angles)) / self.shots
        joint = self._exact.probabilities(angles)
        joint = np.clip(joint, 0.0, None)
        counts = self.rng.multinomial(self.shots, joint / joint.sum(axis=1, keepdims=True))
        return marginals(counts / self.shots, self.spec.n_outputs)
