"""hqnn: parameterized Qiskit circuits inside PyTorch networks, with parameter-shift gradients for a whole
batch and every shift in one simulator job, and exact reverse-mode gradients on a statevector.

The public names load on first use (PEP 562), so ``import hqnn`` and the ``hqnn`` command's argument
checks do not pay for torch, qiskit and numba until something needs them.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0"

#: Public name → the submodule that defines it.
_EXPORTS = {
    "AerExecutor": "executors",
    "Ansatz": "ansatz",
    "RYKernelExecutor": "executors",
    "CircuitSpec": "circuits",
    "ClosedForm": "strategies",
    "EmulatorExecutor": "executors",
    "EstimatorExecutor": "executors",
    "Executor": "executors",
    "Hybrid": "layer",
    "QuantumCircuit": "chapter",
    "ReverseMode": "strategies",
    "SamplerExecutor": "executors",
    "ShiftPlan": "shift",
    "ShiftRule": "strategies",
    "SampledShift": "strategies",
    "SPSA": "strategies",
    "AerStatevectorExecutor": "executors",
    "Strategy": "strategies",
    "SimulatorExecutor": "executors",
    "angle_encoder": "ansatz",
    "chapter_circuit": "circuits",
    "choose_strategy": "strategies",
    "entangling_ansatz": "ansatz",
    "executor_for": "backends",
    "from_qnn": "interop",
    "reuploading": "ansatz",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Import a public name's submodule on first use; submodules themselves (``hqnn.stats``) load the same way."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
