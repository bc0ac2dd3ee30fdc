"""Closed forms of the chapter circuit H·RY(θ)·measure.

P(measure 1) = (1 + sin θ) / 2 and dP/dθ = cos θ / 2, element-wise for arrays of any shape. Small arrays run
serially: waking numba's thread pool cost 6 ms for 3 angles on 2 busy cores, far more than it saves there.
"""

import numba
import numpy as np

#: Arrays with at least this many elements use numba's thread pool.
PARALLEL_MIN = 1 << 16


@numba.njit(cache=True)
def _p1_serial(theta, out):
    for i in range(theta.size):
        out[i] = 0.5 + 0.5 * np.sin(theta[i])


@numba.njit(parallel=True, cache=True)
def _p1_parallel(theta, out):
    for i in numba.prange(theta.size):
        out[i] = 0.5 + 0.5 * np.sin(theta[i])


@numba.njit(cache=True)
def _grad_serial(theta, out):
    for i in range(theta.size):
        out[i] = 0.5 * np.cos(theta[i])


@numba.njit(parallel=True, cache=True)
def _grad_parallel(theta, out):
    for i in numba.prange(theta.size):
        out[i] = 0.5 * np.cos(theta[i])


def _apply(serial, parallel, theta) -> np.ndarray:
    flat = np.ascontiguousarray(theta, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    (parallel if flat.size >= PARALLEL_MIN else serial)(flat, out)
    return out.reshape(np.shape(theta))


def ry_p1(theta: np.ndarray) -> np.ndarray:
    """P(1) of H·RY(θ) on |0⟩: (1 + sin θ)/2, float64, same shape as ``theta``."""
    return _apply(_p1_serial, _p1_parallel, theta)


def ry_p1_grad(theta: np.ndarray) -> np.ndarray:
    """dP(1)/dθ of H·RY(θ) on |0⟩: cos θ / 2, float64, same shape as ``theta``."""
    return _apply(_grad_serial, _grad_parallel, theta)
