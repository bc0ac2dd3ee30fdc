"""Aer's counts of packed experiments as outcome frequencies, in one pass over the distinct outcomes."""

import numba
import numpy as np


@numba.njit(cache=True)
def packed_frequencies(keys, hits, sizes, m, copies, shots):
    """(copies, E, 2**m) frequencies of each copy's m-bit outcome in E experiments: experiment e saw ``sizes[e]``
    distinct keys (its run of ``keys``, each seen ``hits`` times); copy c's outcome is bits [c·m, (c+1)·m)."""
    size = 1 << m
    table = np.zeros((copies, len(sizes), size))
    i = 0
    for e in range(len(sizes)):
        for _ in range(sizes[e]):
            for c in range(copies):
                table[c, e, (keys[i] >> (m * c)) & (size - 1)] += hits[i]
            i += 1
    return table / shots
