"""Multinomial shot counts as a binary tree of binomials, in numba (issue 13: the emulator's draws on the CPU).

Each row's ``shots`` are split between the two halves of a node's outcomes by one binomial draw, from the root
down to the leaves (heap order: node k has children 2k and 2k + 1, leaf i is node M + i); a node with no shots
left draws nothing, so a row costs about min(M, shots·log M) draws instead of M − 1. Rows run one after another
from one seeded numba generator: the same seed gives the same counts.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def tree_counts(probabilities, shots, seed, out):
    """out (R, M) float64: counts of ``shots`` draws from each row of ``probabilities`` (R, M), M a power of two."""
    np.random.seed(seed)
    rows, size = probabilities.shape
    mass = np.empty(2 * size)
    count = np.empty(2 * size, dtype=np.int64)
    tiny = np.finfo(np.float64).tiny
    for r in range(rows):
        for i in range(size):
            mass[size + i] = max(probabilities[r, i], 0.0)
        for k in range(size - 1, 0, -1):
            mass[k] = mass[2 * k] + mass[2 * k + 1]
        count[1] = shots
        for k in range(1, size):
            c = count[k]
            if c == 0:
                count[2 * k] = 0
                count[2 * k + 1] = 0
                continue
            low = min(max(mass[2 * k] / max(mass[k], tiny), 0.0), 1.0)
            if low == 0.0:
                first = 0
            elif low == 1.0:
                first = c
            else:
                first = np.random.binomial(c, low)
            count[2 * k] = first
            count[2 * k + 1] = c - first
        for i in range(size):
            out[r, i] = count[size + i]
