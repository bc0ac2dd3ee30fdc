"""Differentiation strategies, one per file, and :func:`choose_strategy`: the backend becomes an executor
(:func:`hqnn.backends.executor_for`), and the strategy follows from what that executor declares it can do.

A ``diff_method`` is one registration in :data:`METHODS`: how to build its strategy on an executor, which
``diff_options`` it takes, and what it needs from the executor (exact expectations, shots, hqnn's statevector,
a closed form). ``"auto"`` takes the first of
:data:`AUTO_ORDER` the executor allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..backends import ExecutorPlan, executor_for, plan_for
from ..circuits import CircuitSpec
from ..executors import Executor, SimulatorExecutor
from ..randomness import SeedLike
from ..validation import BACKEND_NAMES, DIFF_METHODS, check_shift
from .base import Strategy
from .closed_form import ClosedForm
from .reverse_mode import ReverseMode
from .sampled_shift import SampledShift
from .shift_rule import ShiftRule
from .spsa import SPSA

__all__ = [
    "AUTO_ORDER",
    "BACKEND_NAMES",
    "DIFF_METHODS",
    "METHODS",
    "ClosedForm",
    "Method",
    "ReverseMode",
    "SPSA",
    "SampledShift",
    "ShiftRule",
    "Strategy",
    "choose_strategy",
    "layer_memory",
    "method_for",
    "register_method",
]


@dataclass(frozen=True)
class Method:
    """A ``diff_method``: ``build(executor, shift, **options)`` makes its strategy (``options``: the
    ``diff_options`` it accepts); ``memory(plan, batch, gradient, device)`` is its peak bytes for ``batch`` samples on a planned executor (the strategy's own ``memory`` formula, without
    building anything); the ``needs_*`` flags say what it needs from the executor (:attr:`Executor.exact`, shots, :attr:`Executor.statevector`, a closed form of the spec)."""

    build: Callable[..., Strategy]
    memory: Callable[[ExecutorPlan, int, bool, str], int]
    options: tuple[str, ...] = ()
    needs_exact: bool = False
    needs_shots: bool = False
    needs_statevector: bool = False
    needs_closed_form: bool = False

    def missing(self, executor: Executor) -> str | None:
        """What ``executor`` lacks for this method (a phrase), or None if it can run it."""
        if self.needs_closed_form and not executor.spec.has_closed_form:
            return "needs a closed form, and the closed form needs the chapter circuit (hqnn.chapter_circuit) read out per qubit"
        if self.needs_statevector and not executor.statevector:
            return (
                f"needs hqnn's own statevector of the circuit, and {describe(executor)}; backend='analytic' "
                "(or 'emulator' with shots=None) simulates with it"
            )
        if self.needs_exact and not executor.exact:
            return f"needs exact expectations, and {describe(executor)}; use shots=None for them"
        if self.needs_shots and executor.exact:
            return f"needs a shot backend (shots > 0), and {describe(executor)}; exact layers need no estimator"
        return None


#: Every ``diff_method`` but ``"auto"``, by name.
METHODS: dict[str, Method] = {}
#: What ``diff_method="auto"`` tries, in order.
AUTO_ORDER = ("closed-form", "reverse", "shift")


def register_method(name: str, method: Method) -> None:
    """Make ``name`` a ``diff_method`` (it must also be listed in :data:`hqnn.validation.DIFF_METHODS`)."""
    METHODS[name] = method


register_method(
    "closed-form",
    Method(
        lambda ex, shift: ClosedForm(ex.spec, ex.shots, shift, ex.stream),
        lambda plan, batch, gradient, device: ClosedForm.planned_memory(plan.spec, batch),
        needs_statevector=True,
        needs_closed_form=True,
    ),
)
register_method(
    "reverse",
    Method(
        lambda ex, shift: ReverseMode(ex.spec, ex.stream, ex if isinstance(ex, SimulatorExecutor) else None),
        lambda plan, batch, gradient, device: ReverseMode.planned_memory(plan.spec, batch, device),
        needs_exact=True,
        needs_statevector=True,
    ),
)
register_method(
    "shift",
    Method(ShiftRule, lambda plan, batch, gradient, device: plan.memory(ShiftRule.rows(plan.spec, batch, gradient))),
)
# The shot-saving estimators run fewer rows than the shift rule: its memory bounds theirs.
register_method(
    "sampled-shift",
    Method(SampledShift, METHODS["shift"].memory, options=("k", "shift_shots"), needs_shots=True),
)
register_method(
    "spsa",
    Method(
        lambda ex, shift, **options: SPSA(ex, **options),
        METHODS["shift"].memory,
        options=("c", "directions", "shift_shots"),
        needs_shots=True,
    ),
)


def describe(executor) -> str:
    """What ``executor`` (or an :class:`~hqnn.backends.ExecutorPlan`) gives, in words, for messages."""
    name = (executor.kind if isinstance(executor, ExecutorPlan) else type(executor)).__name__
    if not executor.exact:
        return f"{name} gives shot estimates (shots={executor.shots})"
    if executor.statevector:
        return f"{name} gives exact values from hqnn's statevector"
    return f"{name} gives exact values computed outside hqnn (no statevector reverse mode can use)"


def available_methods(executor) -> list[str]:
    """The ``diff_method`` names ``executor`` can run."""
    return [name for name, method in METHODS.items() if method.missing(executor) is None]


def choose_strategy(
    backend,
    spec: CircuitSpec,
    shots: int | None,
    shift: float,
    seed: SeedLike = None,
    diff_method: str = "auto",
    diff_options: dict | None = None,
) -> Strategy:
    """The strategy for ``backend`` (see :func:`hqnn.backends.executor_for`), ``shots``, ``shift``, ``seed``
    and ``diff_method``. ``"auto"``: the closed form when the circuit has one and the executor is hqnn's own,
    else reverse mode when it is exact and hqnn's own, else the shift rule (shots, Aer, primitives, devices). An
    :class:`~hqnn.executors.Executor` passed as ``backend`` runs itself: ``"auto"`` is the shift rule on it, and
    ``"reverse"`` or ``"closed-form"`` are accepted where its capabilities allow them. ``diff_options`` go to the
    method's strategy (the shot-saving ``"sampled-shift"`` and ``"spsa"``; see the README)."""
    shift = check_shift(shift)
    if diff_method not in DIFF_METHODS:
        raise ValueError(f"unknown diff_method {diff_method!r}: use one of {DIFF_METHODS}")
    if isinstance(backend, Executor) and backend.spec is not spec:
        raise ValueError("an Executor brings its own circuit spec: build the layer from executor.spec")
    options = dict(diff_options or {})
    known = METHODS[diff_method].options if diff_method != "auto" else ()
    unknown = sorted(set(options) - set(known))
    if unknown:
        takers = [name for name, method in METHODS.items() if method.options]
        raise ValueError(
            f"unknown diff_options {unknown} for diff_method={diff_method!r}: "
            + (f"use {known}" if known else f"diff_options apply to {takers}")
        )
    executor = executor_for(backend, spec, shots, seed)
    return METHODS[method_for(executor, diff_method, user=executor is backend)].build(executor, shift, **options)


