"""Exact features of every row at once from the torch statevector (:mod:`hqnn.simulator`), on the angles'
device and precision: the executor behind the shift rule in exact mode, and the proof that shift-rule and
reverse-mode Jacobians agree. On the CPU, a circuit that :func:`hqnn.schmidt.plan` cuts runs as its two halves."""

from __future__ import annotations

import torch

from ..circuits import CircuitSpec
from ..memory import rows_job_bytes
from ..schmidt import plan
from ..simulator import TorchStatevector
from .base import Executor, SeedLike


class SimulatorExecutor(Executor):
    """Exact features for any noise-free spec whose gates have matrices (all standard gates). ``cut``: the Schmidt
    cut the CPU runs, or None."""

    statevector = True

    def __init__(self, spec: CircuitSpec, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        self.simulator = TorchStatevector(spec.circuit, spec.angles)
        self.cut = plan(spec.circuit, spec.angles, spec.readout)

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        return rows_job_bytes(spec.n_qubits, rows)  # the statevector's; a job through the cut needs less

    def run(self, angles: torch.Tensor) -> torch.Tensor:
        if self.cut is not None and angles.device.type == "cpu":
            return self.cut.features(angles)
        with torch.no_grad():
            return self.simulator.features(angles, self.spec.readout)
