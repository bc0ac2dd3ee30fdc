"""Numba kernels: the chapter circuit's closed forms, which verify the engine (the shift rule run on them must give
their own derivative) and back :class:`hqnn.RYKernelExecutor`.

Imported as ``hqnn.kernels``. These modules depend on numpy and numba only.
"""

from .ry import ry_p1, ry_p1_grad

__all__ = ["ry_p1", "ry_p1_grad"]
