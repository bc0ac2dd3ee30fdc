"""The parameter-shift plan: one angle matrix for values and every ±s shift, reduced to values and Jacobians.

Rows are laid out as blocks of B: the base angles, then +s on each shifted angle, then −s on each.
For gates with ±½ generators f'(γ) = (f(γ+s) − f(γ−s)) / (2 sin s) exactly, for any s with sin s ≠ 0
(the chapter's code leaves out the 1/(2 sin s) and is a factor 2 too large at s = π/2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .circuits import READOUTS, CircuitSpec

#: Smallest |sin s| accepted: below it the 1/(2 sin s) factor only amplifies noise.
MIN_SIN_SHIFT = 1e-6


@dataclass(frozen=True)
class Rows:
    """Angles for one job: (R, K) with R = B·(1 + 2·len(shifted)), and which Jacobians they can give."""

    angles: np.ndarray
    shifted: np.ndarray
    batch: int
    need_inputs: bool
    need_weights: bool


class ShiftPlan:
    """Build the rows of one job and reduce its estimates, for one circuit spec and one shift s."""

    def __init__(self, spec: CircuitSpec, shift: float = math.pi / 2):
        shift = float(shift)
        if not math.isfinite(shift) or abs(math.sin(shift)) < MIN_SIN_SHIFT:
            raise ValueError(
                f"shift must be finite with sin(shift) != 0 (|sin s| >= {MIN_SIN_SHIFT}), got {shift}; "
                "use s = pi/2, the default, which has the smallest variance"
            )
        self.spec = spec
        self.shift = shift
        coefficients = spec.coefficients
        self._uses_inputs = np.flatnonzero(np.any(coefficients[:, : spec.n_inputs] != 0, axis=1))
        self._uses_weights = np.flatnonzero(np.any(coefficients[:, spec.n_inputs :] != 0, axis=1))
        self._identity = (
            spec.n_weights == 0
            and coefficients.shape == (spec.n_inputs, spec.n_inputs)
            and np.array_equal(coefficients, np.eye(spec.n_inputs))
            and not spec.offsets.any()
        )
        self._shifts = {(i, w): self._shift_blocks(i, w) for i in (False, True) for w in (False, True)}

    def angles(self, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Base angles γ = [x, w]·Aᵀ + b, shape (B, K)."""
        spec = self.spec
        a = spec.coefficients
        if self._identity:  # γ = x (the chapter's layer): the inputs themselves, no copy
            return inputs
        # One input: an outer product, ~10× faster than a k = 1 matmul for large B.
        gamma = inputs * a[:, 0] if spec.n_inputs == 1 else inputs @ a[:, : spec.n_inputs].T
        gamma += spec.offsets + weights @ a[:, spec.n_inputs :].T
        return gamma

    def rows(self, inputs: np.ndarray, weights: np.ndarray, need_inputs: bool, need_weights: bool) -> Rows:
        """Base rows, then ±s rows for each angle that carries a parameter needing a gradient."""
        gamma = self.angles(inputs, weights)
        shifted, offsets = self._shifts[need_inputs, need_weights]
        angles = gamma + offsets[:, None, :]  # (1 + 2n, B, K): base block, then +s and −s blocks
        return Rows(angles.reshape(-1, gamma.shape[1]), shifted, gamma.shape[0], need_inputs, need_weights)

    def _shift_blocks(self, need_inputs: bool, need_weights: bool) -> tuple[np.ndarray, np.ndarray]:
        """The shifted angles, and the (1 + 2n, K) offsets of each row block (0, then +s, then −s)."""
        parts = ([self._uses_inputs] if need_inputs else []) + ([self._uses_weights] if need_weights else [])
        shifted = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        n = len(shifted)
        offsets = np.zeros((1 + 2 * n, self.spec.n_angles))
        offsets[1 + np.arange(n), shifted] = self.shift
        offsets[1 + n + np.arange(n), shifted] = -self.shift
        return shifted, offsets

    def reduce(self, rows: Rows, estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Values (B, n_out), J_inputs (B, n_out, n_in), J_weights (B, n_out, n_w) from one job's estimates.

        A Jacobian that ``rows`` was not built for is ``None``.
        """
        spec, b, n = self.spec, rows.batch, len(rows.shifted)
        blocks = estimates.reshape(1 + 2 * n, b, -1)
        values = blocks[0]
        d_angles = (blocks[1 : 1 + n] - blocks[1 + n :]) / (2.0 * math.sin(self.shift))
        jacobian = np.einsum("kbo,kp->bop", d_angles, spec.coefficients[rows.shifted])
        j_inputs = jacobian[..., : spec.n_inputs] if rows.need_inputs else None
        j_weights = jacobian[..., spec.n_inputs :] if rows.need_weights else None
        return values, j_inputs, j_weights

    def reduce_diagonal(
        self, values: np.ndarray, slopes: np.ndarray, need_inputs: bool, need_weights: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Like ``reduce``, for circuits whose angle k drives only readout k: values (B, K) and slopes
        dP_k/dγ_k (B, K) at the base angles, readout applied, chained through the coefficients."""
        spec = self.spec
        scale, _ = READOUTS[spec.readout]
        values = spec.to_readout(values)
        a = spec.coefficients if scale == 1.0 else scale * spec.coefficients
        if need_inputs and a.shape == (1, 1) and a[0, 0] == 1.0:  # J_inputs is the slopes themselves
            return values, slopes[:, :, None], None
        j_inputs = slopes[:, :, None] * a[:, : spec.n_inputs] if need_inputs else None
        j_weights = slopes[:, :, None] * a[:, spec.n_inputs :] if need_weights else None
        return values, j_inputs, j_weights
