"""How many threads hqnn's numba kernels run on: torch's count (``torch.set_num_threads``).

numba's OpenMP layer and torch share torch's libgomp. When numba's threads start (its first parallel kernel or
thread setting) they set OpenMP's thread count to NUMBA_NUM_THREADS, and a torch that had already read its count
reads that one from then on: a ``torch.set_num_threads(1)`` became 2 here after hqnn's first kernel, torch's own
operations and the kernels then ran on both cores, and the 8-qubit emulator's step with three threads busy on two
cores took 400-550 ms instead of ~230 ms. :func:`torch_threads` starts numba's threads once and puts torch's count
back.
"""

from __future__ import annotations

import numba
import torch

from .kernels.statevector import PARALLEL_MIN

_started = False


def torch_threads() -> int:
    """``torch.get_num_threads()``, once numba's threads have started (the first call starts them and restores
    torch's count)."""
    global _started
    if not _started:
        threads = torch.get_num_threads()
        numba.get_num_threads()  # starts numba's threads
        torch.set_num_threads(threads)
        _started = True
    return torch.get_num_threads()


def kernel_threads(size: int) -> int:
    """torch's thread count for numba's elementwise and row-by-row kernels over ``size`` amplitudes, 1 below
    PARALLEL_MIN (as :func:`hqnn.kernels.rows.states`)."""
    return 1 if size < PARALLEL_MIN else max(1, min(torch_threads(), numba.config.NUMBA_NUM_THREADS))
