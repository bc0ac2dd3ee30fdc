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


#: Amplitudes of the rows simulated and sampled together (8 MB of complex128): a chunk's states, probabilities and
#: counts stay in cache and in malloc's heap. Arrays over 32 MB are fresh pages on every call: at 8 qubits, 28,928
#: rows, the probabilities' 59 MB took 125 ms of page faults for 6 ms of arithmetic.
CHUNK_AMPLITUDES = 1 << 19


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
        self.shift_pairs = backend is None

    def memory(self, rows: int) -> int:
        return self._aer.memory(rows) if self._aer is not None else self.planned_memory(self.spec, self.shots, rows)

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        """One chunk of rows at a time (:data:`CHUNK_AMPLITUDES`)."""
        return rows_job_bytes(spec.n_qubits, min(rows, max(1, CHUNK_AMPLITUDES >> spec.n_qubits)))

    def _distributions(self, angles: torch.Tensor) -> list[torch.Tensor]:
        if self._aer is not None:
            return [torch.from_numpy(j).to(angles.device) for j in self._aer.distributions(host_angles(angles))]
        with torch.no_grad():
            return self.simulator.distributions(angles, self.spec.readout)

    def run(self, angles: torch.Tensor, shots: np.ndarray | None = None) -> torch.Tensor:
        self.check_row_shots(shots, len(angles))
        generator = self.stream.torch(angles.device)
        per_row = self.shots if shots is None else torch.as_tensor(shots, dtype=torch.float64, device=angles.device)[:, None]
        if self._aer is not None:  # one Aer job for every row
            return self._features(self._distributions(angles), per_row, generator)
        step = max(1, CHUNK_AMPLITUDES >> self.spec.n_qubits)
        chunks = [
            self._features(
                self._distributions(angles[start : start + step]),
                per_row if shots is None else per_row[start : start + step],
                generator,
            )
            for start in range(0, max(len(angles), 1), step)  # an empty batch: one empty chunk
        ]
        return torch.cat(chunks) if len(chunks) != 1 else chunks[0]

    def run_shift_plan(self, gamma: torch.Tensor, shifted: np.ndarray, shift: float) -> torch.Tensor:
        """:meth:`run` of the shift plan's rows, their ±s distributions from half the states
        (:meth:`~hqnn.simulator.TorchStatevector.shift_distributions`): chunks of samples, each drawn as ``run``
        draws its rows."""
        if not self.shift_pairs:
            return super().run_shift_plan(gamma, shifted, shift)
        generator = self.stream.torch(gamma.device)
        blocks = 1 + 2 * len(shifted)  # rows per sample (at most as many states)
        step = max(1, (CHUNK_AMPLITUDES >> self.spec.n_qubits) // blocks)
        readout, chunks = self.spec.readout, []
        with torch.no_grad():
            for start in range(0, max(len(gamma), 1), step):  # an empty batch: one empty chunk
                part = gamma[start : start + step]
                distributions = self.simulator.shift_distributions(part, shifted, shift, readout)
                features = self._features(distributions, self.shots, generator)
                chunks.append(features.reshape(blocks, len(part), readout.n_features))
        return torch.cat(chunks, dim=1).reshape(-1, readout.n_features)

    def _features(self, distributions: list[torch.Tensor], per_row, generator: torch.Generator) -> torch.Tensor:
        """Features (R, F): each setting's counts drawn from its distribution (R, 2**m), as frequencies."""
        features = []
        for setting, joint in zip(self.spec.readout.settings, distributions):
            counts = multinomial_counts(joint.to(torch.float64), per_row, generator)
            if counts.device.type == "cpu":
                parities = torch.from_numpy(setting.from_distribution(counts.numpy()))
            else:
                parities = setting.from_distribution(counts)
            features.append(parities / per_row)  # linear: divide (R, F), not (R, 2**m)
        return torch.cat(features, dim=1)
