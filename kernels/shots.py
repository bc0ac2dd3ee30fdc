"""Binomial shot emulation of H·RY(γ): each estimate is Binomial(shots, (1 + sin γ)/2) / shots.

Draws come from the caller's ``numpy.random.Generator`` inside numba (the same stream numpy would give),
and the ±s shifted estimates of the shift rule are drawn in the same pass, without building shifted rows.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _sample(rng, gamma, shots, out):
    for i in range(gamma.size):
        out[i] = rng.binomial(shots, 0.5 + 0.5 * np.sin(gamma[i])) / shots


@numba.njit(cache=True)
def _sample_shifted(rng, gamma, shots, shift, values, slopes):
    scale = 1.0 / (shots * 2.0 * np.sin(shift))
    for i in range(gamma.size):
        g = gamma[i]
        values[i] = rng.binomial(shots, 0.5 + 0.5 * np.sin(g)) / shots
        up = rng.binomial(shots, 0.5 + 0.5 * np.sin(g + shift))
        down = rng.binomial(shots, 0.5 + 0.5 * np.sin(g - shift))
        slopes[i] = (up - down) * scale


def ry_shots(gamma: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Shot estimates of P(1) at every angle, float64, same shape as ``gamma``."""
    flat = np.ascontiguousarray(gamma, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    _sample(rng, flat, int(shots), out)
    return out.reshape(np.shape(gamma))


def ry_shots_with_slopes(
    gamma: np.ndarray, shots: int, shift: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shot estimates of P(1) and shift-rule slopes (f̂(γ+s) − f̂(γ−s)) / (2 sin s), independent draws."""
    flat = np.ascontiguousarray(gamma, dtype=np.float64).reshape(-1)
    values, slopes = np.empty_like(flat), np.empty_like(flat)
    _sample_shifted(rng, flat, int(shots), float(shift), values, slopes)
    return values.reshape(np.shape(gamma)), slopes.reshape(np.shape(gamma))
