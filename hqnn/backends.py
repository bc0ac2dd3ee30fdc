"""The one adapter from what a user passes as ``backend`` to an :class:`~hqnn.executors.Executor`: a name in
``BACKEND_NAMES``, an Aer backend, another ``BackendV2`` (a fake device, simulated by
:func:`~hqnn.executors.device_simulator`), a Qiskit ``BaseSamplerV2`` or ``BaseEstimatorV2``, or an executor.

What each name runs:

- ``"aer"``: Qiskit Aer. With shots, :class:`~hqnn.executors.AerExecutor` (Aer's shot sampling); with
  ``shots=None``, :class:`~hqnn.executors.AerStatevectorExecutor` (Aer's exact probabilities).
- ``"emulator"``: hqnn's own statevector simulator. With shots, :class:`~hqnn.executors.EmulatorExecutor`
  (exact probabilities, then seeded multinomial shots); with ``shots=None``, the same as ``"analytic"``.
- ``"analytic"``: hqnn's exact simulation (:class:`~hqnn.executors.RYKernelExecutor` for the chapter circuit,
  :class:`~hqnn.executors.SimulatorExecutor` otherwise). It has no shots: passing some raises ``ValueError``.

The strategy then follows from what the executor declares (:attr:`Executor.exact`,
:attr:`Executor.statevector`), see :func:`hqnn.strategies.choose_strategy`.
"""

from __future__ import annotations

from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.providers import BackendV2
from qiskit_aer.backends.aerbackend import AerBackend

from dataclasses import dataclass

from .circuits import CircuitSpec
from .executors import (
    AerExecutor,
    AerStatevectorExecutor,
    EmulatorExecutor,
    EstimatorExecutor,
    Executor,
    RYKernelExecutor,
    SamplerExecutor,
    SimulatorExecutor,
    device_simulator,
)
from .randomness import SeedLike
from .validation import BACKEND_NAMES, check_shots


class DefaultShots(int):
    """The default of ``Hybrid(shots=...)``: 100 shots (the chapter's) where the backend samples, exact on
    ``"analytic"``, which has no shots. An explicit ``shots`` is never dropped."""

    def __repr__(self) -> str:
        return "100 (exact on 'analytic')"


#: ``Hybrid``'s default ``shots``.
DEFAULT_SHOTS = DefaultShots(100)


@dataclass(frozen=True)
class ExecutorPlan:
    """The executor a backend name gives, before it is built: its class and capabilities, and its memory from
    :meth:`Executor.planned_memory` (cheap at any width; building a simulator of 24+ qubits is not)."""

    kind: type[Executor]
    spec: CircuitSpec
    shots: int | None

    @property
    def exact(self) -> bool:
        return self.shots is None

    @property
    def statevector(self) -> bool:
        return self.kind.statevector

    def memory(self, rows: int) -> int:
        return self.kind.planned_memory(self.spec, self.shots, rows)

    def build(self, seed: SeedLike = None) -> Executor:
        if self.shots is None:
            return self.kind(self.spec, seed=seed)
        return self.kind(self.spec, shots=self.shots, seed=seed)


def plan_for(name: str, spec: CircuitSpec, shots: int | None) -> ExecutorPlan:
    """The executor a backend ``name`` (one of ``BACKEND_NAMES``) gives for ``spec`` and ``shots``."""
    if not isinstance(name, str) or name.lower() not in BACKEND_NAMES:
        raise ValueError(
            f"unknown backend {name!r}: use one of {BACKEND_NAMES}, a Qiskit backend or primitive, or an hqnn Executor"
        )
    name = name.lower()
    if name == "analytic":
        if shots is not None and not isinstance(shots, DefaultShots):
            raise ValueError(
                f"backend 'analytic' is exact and has no shots, got shots={shots!r}: pass shots=None, or use "
                "backend='emulator' (hqnn's simulator with shots) or 'aer' (Aer's shot sampling)"
            )
        shots = None
    shots = check_shots(shots)
    if shots is None and name != "aer":
        kind = RYKernelExecutor if spec.has_closed_form else SimulatorExecutor
    elif name == "aer":
        kind = AerStatevectorExecutor if shots is None else AerExecutor
    else:
        kind = EmulatorExecutor
    return ExecutorPlan(kind, spec, shots)


def executor_for(backend, spec: CircuitSpec, shots: int | None, seed: SeedLike = None) -> Executor:
    """The executor that runs ``spec`` on ``backend`` with ``shots`` (``None``: exact) and ``seed``."""
    if isinstance(backend, Executor):
        return backend
    if isinstance(backend, str):
        return plan_for(backend, spec, shots).build(seed)
    shots = check_shots(shots)
    if isinstance(backend, BaseSamplerV2):
        return SamplerExecutor(spec, backend, shots=shots, seed=seed)
    if isinstance(backend, BaseEstimatorV2):
        return EstimatorExecutor(spec, backend, shots=shots, seed=seed)
    if isinstance(backend, BackendV2) and not isinstance(backend, AerBackend):
        backend = device_simulator(backend)
    if isinstance(backend, AerBackend):
        if shots is None:
            return AerStatevectorExecutor(spec, backend=backend, seed=seed)
        return AerExecutor(spec, backend=backend, shots=shots, seed=seed)
    raise TypeError(
        f"unsupported backend of type {type(backend).__name__}: use one of {BACKEND_NAMES}, a qiskit_aer backend "
        "(e.g. AerSimulator()), a Qiskit BaseSamplerV2 or BaseEstimatorV2, a BackendV2, or an hqnn Executor"
    )

