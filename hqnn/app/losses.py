"""Losses on class probabilities. ``"chapter"`` is NLLLoss applied to the probabilities, as the chapter does:
NLLLoss only picks −output[target], so it is −p(correct) ∈ [−1, 0], hence the chapter's negative losses
(−0.99 means 99 % on the right class). ``"nll"`` is the real negative log-likelihood, on log-probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .choices import LOSSES

LOG_FLOOR = 1e-12  # probabilities are clamped here before the log, so p = 0 costs 27.6, not inf


def loss_function(name: str, reduction: str = "mean") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss(probabilities (B, C), class indices (B,))`` for a loss name in ``LOSSES``."""
    if name == "chapter":
        return lambda probs, target: F.nll_loss(probs, target, reduction=reduction)
    if name == "nll":
        return lambda probs, target: F.nll_loss(torch.log(probs.clamp_min(LOG_FLOOR)), target, reduction=reduction)
    raise ValueError(f"unknown loss {name!r}: use one of {LOSSES}")
