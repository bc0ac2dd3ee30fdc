"""What the shot-saving estimators share: ONE job of base rows, exact ±s rows for the angles the inputs reach
(backpropagation needs them exactly), and a few random rows per sample for the angles only weights reach, whose
Jacobian columns the estimator fills in; optionally fewer shots on every shifted row than on the base rows
(shot allocation: ``shift_shots``)."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from ..cost import JobCost
from ..executors.base import Executor
from ..executors.jobs import run_jobs
from ..shift import ShiftPlan
from ..validation import check_positive_int
from .base import Strategy


class StochasticRule(Strategy):
    """Values from the base rows; Jacobian columns of input angles from the exact shift rule, of weight-only
    angles from ``2 · directions`` random rows per sample (subclasses say which rows and how they reduce)."""

    def __init__(self, executor: Executor, shift: float, directions: int, shift_shots: int | None = None):
        super().__init__(executor.spec, executor.stream)
        if executor.shots is None:
            raise ValueError(
                f"{type(self).__name__} saves shots and needs a shot backend: with exact values (shots=None, "
                "'analytic') use diff_method='auto' or 'reverse', which are exact and cost no shots"
            )
        self.executor = executor
        self.plan = ShiftPlan(executor.spec.n_angles, shift)
        self.directions = directions
        self.shift_shots = None if shift_shots is None else check_positive_int(shift_shots, "shift_shots")
        if self.shift_shots is not None and not executor.row_shots:
            executor.check_row_shots(np.ones(1, dtype=np.int64), 1)  # raises: this executor cannot split shots
        if not self.spec.angle_map.uses_weights.any():
            raise ValueError(f"{type(self).__name__} estimates weight gradients, but this circuit has no weights")

    def columns(self, need_inputs: bool, need_weights: bool) -> tuple[np.ndarray, np.ndarray]:
        """(exact, sampled): the angles shifted exactly (reached by inputs) and those estimated at random
        (reached by weights only; all weight angles when inputs need no gradient)."""
        angle_map = self.spec.angle_map
        exact = angle_map.uses_inputs & need_inputs
        sampled = angle_map.uses_weights & ~exact & need_weights
        return np.flatnonzero(exact), np.flatnonzero(sampled)

    def rows_per_sample(self, need_inputs: bool = True, need_weights: bool = True) -> int:
        """Rows of one sample in the job: 1 base + 2 per exact angle + 2 per direction."""
        exact, sampled = self.columns(need_inputs, need_weights)
        return 1 + 2 * len(exact) + (2 * self.directions if len(sampled) else 0)

    def row_shots(self, batch: int, need_inputs: bool, need_weights: bool) -> np.ndarray | None:
        """Shots of each row (base rows first), or None when every row takes the executor's shots."""
        if self.shift_shots is None:
            return None
        shots = np.full(batch * self.rows_per_sample(need_inputs, need_weights), self.shift_shots, dtype=np.int64)
        shots[:batch] = self.executor.shots
        return shots

    def evaluate(self, gamma, need_inputs, need_weights):
        batch = len(gamma)
        exact, sampled = self.columns(need_inputs, need_weights)
        rows = self.plan.rows(gamma, exact)
        random = None
        if len(sampled):
            random = self.directions_for(gamma, sampled)  # (D, B, K) offsets
            width = gamma.shape[1]
            rows = torch.cat((rows, (gamma + random).reshape(-1, width), (gamma - random).reshape(-1, width)))
        shots = self.row_shots(batch, need_inputs, need_weights)
        features = run_jobs(self.executor, rows, self.jobs, self.memory_rows, shots)
        self.ledger.add(self._submitted(len(rows), shots))
        if tuple(features.shape) != (len(rows), self.spec.readout.n_features):
            raise RuntimeError(f"{type(self.executor).__name__}.run returned shape {tuple(features.shape)}")
        outputs = self.spec.readout.outputs(features.to(gamma.dtype))
        if not (need_inputs or need_weights):
            return outputs, None
        n_exact = batch * (1 + 2 * len(exact))
        values, jacobian = self.plan.reduce(outputs[:n_exact], exact, batch)
        if random is not None:
            plus, minus = outputs[n_exact:].reshape(2, self.directions, batch, -1)
            jacobian += self.reduce_directions(plus, minus, random, sampled)
        return values, jacobian

    def _submitted(self, rows: int, shots: np.ndarray | None) -> JobCost:
        """The jobs (split by ``self.jobs`` as :func:`~hqnn.executors.jobs.run_jobs` splits them), circuits and
        executions of ``rows`` rows with per-row ``shots`` (``None``: the executor's)."""
        executor = self.executor
        split = self.jobs.cost(rows, executor.circuits_per_row, executor.shots, self.memory_rows)
        if shots is None:
            return split
        return JobCost(split.jobs, split.circuits, int(shots.sum()) * executor.circuits_per_row)

    @abstractmethod
    def directions_for(self, gamma: torch.Tensor, sampled: np.ndarray) -> torch.Tensor:
        """Random offsets (D, B, K) of this step's ± rows, nonzero only on ``sampled`` columns."""

    @abstractmethod
    def reduce_directions(
        self, plus: torch.Tensor, minus: torch.Tensor, offsets: torch.Tensor, sampled: np.ndarray
    ) -> torch.Tensor:
        """The Jacobian's ``sampled`` columns (B, n_out, K) from the outputs (D, B, n_out) at γ ± offsets."""

    def cost(self, batch, need_inputs=True, need_weights=True):
        rows = batch * self.rows_per_sample(need_inputs, need_weights)
        return self._submitted(rows, self.row_shots(batch, need_inputs, need_weights))

    def memory(self, batch, device):
        return self.executor.memory(batch * self.rows_per_sample())
