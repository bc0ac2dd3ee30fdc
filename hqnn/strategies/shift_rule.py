"""Shift rule: rows for the values and ±s on every angle a needed parameter reaches → ONE executor job →
values and Jacobian. The path for shots (Aer, samplers, estimators, the emulator) and hardware."""

from __future__ import annotations

import numpy as np
import torch

from ..executors.base import Executor
from ..kernels.finite import all_finite
from ..executors.jobs import run_jobs
from ..memory import largest_fitting
from ..shift import ShiftPlan
from .base import Strategy

#: γ's dtypes whose shift-rule arithmetic runs in numpy when the estimates are on the host.
HOST_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


class ShiftRule(Strategy):
    """Values and Jacobians from the rows of one forward + backward on ``executor`` with shift s: one job, or
    the fewest that fit ``self.jobs`` (see :mod:`hqnn.executors.jobs`)."""

    def __init__(self, executor: Executor, shift: float):
        super().__init__(executor.spec, executor.stream)
        self.executor = executor
        self.plan = ShiftPlan(executor.spec.n_angles, shift)
        self._shifted: dict[tuple[bool, bool], np.ndarray] = {}

    @property
    def second_order_shift(self) -> float:
        """The shift of the second-order shift rule (:func:`hqnn.autograd.differentiable_jacobian`)."""
        return self.plan.shift

    def evaluate(self, gamma, need_inputs, need_weights):
        shifted = self.shifted(need_inputs, need_weights)  # none without a gradient: the base rows only
        executor = self.executor
        rows, cost = self._job(len(gamma), shifted)
        if executor.shift_pairs and len(shifted) and cost.jobs <= 1:
            features = executor.run_shift_plan(gamma, shifted, self.plan.shift)  # one job, fewer states
        else:
            features = run_jobs(executor, self.plan.rows(gamma, shifted), self.jobs, self.memory_rows)
        self.ledger.add(cost)
        expected = (rows, self.spec.readout.n_features)
        name = type(self.executor).__name__
        if tuple(features.shape) != expected:
            raise RuntimeError(f"{name} returned features of shape {tuple(features.shape)}, expected {expected}")
        # On the host the arithmetic below is numpy's, in γ's dtype as torch's would be: a few µs against ~50 µs of
        # torch calls in a batch-1 step, whose Aer job leaves the caches cold.
        host = features.device.type == "cpu" and gamma.dtype in HOST_DTYPES
        if host:
            estimates = features.numpy().astype(HOST_DTYPES[gamma.dtype], copy=False)
            finite = all_finite(estimates.reshape(-1))
        else:
            estimates = features.to(gamma.dtype)
            finite = bool(torch.isfinite(estimates).all())
        if not finite:
            raise RuntimeError(f"{name} returned non-finite estimates")
        outputs = self.spec.readout.outputs(estimates)
        if not (need_inputs or need_weights):
            return (torch.from_numpy(outputs) if host else outputs), None
        values, jacobian = self.plan.reduce(outputs, shifted, len(gamma))
        return (torch.from_numpy(values), torch.from_numpy(jacobian)) if host else (values, jacobian)

    def shifted(self, need_inputs: bool, need_weights: bool) -> np.ndarray:
        """Columns of the angles that a needed parameter reaches: the ones to shift (computed once per need)."""
        key = (need_inputs, need_weights)
        if key not in self._shifted:
            angle_map = self.spec.angle_map
            needed = (angle_map.uses_inputs & need_inputs) | (angle_map.uses_weights & need_weights)
            self._shifted[key] = np.flatnonzero(needed)
        return self._shifted[key]

    def cost(self, batch, need_inputs=True, need_weights=True):
        return self._job(batch, self.shifted(need_inputs, need_weights))[1]

    def _job(self, batch: int, shifted: np.ndarray) -> tuple:
        """(rows, JobCost) of a batch's job: each sample's base row and ±s on every angle in ``shifted``."""
        rows = batch * (1 + 2 * len(shifted))
        return rows, self.jobs.cost(rows, self.executor.circuits_per_row, self.executor.shots, self.memory_rows)

    def memory(self, batch, device):
        return self.executor.memory(self.rows(self.spec, batch))

    @staticmethod
    def rows(spec, batch: int, gradient: bool = True) -> int:
        """Rows of one job: each sample's base row and, for a gradient, two shifted rows per angle."""
        return batch * (1 + 2 * spec.n_angles) if gradient else batch

    def rows_within(self, batch, limit, device):
        return largest_fitting(self.executor.memory, limit, self.rows(self.spec, batch))  # None: not even one row fits

    def __repr__(self) -> str:
        return f"ShiftRule({self.executor!r}, shift={self.plan.shift:.6g})"
