"""The executor protocol: a (R, K) angle matrix in, the (R, F) features of the spec's readout settings out, in
ONE job. Features are means over shots (or exact expectations) of outcome parities or outcome indicators."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from ..circuits import CircuitSpec
from ..randomness import SeedLike, ShotStream
from ..validation import check_shots


class Executor(ABC):
    """Runs every row of an angle matrix for one circuit spec in a single job.

    ``shots`` is ``None`` for exact expectations. The seeded :class:`~hqnn.randomness.ShotStream` hands each job
    its seed (or draws its shots), so the same seed gives the same run. Executors with ``row_shots`` also take
    ``run(angles, shots=(R,) counts)``: a shot count per row, still in one job (shot allocation).
    """

    #: Whether ``run`` takes a shot count per row (``shots=`` an (R,) integer array) inside its one job.
    row_shots = False

    def __init__(self, spec: CircuitSpec, shots: int | None, seed: SeedLike = None):
        self.spec = spec
        self.shots = check_shots(shots)
        self.stream = ShotStream(seed)

    @abstractmethod
    def run(self, angles: torch.Tensor) -> torch.Tensor:
        """Features (R, F) of ``spec.readout``'s settings for each row of ``angles`` (R, K), in one job, on the
        angles' device."""

    def check_row_shots(self, shots: np.ndarray | None, rows: int) -> None:
        """Refuse per-row shots where this executor cannot take them, or a vector of the wrong length."""
        if shots is None:
            return
        if not self.row_shots:
            raise ValueError(
                f"{type(self).__name__} runs one shot count per job: per-row shots (shot allocation, "
                "shift_shots) need the emulator or a Qiskit SamplerV2 (PUB-level shots)"
            )
        if np.shape(shots) != (rows,) or np.min(shots) < 1:
            raise ValueError(f"per-row shots must be ({rows},) positive integers, got shape {np.shape(shots)}")

    def memory(self, rows: int) -> int:
        """Peak bytes of one job of ``rows`` rows on this machine (0: the job runs elsewhere or costs little)."""
        return 0

    def next_seed(self) -> int:
        """A fresh simulator seed from this executor's stream."""
        return self.stream.next_seed()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shots={self.shots}, outputs={self.spec.n_outputs})"


def host_angles(angles: torch.Tensor) -> np.ndarray:
    """The angles as a contiguous float64 numpy array on the host (for simulators outside torch)."""
    return np.ascontiguousarray(angles.detach().to("cpu", torch.float64).numpy())


def to_device(features: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Host features as a float64 tensor on ``like``'s device."""
    return torch.from_numpy(np.ascontiguousarray(features, dtype=np.float64)).to(like.device)
