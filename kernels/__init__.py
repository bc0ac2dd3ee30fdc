"""Numba kernels: closed forms that verify the shift engine and make exact and shot-emulated runs fast.

Imported as ``hqnn.kernels``. These modules depend on numpy and numba only.
"""

from .ry import ry_p1, ry_p1_grad
from .shots import ry_shots, ry_shots_with_slopes

__all__ = ["ry_p1", "ry_p1_grad", "ry_shots", "ry_shots_with_slopes"]
