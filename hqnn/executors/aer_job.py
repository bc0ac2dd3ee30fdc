"""One Aer job for a whole angle matrix and several circuits: each surviving circuit parameter bound to its
column, failures raised. Transpilation may optimize some parameters away; only those still in a circuit are
bound (its results do not depend on the others).

A local Aer simulator runs the job in the calling thread: ``backend.run`` hands every job to a one-worker thread
pool and ``result()`` waits for it, a hand-off that cost ~140 µs of a 3-row chapter job (~700 µs) here. The
inline run is the same simulation (Aer's own ``AER_EXECUTE`` method, which that worker calls), with the same
options and seed, so it gives the same counts. A subclass that overrides ``run`` keeps its own ``run``. Given an
:class:`~hqnn.executors.aer_assembly.AssembledJobs`, the inline job reuses its assembled circuits."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer.backends.aerbackend import AerBackend

from .aer_assembly import AssembledJobs

Bound = tuple[QuantumCircuit, list[tuple[int, Parameter]]]

#: The AerBackend method that runs one job: ``backend.run``'s worker thread calls it, :class:`InlineJob` directly.
AER_EXECUTE = "_execute_circuits_job"
#: The AerBackend method that simulates a job's assembled circuits: every Aer job calls it once, however it runs.
AER_SIMULATE = "_execute_circuits"
_INLINE_IDS = itertools.count()


def bound_columns(circuit: QuantumCircuit, parameters: Sequence[Parameter]) -> list[tuple[int, Parameter]]:
    """``(column, parameter)`` for each of ``parameters`` that is still in the transpiled ``circuit``."""
    present = set(circuit.parameters)
    return [(k, p) for k, p in enumerate(parameters) if p in present]


def run_bound(
    backend, jobs: Sequence[Bound], angles: np.ndarray, assembled: AssembledJobs | None = None, **options
) -> list:
    """The experiment results of ONE ``backend.run``: for each (circuit, columns) of ``jobs`` in turn, one
    experiment per row of ``angles``."""
    return bound_results(submit_bound(backend, jobs, angles, assembled, **options))


def submit_bound(
    backend, jobs: Sequence[Bound], angles: np.ndarray, assembled: AssembledJobs | None = None, **options
):
    """Submit ONE ``backend.run`` of ``jobs`` bound to ``angles`` (see :func:`run_bound`); returns the job (a
    local Aer simulator's has already run, see the module docstring; with ``assembled``, on its circuits)."""
    circuits, binds = [], []
    for circuit, columns in jobs:
        if columns:
            circuits.append(circuit)
            binds.append({p: angles[:, k].tolist() for k, p in columns})
        else:  # nothing to bind: one copy per row
            circuits += [circuit] * len(angles)
            binds += [{}] * len(angles)
    if runs_inline(backend):
        return InlineJob(backend, circuits, binds, options, assembled)
    return backend.run(circuits, parameter_binds=binds, **options)


def runs_inline(backend) -> bool:
    """Whether ``backend`` is an Aer simulator whose jobs :class:`InlineJob` may run (``run`` not overridden)."""
    kind = type(backend)
    return (
        isinstance(backend, AerBackend)
        and kind.run is AerBackend.run
        and kind._run_circuits is AerBackend._run_circuits
        and callable(getattr(backend, AER_EXECUTE, None))
    )


class InlineJob:
    """An Aer job run in the calling thread when it is made; ``result()`` returns its result or raises its error."""

    def __init__(
        self, backend: AerBackend, circuits: list, binds: list, options: dict, assembled: AssembledJobs | None = None
    ):
        self._job_id = f"aer-inline-{next(_INLINE_IDS)}"
        self._result = self._error = None
        execute = getattr(backend, AER_EXECUTE) if assembled is None else assembled.run
        try:
            self._result = execute(circuits, binds, dict(options), self._job_id)
        except Exception as error:  # raised where backend.run's job would raise it: at result()
            self._error = error

    def job_id(self) -> str:
        return self._job_id

    def result(self):
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Nothing to cancel: the job ran when it was made."""


def bound_results(job) -> list:
    """The experiment results of a job from :func:`submit_bound`; ``RuntimeError`` if it failed."""
    try:
        result = job.result()
    except Exception as error:
        raise RuntimeError(f"Aer job failed: {error}") from error
    if not result.success:
        raise RuntimeError(f"Aer job failed: {result.status}")
    return result.results