def method_for(executor, diff_method: str, user: bool = False) -> str:
    """The registered method ``diff_method`` means on ``executor`` (an executor or an
    :class:`~hqnn.backends.ExecutorPlan`), or ``ValueError`` saying what it lacks. ``user``: the executor was
    passed by the user, so ``"auto"`` keeps it running (the shift rule on it)."""
    if diff_method == "auto":  # an executor the user passes is the one that runs: the shift rule on it
        order = ("shift",) if user else AUTO_ORDER
        return next(n for n in order if METHODS[n].missing(executor) is None)
    reason = METHODS[diff_method].missing(executor)
    if reason is not None:
        allowed = available_methods(executor)
        choices = " or ".join(repr(n) for n in ("auto", *allowed))
        estimators = [n for n in allowed if METHODS[n].needs_shots]  # the shift rule's shot-saving variants
        if set(allowed) == {"shift", *estimators}:
            what = "only the shift rule differentiates it" + (f" (or its estimators {estimators})" if estimators else "")
        else:
            what = f"available: {allowed}"
        raise ValueError(f"diff_method={diff_method!r} {reason}: {what} (diff_method={choices})")
    return diff_method


def layer_memory(
    backend: str,
    spec: CircuitSpec,
    shots: int | None,
    batch: int,
    diff_method: str = "auto",
    gradient: bool = True,
    device: str = "cpu",
) -> int:
    """Peak bytes of one forward (+ backward when ``gradient``) of ``batch`` samples of the layer
    ``Hybrid(backend, shots, ...)`` builds for ``spec``: the same choice as :func:`choose_strategy` and the chosen
    strategy's own memory formula, without building a simulator (run admission asks this at any width)."""
    plan = plan_for(backend, spec, shots)
    return METHODS[method_for(plan, diff_method)].memory(plan, batch, gradient, device)
