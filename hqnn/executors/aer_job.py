"""One Aer job for a whole angle matrix: each surviving circuit parameter bound to its column, failures raised.

Transpilation may optimize some parameters away; only those still in the circuit are bound (the estimates do
not depend on the others).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter


def bound_columns(circuit: QuantumCircuit, parameters: Sequence[Parameter]) -> list[tuple[int, Parameter]]:
    """``(column, parameter)`` for each of ``parameters`` that is still in the transpiled ``circuit``."""
    present = set(circuit.parameters)
    return [(k, p) for k, p in enumerate(parameters) if p in present]


def run_bound(backend, circuit: QuantumCircuit, columns: list[tuple[int, Parameter]], angles: np.ndarray, **options):
    """The experiment results of ONE ``backend.run``: row r of ``angles`` is experiment r."""
    if columns:
        binds, circuits = [{p: angles[:, k].tolist() for k, p in columns}], circuit
    else:
        binds, circuits = None, [circuit] * len(angles)
    try:
        result = backend.run(circuits, parameter_binds=binds, **options).result()
    except Exception as error:
        raise RuntimeError(f"Aer job failed: {error}") from error
    if not result.success:
        raise RuntimeError(f"Aer job failed: {result.status}")
    return result.results
