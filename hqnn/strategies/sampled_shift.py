"""Doubly stochastic parameter shift (Sweke et al. 2020): per sample, shift a uniformly random subset of k of
the K_w weight-only angles by ±s and scale their slopes by K_w / k. Each angle is in the subset with probability
k / K_w, so the estimate's mean is the exact shift rule's Jacobian: unbiased. Rows per sample: 1 + 2·n_in + 2k
(n_in: angles the inputs reach, shifted exactly), against 1 + 2·(n_in + K_w) for the full shift rule."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..executors.base import Executor
from .stochastic import StochasticRule


class SampledShift(StochasticRule):
    """Unbiased shift-rule estimate from k random weight angles per sample (seeded by the executor's stream)."""

    def __init__(self, executor: Executor, shift: float, k: int = 1, shift_shots: int | None = None):
        available = int((executor.spec.angle_map.uses_weights & ~executor.spec.angle_map.uses_inputs).sum())
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= max(available, 1):
            raise ValueError(
                f"sampled-shift k (weight angles shifted per sample) must be a whole number in 1..{available} "
                f"(this circuit's weight-only angles), got {k!r}"
            )
        super().__init__(executor, shift, int(k), shift_shots)
        self.k = int(k)

    def directions_for(self, gamma, sampled):
        batch, k = len(gamma), min(self.k, len(sampled))
        generator = self.stream.torch(gamma.device)
        keys = torch.rand(batch, len(sampled), generator=generator, device=gamma.device, dtype=torch.float64)
        chosen = torch.as_tensor(sampled, device=gamma.device)[keys.argsort(dim=1)[:, :k]]  # (B, k) columns
        offsets = gamma.new_zeros(self.directions, batch, gamma.shape[1])
        offsets[: k].scatter_(2, chosen.T[:, :, None], self.plan.shift)
        return offsets

    def reduce_directions(self, plus, minus, offsets, sampled):
        scale = len(sampled) / min(self.k, len(sampled)) / (2 * math.sin(self.plan.shift))
        slopes = (plus - minus) * scale  # (D, B, n_out)
        chosen = (offsets != 0).to(plus.dtype)  # (D, B, K): one shifted column per direction and sample
        return torch.einsum("dbo,dbk->bok", slopes, chosen)

    def __repr__(self) -> str:
        extra = "" if self.shift_shots is None else f", shift_shots={self.shift_shots}"
        return f"SampledShift({self.executor!r}, k={self.k}{extra})"
