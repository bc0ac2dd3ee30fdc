"""Exact P(1) of the chapter circuit H·RY(γ) from its closed form (1 + sin γ)/2, a numba kernel, no simulator."""

from __future__ import annotations

import numpy as np

from ..circuits import CircuitSpec
from ..kernels import ry_values, ry_values_slopes
from .base import Executor, SeedLike


class AnalyticExecutor(Executor):
    """Exact values for specs built by :func:`hqnn.chapter_circuit` (angle k drives readout qubit k)."""

    def __init__(self, spec: CircuitSpec, seed: SeedLike = None):
        if spec.closed_form != "h_ry":
            raise ValueError(
                "AnalyticExecutor knows only the chapter circuit (hqnn.chapter_circuit); "
                "use StatevectorExecutor (backend='analytic' picks it) for other circuits"
            )
        super().__init__(spec, None, seed)

    def run(self, angles: np.ndarray) -> np.ndarray:
        return ry_values(angles)

    def run_diagonal(self, gamma: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Values (B, K) and dP_k/dγ_k (B, K) at the base angles in one pass: cos γ / 2, exactly what the
        shift rule gives for any s, without the 2·B shifted rows."""
        return ry_values_slopes(gamma)
