"""Shot counts from exact probabilities on any torch device: a multinomial draw of ``shots`` outcomes per row,
as a binary tree of binomials (split the shots by the top readout bit, then each half by the next bit …), so
2**m − 1 vectorised binomial draws per row replace ``shots`` categorical samples."""

from __future__ import annotations

import torch


def multinomial_counts(probabilities: torch.Tensor, shots: int, generator: torch.Generator) -> torch.Tensor:
    """Counts (R, M) of ``shots`` draws from each row of ``probabilities`` (R, M), M a power of two."""
    rows, size = probabilities.shape
    if size & (size - 1):
        raise ValueError(f"expected 2**m outcomes per row, got {size}")
    probs = probabilities.clamp_min(0)
    counts = torch.full((rows, 1), float(shots), dtype=probs.dtype, device=probs.device)
    while counts.shape[1] < size:
        halves = probs.reshape(rows, counts.shape[1], 2, -1).sum(-1)  # mass of each node's two children
        low = halves[..., 0] / halves.sum(-1).clamp_min(torch.finfo(probs.dtype).tiny)
        first = torch.binomial(counts, low.clamp(0, 1), generator=generator)
        counts = torch.stack((first, counts - first), dim=-1).reshape(rows, -1)
    return counts
