"""Differentiation strategies, one per file, and :func:`choose_strategy`: the one place where a backend, shots
and ``diff_method`` become an executor and a strategy."""

from __future__ import annotations

from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.providers import BackendV2
from qiskit_aer.backends.aerbackend import AerBackend

from ..circuits import CircuitSpec
from ..executors import (
    AerExecutor,
    RYKernelExecutor,
    EmulatorExecutor,
    EstimatorExecutor,
    Executor,
    SamplerExecutor,
    AerStatevectorExecutor,
    SimulatorExecutor,
    device_simulator,
)
from ..randomness import SeedLike, ShotStream
from ..validation import BACKEND_NAMES, DIFF_METHODS, STOCHASTIC_METHODS, check_shift, check_shots
from .base import Strategy
from .closed_form import ClosedForm
from .reverse_mode import ReverseMode
from .sampled_shift import SampledShift
from .shift_rule import ShiftRule
from .spsa import SPSA

__all__ = [
    "BACKEND_NAMES", "DIFF_METHODS", "ClosedForm", "ReverseMode", "SPSA", "SampledShift", "ShiftRule", "Strategy",
    "choose_strategy",
]


def choose_strategy(
    backend,
    spec: CircuitSpec,
    shots: int | None,
    shift: float,
    seed: SeedLike = None,
    diff_method: str = "auto",
    diff_options: dict | None = None,
) -> Strategy:
    """The strategy (and its executor) for ``backend``: a name in ``BACKEND_NAMES``, an Aer backend, a Qiskit
    ``BaseSamplerV2`` or ``BaseEstimatorV2``, another ``BackendV2`` (a fake device, simulated by
    :func:`~hqnn.executors.device_simulator`), or an :class:`~hqnn.executors.Executor` (shift rule on it).

    Exact layers (``"analytic"``, or ``"aer"``/``"emulator"`` with ``shots=None``) use the closed form when the
    circuit has one, else reverse mode; shots, devices and primitives use the shift rule. ``"sampled-shift"``
    and ``"spsa"`` wrap the shift rule's shot executor (``diff_options``: see :func:`stochastic_strategy`).
    """
    shift = check_shift(shift)
    if diff_method not in DIFF_METHODS:
        raise ValueError(f"unknown diff_method {diff_method!r}: use one of {DIFF_METHODS}")
    if diff_method in STOCHASTIC_METHODS:
        rule = choose_strategy(backend, spec, shots, shift, seed, "shift")
        return stochastic_strategy(diff_method, rule.executor, shift, diff_options or {})
    if diff_options:
        raise ValueError(f"diff_options {sorted(diff_options)} apply to {STOCHASTIC_METHODS}, not {diff_method!r}")
    if isinstance(backend, Executor):
        return _shift_only(ShiftRule(backend, shift), diff_method, "an Executor")
    shots = check_shots(shots)
    if isinstance(backend, str):
        name = backend.lower()
        if name not in BACKEND_NAMES:
            raise ValueError(f"unknown backend {backend!r}: use one of {BACKEND_NAMES}, an Aer backend or an Executor")
        if name == "analytic" or shots is None:
            return _exact(spec, shift, seed, diff_method)
        if name == "emulator" and spec.has_closed_form and diff_method != "shift":
            return _only(ClosedForm(spec, shots, shift, ShotStream(seed)), diff_method, ("auto", "closed-form"))
        executor = AerExecutor(spec, shots=shots, seed=seed) if name == "aer" else EmulatorExecutor(spec, shots, seed)
        return _shift_only(ShiftRule(executor, shift), diff_method, f"backend {name!r} with shots")
    if isinstance(backend, BaseSamplerV2):
        return _shift_only(
            ShiftRule(SamplerExecutor(spec, backend, shots=shots, seed=seed), shift), diff_method, "a sampler"
        )
    if isinstance(backend, BaseEstimatorV2):
        executor = EstimatorExecutor(spec, backend, shots=shots, seed=seed)
        return _shift_only(ShiftRule(executor, shift), diff_method, "an estimator")
    if isinstance(backend, BackendV2) and not isinstance(backend, AerBackend):
        backend = device_simulator(backend)
    if isinstance(backend, AerBackend):
        if shots is None:
            executor = AerStatevectorExecutor(spec, backend=backend, seed=seed)
        else:
            executor = AerExecutor(spec, backend=backend, shots=shots, seed=seed)
        return _shift_only(ShiftRule(executor, shift), diff_method, "an Aer backend")
    raise TypeError(
        f"unsupported backend of type {type(backend).__name__}: use one of {BACKEND_NAMES}, a qiskit_aer backend "
        "(e.g. AerSimulator()), a Qiskit BaseSamplerV2 or BaseEstimatorV2, a BackendV2, or an hqnn Executor"
    )


def stochastic_strategy(diff_method: str, executor: Executor, shift: float, options: dict) -> Strategy:
    """``"sampled-shift"`` (options ``k``, ``shift_shots``) or ``"spsa"`` (``c``, ``directions``,
    ``shift_shots``) on a shot executor; an unknown option is an error that lists the known ones."""
    known = {"sampled-shift": ("k", "shift_shots"), "spsa": ("c", "directions", "shift_shots")}[diff_method]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown diff_options {unknown} for diff_method={diff_method!r}: use {known}")
    if executor.shots is None:
        raise ValueError(
            f"diff_method={diff_method!r} saves shots and needs a shot backend (shots > 0): this one is exact; "
            "use diff_method='auto' or 'reverse' there (exact, no shots)"
        )
    if diff_method == "sampled-shift":
        return SampledShift(executor, shift, **options)
    return SPSA(executor, **options)


def _exact(spec: CircuitSpec, shift: float, seed: SeedLike, diff_method: str) -> Strategy:
    closed = spec.has_closed_form
    if diff_method == "closed-form" or (diff_method == "auto" and closed):
        return ClosedForm(spec, None, shift, ShotStream(seed))
    if diff_method == "shift":
        executor = RYKernelExecutor(spec, seed) if closed else SimulatorExecutor(spec, seed)
        return ShiftRule(executor, shift)
    return ReverseMode(spec, ShotStream(seed))


def _only(strategy: Strategy, diff_method: str, allowed: tuple[str, ...]) -> Strategy:
    if diff_method not in allowed:
        raise ValueError(f"diff_method={diff_method!r} is not available here: use one of {allowed}")
    return strategy


def _shift_only(strategy: Strategy, diff_method: str, what: str) -> Strategy:
    if diff_method not in ("auto", "shift"):
        raise ValueError(
            f"{what} gives shot estimates or device results: only the shift rule differentiates them "
            f"(diff_method='auto' or 'shift'), got {diff_method!r}; use backend='analytic' for reverse mode"
        )
    return strategy
