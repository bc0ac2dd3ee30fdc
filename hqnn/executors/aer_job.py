"""One Aer job for a whole angle matrix and several circuits: each surviving circuit parameter bound to its
column, failures raised. Transpilation may optimize some parameters away; only those still in a circuit are
bound (its results do not depend on the others)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

Bound = tuple[QuantumCircuit, list[tuple[int, Parameter]]]


def bound_columns(circuit: QuantumCircuit, parameters: Sequence[Parameter]) -> list[tuple[int, Parameter]]:
    """``(column, parameter)`` for each of ``parameters`` that is still in the transpiled ``circuit``."""
    present = set(circuit.parameters)
    return [(k, p) for k, p in enumerate(parameters) if p in present]


def run_bound(backend, jobs: Sequence[Bound], angles: np.ndarray, **options) -> list:
    """The experiment results of ONE ``backend.run``: for each (circuit, columns) of ``jobs`` in turn, one
    experiment per row of ``angles``."""
    return bound_results(submit_bound(backend, jobs, angles, **options))


def submit_bound(backend, jobs: Sequence[Bound], angles: np.ndarray, **options):
    """Submit ONE ``backend.run`` of ``jobs`` bound to ``angles`` (see :func:`run_bound`); returns the job."""
    circuits, binds = [], []
    for circuit, columns in jobs:
        if columns:
            circuits.append(circuit)
            binds.append({p: angles[:, k].tolist() for k, p in columns})
        else:  # nothing to bind: one copy per row
            circuits += [circuit] * len(angles)
            binds += [{}] * len(angles)
    return backend.run(circuits, parameter_binds=binds, **options)


def bound_results(job) -> list:
    """The experiment results of a job from :func:`submit_bound`; ``RuntimeError`` if it failed."""
    try:
        result = job.result()
    except Exception as error:
        raise RuntimeError(f"Aer job failed: {error}") from error
    if not result.success:
        raise RuntimeError(f"Aer job failed: {result.status}")
    return result.results
