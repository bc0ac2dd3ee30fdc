"""One job per call: rows from the shift plan → executor → readout → values and Jacobians. An executor with a
``diagonal`` path (angle k drives only readout k) gets a large batch's base angles instead and returns
values and slopes in one pass: the 2·B shifted rows are never built."""

from __future__ import annotations

import numpy as np

from .executors import Executor
from .shift import ShiftPlan

#: Batches with at least this many angles (B·K) take an executor's ``run_diagonal`` path when it has one.
DIAGONAL_MIN_ANGLES = 1024


class ShiftEngine:
    """Evaluate a circuit spec for a batch, with the Jacobians that are asked for, in one executor job."""

    def __init__(self, executor: Executor, shift: float):
        self.executor = executor
        self.spec = executor.spec
        self.plan = ShiftPlan(self.spec, shift)

    def evaluate(
        self, inputs: np.ndarray, weights: np.ndarray, need_inputs: bool = False, need_weights: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Values (B, n_out) and, when asked, J_inputs (B, n_out, n_in) and J_weights (B, n_out, n_w)."""
        check_finite(inputs, "Hybrid input")
        check_finite(weights, "Hybrid circuit weights")
        large = len(inputs) * self.spec.n_angles >= DIAGONAL_MIN_ANGLES
        if self.executor.diagonal and (need_inputs or need_weights) and large:
            values, slopes = self.executor.run_diagonal(self.plan.angles(inputs, weights), self.plan.shift)
            return self.plan.reduce_diagonal(values, slopes, need_inputs, need_weights)
        rows = self.plan.rows(inputs, weights, need_inputs, need_weights)
        estimates = np.asarray(self.executor.run(rows.angles), dtype=np.float64)
        expected = (len(rows.angles), self.spec.n_outputs)
        if estimates.shape != expected:
            raise RuntimeError(
                f"{type(self.executor).__name__}.run returned shape {estimates.shape}, expected {expected}"
            )
        if not _all_finite(estimates):
            raise RuntimeError(f"{type(self.executor).__name__}.run returned non-finite estimates")
        return self.plan.reduce(rows, self.spec.to_readout(estimates))


def check_finite(values: np.ndarray, what: str) -> None:
    """Raise ``ValueError`` if ``values`` hold NaN or inf."""
    if not _all_finite(values):
        raise ValueError(f"{what} contain NaN or inf; check the layer before it (learning rate, inputs)")


def _all_finite(values: np.ndarray) -> bool:
    # A finite sum proves every term finite (NaN and inf propagate); only an overflowing sum needs the full scan.
    return bool(np.isfinite(values.sum()) or np.isfinite(values).all())
