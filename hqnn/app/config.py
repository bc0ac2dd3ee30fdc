"""A training run's recipe in one checked, JSON-ready record; the defaults are the chapter's. It travels into
``metrics.json`` and every checkpoint, so ``evaluate`` and ``predict`` rebuild the same model and test split.
Imports nothing heavy: the ``hqnn`` command checks its arguments with it before loading torch."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from ..validation import DIFF_METHODS, MAX_BITS, MAX_QUBITS, STOCHASTIC_METHODS, check_shift
from .choices import BACKENDS, LOSSES, SOURCES, check_digits

#: Learning rate of more than two classes when none is given. The README's ten-digit recipe (4 qubits,
#: emulator, batch 16, 10 epochs; model with dropout then) reached 93.1 % / 94.2 % at seeds 0 / 1; 3e-3 gave
#: 86.9 % at seed 0, 1e-2 gave 93.3 % / 88.1 %. The chapter's 1e-3 is for its two digits.
MULTICLASS_LR = 5e-3
#: Largest seed: torch and numpy take seeds in [0, 2**63); data-parallel process r uses ``seed + r``.
MAX_SEED = 2**62
#: Largest shot count: the shot samplers count in signed 64-bit integers.
MAX_SHOTS = 2**62


class ConfigError(ValueError):
    """A field of :class:`RunConfig` has a value it cannot take; ``field`` names it (the command's flag)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field

    @property
    def flag(self) -> str:
        """The ``hqnn train`` flag that sets this field."""
        return "--" + self.field.replace("_", "-")


@dataclass(frozen=True)
class RunConfig:
    """The chapter's recipe by default: digits 0 and 1, 100 + 50 images per class, Aer with 100 shots,
    shift π/2, the chapter's loss, Adam at lr 1e-3, batch 1, 20 epochs. ``backend="classical"`` is the
    sigmoid-head control.

    ``qubits > 1`` or more than two digits selects the multi-qubit model (angle encoder, entangling ansatz
    with ``reps`` blocks, ⟨Z⟩ readout, linear layer to the classes); ``ddp`` is the number of data-parallel
    processes (each with batches of ``batch_size``). ``loss`` and ``lr`` left as ``None`` resolve by the class
    count: the chapter's loss and 1e-3 for two digits, ``"nll"`` and :data:`MULTICLASS_LR` for more (the
    chapter's loss on probabilities barely learns ten classes). The resolved values are what is stored.
    ``diff_method`` and its options (``k`` for sampled-shift; ``spsa_c``, ``directions`` for spsa;
    ``shift_shots`` for both) choose the layer's gradient estimator. ``eval_shots``: test evaluation with
    that many emulated shots, 0 exact, ``None`` the training layer itself. ``eval_every`` N > 0 evaluates
    every N steps during training and records when ``target_accuracy`` is first reached (``stop_at_target``:
    and ends training there).
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
    loss: str | None = None
    epochs: int = 20
    batch_size: int = 1
    lr: float | None = None
    seed: int = 0
    qubits: int = 1
    reps: int = 2
    ddp: int = 1
    diff_method: str = "auto"
    k: int | None = None
    spsa_c: float | None = None
    directions: int | None = None
    shift_shots: int | None = None
    eval_shots: int | None = None
    eval_every: int = 0
    target_accuracy: float | None = None
    stop_at_target: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "digits", check_digits(self.digits))
        except ValueError as error:
            raise ConfigError("digits", str(error)) from None
        multiclass = len(self.digits) > 2
        if self.loss is None:
            object.__setattr__(self, "loss", "nll" if multiclass else "chapter")
        if self.lr is None:
            object.__setattr__(self, "lr", MULTICLASS_LR if multiclass else 1e-3)
        for name in ("train_per_class", "test_per_class", "epochs", "batch_size", "qubits", "ddp"):
            _check_whole(name, getattr(self, name), low=1)
        if self.qubits > MAX_BITS:
            raise ConfigError("qubits", f"--qubits {self.qubits} is more than {MAX_BITS}: outcomes are decoded as 64-bit integers")
        if self.qubits > MAX_QUBITS and self.backend in ("analytic", "emulator"):
            raise ConfigError(
                "qubits",
                f"--qubits {self.qubits} is more than the {MAX_QUBITS} that the torch simulator of backend "
                f"{self.backend!r} holds: use --backend aer, or fewer qubits",
            )
        _check_whole("reps", self.reps, low=0)
        _check_whole("seed", self.seed, low=0, high=MAX_SEED)
        if self.shots is not None:
            _check_whole("shots", self.shots, low=1, high=MAX_SHOTS, note=" (or None for exact)")
        if not (_is_real(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("lr", f"learning rate must be a finite number > 0, got {self.lr!r}")
        try:  # the engine's own check (hqnn.validation), reported against the flag
            check_shift(self.shift)
        except ValueError as error:
            raise ConfigError("shift", str(error)) from None
        self._check_estimator()
        for name, allowed in (("backend", BACKENDS), ("loss", LOSSES), ("data", SOURCES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(name, f"unknown {name} {getattr(self, name)!r}: use one of {', '.join(allowed)}")

    def _check_estimator(self) -> None:
        if self.diff_method not in DIFF_METHODS:
            raise ConfigError("diff_method", f"unknown diff method {self.diff_method!r}: use one of {', '.join(DIFF_METHODS)}")
        options = {"k": ("sampled-shift",), "spsa_c": ("spsa",), "directions": ("spsa",), "shift_shots": STOCHASTIC_METHODS}
        for name, methods in options.items():
            if getattr(self, name) is not None and self.diff_method not in methods:
                raise ConfigError(name, f"{name.replace('_', ' ')} applies to --diff-method {' or '.join(methods)}, not {self.diff_method}")
        if self.diff_method in STOCHASTIC_METHODS and (self.backend in ("analytic", "classical") or self.shots is None):
            raise ConfigError(
                "diff_method",
                f"--diff-method {self.diff_method} saves shots: it needs a shot backend (emulator or aer), "
                f"not {self.backend}{' without shots' if self.shots is None else ''}",
            )
        if self.shift_shots is not None and self.backend != "emulator":
            raise ConfigError("shift_shots", "shift shots (per-row shot counts) need --backend emulator here")
        for name in ("k", "directions", "shift_shots"):
            if getattr(self, name) is not None:
                _check_whole(name, getattr(self, name), low=1, high=MAX_SHOTS)
        if self.spsa_c is not None and not (_is_real(self.spsa_c) and 0 < self.spsa_c <= math.pi):
            raise ConfigError("spsa_c", f"spsa c must be a number in (0, π] radians, got {self.spsa_c!r}")
        if self.eval_shots is not None:
            _check_whole("eval_shots", self.eval_shots, low=0, high=MAX_SHOTS, note=" (0 = exact)")
        _check_whole("eval_every", self.eval_every, low=0)
        if self.eval_every and self.ddp > 1:
            raise ConfigError("eval_every", "evaluating during training runs in one process: drop --eval-every or --ddp")
        if self.target_accuracy is not None and not (_is_real(self.target_accuracy) and 0 < self.target_accuracy <= 1):
            raise ConfigError("target_accuracy", f"target accuracy must be in (0, 1], got {self.target_accuracy!r}")
        if self.stop_at_target and self.target_accuracy is None:
            raise ConfigError("stop_at_target", "stopping at the target needs --target-accuracy (and --eval-every)")
        if self.target_accuracy is not None and not self.eval_every:
            raise ConfigError("target_accuracy", "a target accuracy is checked every --eval-every N steps: give N > 0")

    @property
    def diff_options(self) -> dict[str, Any]:
        """The layer's ``diff_options`` from this recipe's estimator fields."""
        names = {"k": "k", "spsa_c": "c", "directions": "directions", "shift_shots": "shift_shots"}
        return {option: getattr(self, field) for field, option in names.items() if getattr(self, field) is not None}

    @property
    def n_classes(self) -> int:
        return len(self.digits)

    @property
    def head(self) -> str:
        """``"classical"`` for the sigmoid control, ``"hybrid"`` for the quantum layer."""
        return "classical" if self.backend == "classical" else "hybrid"

    @property
    def chapter_model(self) -> bool:
        """Whether this is the chapter's model (one qubit, two digits) rather than the multi-qubit one."""
        return self.qubits == 1 and self.n_classes == 2

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


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_whole(name: str, value: Any, low: int, high: int | None = None, note: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        bound = f"≥ {low}" if high is None else f"≥ {low} and ≤ 2^{high.bit_length() - 1}"
        raise ConfigError(name, f"{name.replace('_', ' ')} must be a whole number {bound}{note}, got {value!r}")
