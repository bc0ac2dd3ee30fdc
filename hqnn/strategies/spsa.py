"""SPSA (Spall 1992) for the weight-only angles: per sample and direction, a Rademacher vector Δ ∈ {±1}^K_w and
the two rows γ ± cΔ; the estimate is ((f(γ+cΔ) − f(γ−cΔ)) / 2c) · Δ, averaged over the directions. Rows per
sample: 1 + 2·n_in + 2·directions, whatever K_w. Input angles keep the exact shift rule.

BIASED, by O(c²): every angle enters one gate, so f is a trigonometric polynomial of degree 1 in each angle, and
E_Δ[estimate_j] = (sin c / c) · ∂_j f̄, where f̄ is f with every other angle's cos/sin part scaled by cos c (the
mean of f over γ_i ± c); f̄ = f only when c → 0. ``tests/test_strategies_stochastic.py`` checks this formula exactly and that
a χ² test against reverse mode rejects the mean at a large c."""

from __future__ import annotations

import math

import torch

from ..executors.base import Executor
from ..validation import check_positive_int
from .stochastic import StochasticRule

#: PennyLane's SPSAOptimizer default perturbation c.
SPSA_C = 0.2


class SPSA(StochasticRule):
    """Simultaneous-perturbation estimate of the weight angles' Jacobian (biased, see the module doc)."""

    def __init__(self, executor: Executor, c: float = SPSA_C, directions: int = 1, shift_shots: int | None = None):
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not (math.isfinite(c) and 0 < c <= math.pi):
            raise ValueError(f"spsa c (the perturbation, radians) must be a number in (0, π], got {c!r}")
        super().__init__(executor, math.pi / 2, check_positive_int(directions, "spsa directions"), shift_shots)
        self.c = float(c)

    def directions_for(self, gamma, sampled):
        generator = self.stream.torch(gamma.device)
        signs = torch.randint(0, 2, (self.directions, len(gamma), len(sampled)), generator=generator, device=gamma.device)
        offsets = gamma.new_zeros(self.directions, len(gamma), gamma.shape[1])
        offsets[:, :, torch.as_tensor(sampled, device=gamma.device)] = (2 * signs - 1).to(gamma.dtype) * self.c
        return offsets

    def reduce_directions(self, plus, minus, offsets, sampled):
        slopes = (plus - minus) / (2 * self.c)  # (D, B, n_out): derivative along Δ
        return torch.einsum("dbo,dbk->bok", slopes, offsets / self.c) / self.directions

    def __repr__(self) -> str:
        extra = "" if self.shift_shots is None else f", shift_shots={self.shift_shots}"
        return f"SPSA({self.executor!r}, c={self.c:g}, directions={self.directions}{extra})"
