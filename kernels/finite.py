"""A scan for NaN and inf in one pass, for the checks of a layer's inputs, weights and angles."""

import numba


@numba.njit(cache=True)
def all_finite(values) -> bool:
    """True when no entry of the 1-D float array ``values`` is NaN or ±inf: v·0 is 0 for every finite v and NaN
    otherwise, so the sum is 0 exactly when all are finite (one vectorized pass, no branch per entry)."""
    total = 0.0
    for v in values:
        total += v * 0.0
    return total == 0.0
