"""One job per call: rows from the shift plan → executor → readout → values and Jacobians."""

from __future__ import annotations

import numpy as np

from .executors import Executor
from .shift import ShiftPlan


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
        rows = self.plan.rows(inputs, weights, need_inputs, need_weights)
        estimates = np.asarray(self.executor.run(rows.angles), dtype=np.float64)
        expected = (len(rows.angles), self.spec.n_outputs)
        if estimates.shape != expected:
            raise RuntimeError(
                f"{type(self.executor).__name__}.run returned shape {estimates.shape}, expected {expected}"
            )
        if not np.all(np.isfinite(estimates)):
            raise RuntimeError(f"{type(self.executor).__name__}.run returned non-finite estimates")
        return self.plan.reduce(rows, self.spec.to_readout(estimates))
