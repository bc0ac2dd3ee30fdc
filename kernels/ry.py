"""Closed forms of the chapter circuit H·RY(θ)·measure.

P(measure 1) = (1 + sin θ) / 2 and dP/dθ = cos θ / 2, element-wise for arrays of any shape.
"""

import numba
import numpy as np


@numba.njit(parallel=True, fastmath=False, cache=True)
def _p1_flat(theta: np.ndarray, out: np.ndarray) -> None:
    for i in numba.prange(theta.size):
        out[i] = 0.5 + 0.5 * np.sin(theta[i])


@numba.njit(parallel=True, fastmath=False, cache=True)
def _p1_grad_flat(theta: np.ndarray, out: np.ndarray) -> None:
    for i in numba.prange(theta.size):
        out[i] = 0.5 * np.cos(theta[i])


def _apply(kernel, theta) -> np.ndarray:
    flat = np.ascontiguousarray(theta, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    kernel(flat, out)
    return out.reshape(np.shape(theta))


def ry_p1(theta: np.ndarray) -> np.ndarray:
    """P(1) of H·RY(θ) on |0⟩: (1 + sin θ)/2, float64, same shape as ``theta``."""
    return _apply(_p1_flat, theta)


def ry_p1_grad(theta: np.ndarray) -> np.ndarray:
    """dP(1)/dθ of H·RY(θ) on |0⟩: cos θ / 2, float64, same shape as ``theta``."""
    return _apply(_p1_grad_flat, theta)
