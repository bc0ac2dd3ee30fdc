"""Exact features of the chapter circuit H·RY(γ) from its closed form through a numba kernel, row by row: the
shift rule run on this executor must give the closed form's own slopes (the kernels verify the engine)."""

from __future__ import annotations

import torch

from ..circuits import CircuitSpec
from ..kernels import ry_p1
from ..kernels.rows import use_threads
from ..threads import kernel_threads
from .base import Executor, SeedLike, host_angles, to_device


class RYKernelExecutor(Executor):
    """Exact features for specs built by :func:`hqnn.chapter_circuit` (angle k drives readout qubit k)."""

    statevector = True

    def __init__(self, spec: CircuitSpec, seed: SeedLike = None):
        if not spec.has_closed_form:
            raise ValueError(
                "RYKernelExecutor knows only the chapter circuit (hqnn.chapter_circuit); "
                "use SimulatorExecutor or AerStatevectorExecutor (Aer) for other circuits"
            )
        super().__init__(spec, None, seed)

    def run(self, angles: torch.Tensor) -> torch.Tensor:
        use_threads(kernel_threads(angles.numel()))  # torch's count, as every kernel
        parity = 1.0 - 2.0 * ry_p1(host_angles(angles))  # ⟨Z⟩ of each qubit: the Z setting's parity features
        return to_device(parity, angles)
