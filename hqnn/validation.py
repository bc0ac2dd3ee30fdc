"""The values the layer's options accept and their checks, in a module that imports nothing heavy: the layer, the
executors and the ``hqnn`` command all check their arguments here, and every message names the argument."""

from __future__ import annotations

import math
from numbers import Integral, Real

#: The quantum layer's simulators by name.
BACKEND_NAMES = ("aer", "analytic", "emulator")
#: ``diff_method``: ``"auto"`` picks closed form, then reverse mode for exact layers, the shift rule for shots.
DIFF_METHODS = ("auto", "shift", "reverse", "closed-form", "sampled-shift", "spsa")
#: The shot-saving estimators (``diff_options``: ``k``, ``c``, ``directions``, ``shift_shots``; see the README).
STOCHASTIC_METHODS = ("sampled-shift", "spsa")
#: Widest circuit the torch statevector simulator (analytic, emulator) holds; Aer takes wider ones.
MAX_QUBITS = 24
#: Widest circuit whose outcomes are decoded as 64-bit integers (Aer counts, sampler bit arrays).
MAX_BITS = 62
#: Smallest |sin s| accepted: below it the shift rule's 1/(2 sin s) factor only amplifies noise.
MIN_SIN_SHIFT = 1e-6


def check_positive_int(value, name: str) -> int:
    """``value`` as an int if it is a positive integer (numpy integers too, not bool); else ``ValueError`` naming
    ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative_int(value, name: str) -> int:
    """``value`` as an int if it is an integer ≥ 0 (numpy integers too, not bool); else ``ValueError`` naming
    ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_shots(shots) -> int | None:
    """``None`` (exact) or a positive integer; anything else raises ``ValueError``."""
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, Integral) or shots <= 0:
        raise ValueError(f"shots must be a positive integer, or None for exact probabilities; got {shots!r}")
    return int(shots)


def check_seed(seed):
    """``seed`` as given if it is ``None``, a ``numpy.random.Generator``, or a non-negative integer (numpy integers
    too, returned as int); else ``ValueError`` naming ``seed``."""
    if seed is None or type(seed).__name__ == "Generator":  # numpy's, without importing numpy here
        return seed
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative integer, a numpy.random.Generator or None (unseeded), got {seed!r}"
        )
    return int(seed)


def check_shift(shift) -> float:
    """``shift`` as a float: a real number, finite, with |sin s| ≥ ``MIN_SIN_SHIFT``; else ``ValueError``."""
    if isinstance(shift, bool) or not isinstance(shift, Real):
        raise ValueError(f"shift must be a real number of radians, e.g. math.pi / 2; got {shift!r}")
    shift = float(shift)
    if not math.isfinite(shift) or abs(math.sin(shift)) < MIN_SIN_SHIFT:
        raise ValueError(
            f"shift must be finite with sin(shift) != 0 (|sin s| >= {MIN_SIN_SHIFT}), got {shift}; "
            "use s = pi/2, the default, which has the smallest variance"
        )
    return shift
