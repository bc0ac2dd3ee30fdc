"""Shot counts from exact probabilities on any torch device: a multinomial draw of ``shots`` outcomes per row,
as a binary tree of binomials (split the shots by the top readout bit, then each half by the next bit …), so
2**m − 1 vectorised binomial draws per row replace ``shots`` categorical samples. On the CPU the tree runs in numba
(:mod:`hqnn.kernels.multinomial`), seeded from ``generator``."""

from __future__ import annotations

import numpy as np
import torch

from .kernels.multinomial import tree_counts


def multinomial_counts(
    probabilities: torch.Tensor, shots: int | torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Counts (R, M) of ``shots`` draws (one count, or (R, 1) counts, one per row) from each row of
    ``probabilities`` (R, M), M a power of two."""
    rows, size = probabilities.shape
    if size & (size - 1):
        raise ValueError(f"expected 2**m outcomes per row, got {size}")
    if probabilities.device.type == "cpu":  # the same tree in numba, zero-shot nodes skipped
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        out = np.empty((rows, size))
        per_row = shots.reshape(-1).cpu().numpy() if isinstance(shots, torch.Tensor) else shots
        per_row = np.ascontiguousarray(np.broadcast_to(np.asarray(per_row, dtype=np.int64), (rows,)))
        tree_counts(np.ascontiguousarray(probabilities.detach().to(torch.float64).numpy()), per_row, seed, out)
        return torch.from_numpy(out).to(probabilities.dtype)
    levels = [probabilities.clamp_min(0)]  # levels[i]: the mass of each node 2**i levels above the leaves
    while levels[-1].shape[1] > 1:
        levels.append(levels[-1][:, 0::2] + levels[-1][:, 1::2])
    if isinstance(shots, torch.Tensor):
        counts = shots.to(levels[0].dtype).expand(rows, 1).clone()
    else:
        counts = torch.full((rows, 1), float(shots), dtype=levels[0].dtype, device=levels[0].device)
    tiny = torch.finfo(levels[0].dtype).tiny
    for parents, children in zip(reversed(levels[1:]), reversed(levels[:-1])):
        low = (children[:, 0::2] / parents.clamp_min(tiny)).clamp_(0, 1)
        first = torch.binomial(counts, low, generator=generator)
        counts = torch.stack((first, counts - first), dim=-1).reshape(rows, -1)
    return counts
