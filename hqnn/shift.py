"""The parameter-shift plan: one angle matrix for values and every ±s shift, reduced to values and Jacobians.

Rows are laid out as blocks of B: the base angles, then +s on each shifted angle, then −s on each.
For gates with ±½ generators f'(γ) = (f(γ+s) − f(γ−s)) / (2 sin s) exactly, for any s with sin s ≠ 0
(the chapter's code leaves out the 1/(2 sin s) and is a factor 2 too large at s = π/2).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .constants import TensorCache
from .validation import check_shift

#: What :meth:`ShiftPlan.reduce` takes and returns: tensors, or numpy arrays on the host.
Array = torch.Tensor | np.ndarray


class ShiftPlan:
    """Build the rows of one job and reduce its estimates, for K angles and one shift s."""

    def __init__(self, n_angles: int, shift: float = math.pi / 2):
        self.n_angles = n_angles
        self.shift = check_shift(shift)
        self._constants = TensorCache()

    def rows(self, gamma: torch.Tensor, shifted: np.ndarray) -> torch.Tensor:
        """Base rows (B, K), then a +s block and a −s block for each angle in ``shifted``: ((1 + 2n)·B, K)."""
        if not len(shifted):
            return gamma
        key = ("offsets", shifted.tobytes())
        offsets = self._constants.get(key, lambda: self._offsets(shifted), gamma.dtype, gamma.device)
        return offset_rows(gamma, offsets)

    def _offsets(self, shifted: np.ndarray) -> np.ndarray:
        """(1 + 2n, K): 0, then +s on each angle in ``shifted``, then −s on each."""
        moves = np.repeat([self.shift, -self.shift], len(shifted))
        return block_offsets(np.tile(shifted, 2), moves, self.n_angles)

    def reduce(self, estimates: Array, shifted: np.ndarray, batch: int) -> tuple[Array, Array]:
        """Values (B, n_out) and the Jacobian (B, n_out, K) by the angles (zero for angles not shifted) from the
        estimates ((1 + 2n)·B, n_out) of :meth:`rows`: tensors, or numpy arrays for estimates on the host."""
        n = len(shifted)
        blocks = estimates.reshape(1 + 2 * n, batch, -1)
        differences = (blocks[1 : 1 + n] - blocks[1 + n :]) / (2.0 * math.sin(self.shift))
        host = isinstance(estimates, np.ndarray)
        slopes = differences.transpose(1, 2, 0) if host else differences.permute(1, 2, 0)
        if n == self.n_angles:  # every angle shifted, in order (``shifted`` is sorted): the slopes are the Jacobian
            return blocks[0], slopes
        if host:
            jacobian = np.zeros((batch, blocks.shape[-1], self.n_angles), dtype=estimates.dtype)
            jacobian[:, :, shifted] = slopes
            return blocks[0], jacobian
        jacobian = estimates.new_zeros(batch, blocks.shape[-1], self.n_angles)
        index = self._constants.get(("index", shifted.tobytes()), shifted, torch.long, estimates.device)
        return blocks[0], jacobian.index_copy_(2, index, slopes)


def block_offsets(columns: np.ndarray, moves: np.ndarray, n_angles: int) -> np.ndarray:
    """(1 + J, K): each block's offset from the base angles: 0 for the base block, then ``moves[j]`` on column
    ``columns[j]`` for block 1 + j."""
    offsets = np.zeros((1 + len(columns), n_angles))
    offsets[1 + np.arange(len(columns)), columns] = moves
    return offsets


def offset_rows(gamma: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """The rows γ + offsets[j] of every block j, block after block: ((1 + J)·B, K)."""
    return (gamma + offsets[:, None, :]).reshape(-1, gamma.shape[1])
