"""Multinomial shot counts as a binary tree of binomials, in numba (the emulator's draws on the CPU).

Each row's ``shots`` are split between the two halves of a node's outcomes by one binomial draw, from the root
down to the leaves (heap order: node k has children 2k and 2k + 1, leaf i is node M + i); a node with no shots
left draws nothing, so a row costs about min(M, shots·log M) draws instead of M − 1. Rows run one after another
from two generators seeded from ``seed`` (numba's for nodes with many shots, an inline splitmix64 for the
rest): the same seed gives the same counts.
"""

import numba
import numpy as np


#: Up to this many shots a node's binomial is drawn by inversion from one uniform of an inline splitmix64 stream
#: (numba's np.random.binomial cost ~45 ns a call here, mostly the generator's call and setup; the tree's lower
#: levels, where almost all draws are, hold few shots). Measured on the emulator's 8-qubit rows, 1000 shots:
#: 8 → 360 ms, 24 → 320, 64 → 262, 256 → 247 for 28,928 rows. The walk starts at min(p, 1 − p), so its first
#: term (1 − min)**c ≥ 2**−256 never underflows.
SMALL = 256
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@numba.njit(cache=True, inline="always")
def _next(state):
    """splitmix64: the next state and a uniform in [0, 1) from its 53 high bits."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return state, np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


#: CDF terms the inversion walk adds between two exit tests: the walk counts the terms below u without a branch
#: (terms past c add zero mass), so a draw costs one hard-to-predict exit per BLOCK terms instead of one per term.
#: The emulator's 28,928 8-qubit rows at 1000 shots, fastest of 15: 243 ms term by term, BLOCK 8 → 201 ms
#: (4 → 206, 12 → 215, 16 → 233), and 182 ms with each term's 1/(j + 1) from _RECIPROCAL instead of a division
#: (the term rounds differently; no draw moved in 14,000 random rows of 2 to 1024 outcomes and 1 to 5000 shots).
BLOCK = 8
_RECIPROCAL = np.concatenate(([0.0], 1.0 / np.arange(1, SMALL + BLOCK + 1)))


@numba.njit(cache=True, inline="always")
def _small_binomial(c, p, u):
    """One Binomial(c, p) draw by inversion of its CDF at the uniform u (the smaller of p, 1 − p walked from 0):
    the number of the CDF's terms F(0) … F(c − 1) below u."""
    flip = p > 0.5
    if flip:
        p = 1.0 - p
    q = 1.0 - p
    ratio = p / q
    mass = q**c
    total = mass
    k = 0
    j = 0
    while True:
        for _ in range(BLOCK):
            k += (u > total) & (j < c)
            mass *= ratio * max(c - j, 0) * _RECIPROCAL[j + 1]
            j += 1
            total += mass
        if j >= c or u <= total:
            return c - k if flip else k


@numba.njit(cache=True)
def tree_counts(probabilities, shots, seed, out):
    """out (R, M) float64: counts of ``shots[r]`` draws from each row r of ``probabilities`` (R, M), M a power of
    two, ``shots`` (R,) int64."""
    np.random.seed(seed)
    state = np.uint64(seed) * _MIX1 + _GOLDEN
    rows, size = probabilities.shape
    mass = np.empty(2 * size)
    count = np.empty(2 * size, dtype=np.int64)
    tiny = np.finfo(np.float64).tiny
    for r in range(rows):
        for i in range(size):
            mass[size + i] = max(probabilities[r, i], 0.0)
        for k in range(size - 1, 0, -1):
            mass[k] = mass[2 * k] + mass[2 * k + 1]
        count[1] = shots[r]
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
            elif c <= SMALL:
                state, u = _next(state)
                first = _small_binomial(c, low, u)
            else:
                first = np.random.binomial(c, low)
            count[2 * k] = first
            count[2 * k + 1] = c - first
        for i in range(size):
            out[r, i] = count[size + i]
