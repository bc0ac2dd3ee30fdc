"""H·RY(γ) values and slopes in one pass: P(1) = (1 + sin γ)/2 and dP/dγ = cos γ / 2, no shifted rows.

Small arrays run serially: waking numba's thread pool costs milliseconds on busy cores, more than it saves
below ``PARALLEL_MIN`` elements.
"""

import numba
import numpy as np

PARALLEL_MIN = 1 << 16


@numba.njit(cache=True)
def _serial(gamma, values, slopes):
    for i in range(gamma.size):
        values[i] = 0.5 + 0.5 * np.sin(gamma[i])
        slopes[i] = 0.5 * np.cos(gamma[i])


@numba.njit(parallel=True, cache=True)
def _parallel(gamma, values, slopes):
    for i in numba.prange(gamma.size):
        values[i] = 0.5 + 0.5 * np.sin(gamma[i])
        slopes[i] = 0.5 * np.cos(gamma[i])


@numba.njit(cache=True)
def _values_serial(gamma, values):
    for i in range(gamma.size):
        values[i] = 0.5 + 0.5 * np.sin(gamma[i])


@numba.njit(parallel=True, cache=True)
def _values_parallel(gamma, values):
    for i in numba.prange(gamma.size):
        values[i] = 0.5 + 0.5 * np.sin(gamma[i])


def ry_values(gamma: np.ndarray) -> np.ndarray:
    """(1 + sin γ)/2 as float64, same shape as ``gamma``."""
    flat = np.ascontiguousarray(gamma, dtype=np.float64).reshape(-1)
    values = np.empty_like(flat)
    (_values_parallel if flat.size >= PARALLEL_MIN else _values_serial)(flat, values)
    return values.reshape(np.shape(gamma))


def ry_values_slopes(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((1 + sin γ)/2, cos γ / 2) as float64 arrays of ``gamma``'s shape."""
    flat = np.ascontiguousarray(gamma, dtype=np.float64).reshape(-1)
    values, slopes = np.empty_like(flat), np.empty_like(flat)
    (_parallel if flat.size >= PARALLEL_MIN else _serial)(flat, values, slopes)
    return values.reshape(np.shape(gamma)), slopes.reshape(np.shape(gamma))
