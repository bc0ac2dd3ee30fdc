"""Exact features of every row at once from the torch statevector (:mod:`hqnn.simulator`), on the angles'
device and precision: the executor behind the shift rule in exact mode, and the proof that shift-rule and
reverse-mode Jacobians agree."""

from __future__ import annotations

import torch

from ..circuits import CircuitSpec
from ..memory import rows_job_bytes
from ..simulator import TorchStatevector
from .base import Executor, SeedLike


class SimulatorExecutor(Executor):
    """Exact features for any noise-free spec whose gates have matrices (all standard gates)."""

    statevector = True

    def __init__(self, spec: CircuitSpec, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        self.simulator = TorchStatevector(spec.circuit, spec.angles)

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        return rows_job_bytes(spec.n_qubits, rows)

    def run(self, angles: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.simulator.features(angles, self.spec.readout)
