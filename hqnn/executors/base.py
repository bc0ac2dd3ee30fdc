"""The executor protocol: a (R, K) angle matrix in, the (R, F) features of the spec's readout settings out, in
ONE job. Features are means over shots (or exact expectations) of outcome parities or outcome indicators."""

from __future__ import annotations

from abc import ABC

import numpy as np
import torch

from ..circuits import CircuitSpec
from ..randomness import SeedLike, ShotStream
from ..validation import check_shots


class Executor(ABC):
    """Runs every row of an angle matrix for one circuit spec in a single job.

    ``shots`` is ``None`` for exact expectations. The seeded :class:`~hqnn.randomness.ShotStream` hands each job
    its seed (or draws its shots), so the same seed gives the same run.

    Capabilities, from which the strategy follows (:func:`hqnn.strategies.choose_strategy`):

    - :attr:`exact`: features are exact expectations (``shots is None``), not shot estimates;
    - :attr:`statevector`: the features come from hqnn's own noise-free simulation of ``spec`` on this machine, so
      reverse mode (through hqnn's statevector) and the closed form compute the same numbers (with shots: the same
      distribution) without this executor;
    - :attr:`row_shots`: ``run(angles, shots=(R,) counts)`` takes a shot count per row, still in one job (shot
      allocation);
    - :attr:`shift_pairs`: ``run_shift_plan(γ, shifted, s)`` gives ``run(ShiftPlan.rows(γ, shifted))``'s features
      (the same distribution) in one job from fewer simulated states.
    """

    #: Features come from hqnn's own noise-free statevector of ``spec`` (reverse mode and the closed form may
    #: stand in). Executors that call Qiskit, Aer or hardware leave it False.
    statevector: bool = False
    #: Whether ``run`` takes a shot count per row (``shots=`` an (R,) integer array) inside its one job.
    row_shots = False
    #: Whether :meth:`run_shift_plan` simulates the shift rule's rows from fewer states than ``run`` would.
    shift_pairs = False

    def __init__(self, spec: CircuitSpec, shots: int | None, seed: SeedLike = None):
        self.spec = spec
        self.shots = check_shots(shots)
        self.stream = ShotStream(seed)

    #: The job limit a ``Hybrid(max_executions="auto")`` on this executor gets (``None``: unlimited, local).
    default_max_executions: int | None = None

    @property
    def exact(self) -> bool:
        """Exact expectations (no shots)."""
        return self.shots is None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.run is Executor.run and cls.submit is Executor.submit:
            raise TypeError(f"{cls.__name__} must implement run (one job) or submit (an asynchronous job)")

    def run(self, angles: torch.Tensor, shots: np.ndarray | None = None) -> torch.Tensor:
        """Features (R, F) of ``spec.readout``'s settings for each row of ``angles`` (R, K), in one job, on the
        angles' device (``shots``: a count per row, where ``row_shots``)."""
        return self.submit(angles, self.job_seed(), shots).result()

    def run_shift_plan(self, gamma: torch.Tensor, shifted: np.ndarray, shift: float) -> torch.Tensor:
        """Features of the rows of :meth:`hqnn.shift.ShiftPlan.rows` (``gamma``, ``shifted``, ``shift``) in one job,
        where :attr:`shift_pairs`."""
        raise NotImplementedError(f"{type(self).__name__} has no shift_pairs: run the plan's rows")

    def submit(self, angles: torch.Tensor, seed: int | None, shots: np.ndarray | None = None):
        """Submit one job of ``angles`` with simulator ``seed`` (from :meth:`job_seed`); returns an object whose
        ``result()`` waits for the features and whose ``job_id`` names it. Default: run it now."""
        from .jobs import Finished

        return Finished(self.run(angles) if shots is None else self.run(angles, shots))

    def job_seed(self) -> int | None:
        """The seed the next job is submitted with, drawn in submission order (``None``: not seeded per job)."""
        return None

    @property
    def circuits_per_row(self) -> int:
        """Circuits (PUB elements) one angle row becomes: one per measurement setting."""
        return len(self.spec.readout.settings)

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
        return type(self).planned_memory(self.spec, self.shots, rows)

    @classmethod
    def planned_memory(cls, spec: CircuitSpec, shots: int | None, rows: int) -> int:
        """:meth:`memory` of an executor of this class built for ``spec`` and ``shots`` with its defaults (no
        backend given), computed without building it: run admission asks this at any width."""
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
