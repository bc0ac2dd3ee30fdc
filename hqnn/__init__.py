"""hqnn: parameterized Qiskit circuits inside PyTorch networks, with parameter-shift gradients for a whole
batch and every shift in one simulator job."""

from .autograd import HybridFunction
from .chapter import QuantumCircuit
from .circuits import CircuitSpec, chapter_circuit
from .engine import ShiftEngine
from .executors import (
    AerExecutor,
    AnalyticExecutor,
    EmulatorExecutor,
    Executor,
    StatevectorExecutor,
    make_executor,
)
from .layer import Hybrid
from .shift import ShiftPlan

__version__ = "0.1.0"

__all__ = [
    "AerExecutor",
    "AnalyticExecutor",
    "CircuitSpec",
    "EmulatorExecutor",
    "Executor",
    "Hybrid",
    "HybridFunction",
    "QuantumCircuit",
    "ShiftEngine",
    "ShiftPlan",
    "StatevectorExecutor",
    "chapter_circuit",
    "make_executor",
]
