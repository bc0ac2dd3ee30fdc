"""Shot emulation: exact outcome probabilities of every setting from the torch statevector (or one Aer job for
a given ``backend``), then a seeded multinomial draw of ``shots`` outcomes per row, on the angles' device —
statistically the same as Aer's shot sampling of the same circuit, without a simulator in the loop."""

from __future__ import annotations

import numpy as np
import torch

from ..circuits import CircuitSpec
from ..memory import rows_job_bytes
from ..sampling import multinomial_counts
from ..simulator import TorchStatevector
from .base import Executor, SeedLike, host_angles
from .aer_exact import AerStatevectorExecutor


class EmulatorExecutor(Executor):
    """Shot estimates drawn from exact probabilities with this executor's seeded stream (``run(angles, shots)``
    takes a shot count per row: the multinomial draws take one count per row anyway)."""

    row_shots = True

    statevector = True  # hqnn's statevector gives the probabilities (unless an Aer ``backend`` is given)

    def __init__(self, spec: CircuitSpec, shots: int = 100, seed: SeedLike = None, backend=None):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError("EmulatorExecutor samples shots; pass shots > 0 or use backend='analytic'")
        self._aer = None if backend is None else AerStatevectorExecutor(spec, backend)
        self.simulator = TorchStatevector(spec.circuit, spec.angles) if backend is None else None
        self.statevector = backend is None  # probabilities from hqnn's statevector, or from Aer's

    def memory(self, rows: int) -> int:
        return self._aer.memory(rows) if self._aer is not None else self.planned_memory(self.spec, self.shots, rows)

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        return rows_job_bytes(spec.n_qubits, rows)

    def _distributions(self, angles: torch.Tensor) -> list[torch.Tensor]:
        if self._aer is not None:
            return [torch.from_numpy(j).to(angles.device) for j in self._aer.distributions(host_angles(angles))]
        with torch.no_grad():
            return self.simulator.distributions(angles, self.spec.readout)

    def run(self, angles: torch.Tensor, shots: np.ndarray | None = None) -> torch.Tensor:
        self.check_row_shots(shots, len(angles))
        generator = self.stream.torch(angles.device)
        per_row = self.shots if shots is None else torch.as_tensor(shots, dtype=torch.float64, device=angles.device)[:, None]
        features = []
        for setting, joint in zip(self.spec.readout.settings, self._distributions(angles)):
            counts = multinomial_counts(joint.to(torch.float64), per_row, generator)
            features.append(setting.from_distribution(counts) / per_row)  # linear: divide (R, F), not (R, 2**m)
        return torch.cat(features, dim=1)
