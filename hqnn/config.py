"""A training run's recipe in one checked, JSON-ready record; the defaults are the chapter's. It travels into
``metrics.json`` and every checkpoint, so ``evaluate`` and ``predict`` rebuild the same model and test split."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .data import SOURCES, check_digits
from .executors import BACKEND_NAMES
from .losses import LOSSES

BACKENDS = (*BACKEND_NAMES, "classical")  # the simulators, or the sigmoid/tanh control


@dataclass(frozen=True)
class RunConfig:
    """The chapter's recipe by default: digits 0 and 1, 100 + 50 images per class, Aer with 100 shots,
    shift π/2, Adam at lr 1e-3, batch 1, 20 epochs. ``backend="classical"`` is the sigmoid-head control.

    ``qubits > 1`` or more than two digits selects the multi-qubit model (angle encoder, entangling ansatz
    with ``reps`` blocks, ⟨Z⟩ readout, linear layer to the classes); ``ddp`` is the number of data-parallel
    processes (each with batches of ``batch_size``).
    """

    digits: tuple[int, ...] = (0, 1)
    train_per_class: int = 100
    test_per_class: int = 50
    data: str = "embedded"
    data_root: str = "data"
    download: bool = False
    backend: str = "aer"
    shots: int | None = 100
    shift: float = math.pi / 2
    loss: str = "chapter"
    epochs: int = 20
    batch_size: int = 1
    lr: float = 1e-3
    seed: int = 0
    qubits: int = 1
    reps: int = 2
    ddp: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "digits", check_digits(self.digits))
        for name in ("train_per_class", "test_per_class", "epochs", "batch_size", "qubits", "ddp"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number ≥ 1, got {value!r}")
        if isinstance(self.reps, bool) or not isinstance(self.reps, int) or self.reps < 0:
            raise ValueError(f"reps must be a whole number ≥ 0, got {self.reps!r}")
        if self.shots is not None and (isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 1):
            raise ValueError(f"shots must be a whole number ≥ 1 (or None for exact), got {self.shots!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.shift, (int, float)) and math.isfinite(self.shift) and abs(math.sin(self.shift)) > 1e-6):
            raise ValueError(f"shift must be a finite angle with sin(shift) ≠ 0 (π/2 is the chapter's), got {self.shift!r}")
        for name, allowed in (("backend", BACKENDS), ("loss", LOSSES), ("data", SOURCES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}: use one of {', '.join(allowed)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be a whole number, got {self.seed!r}")

    @property
    def n_classes(self) -> int:
        return len(self.digits)

    @property
    def head(self) -> str:
        """``"classical"`` for the sigmoid control, ``"hybrid"`` for the quantum layer."""
        return "classical" if self.backend == "classical" else "hybrid"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "digits": list(self.digits)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The config written by ``to_dict``; unknown keys are an error (a checkpoint from elsewhere)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}: this was not written by this version of hqnn")
        return cls(**data)
