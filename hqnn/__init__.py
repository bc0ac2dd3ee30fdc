"""hqnn: parameterized Qiskit circuits inside PyTorch networks, with parameter-shift gradients for a whole
batch and every shift in one simulator job."""

from .ansatz import Ansatz, angle_encoder, entangling_ansatz, reuploading
from .autograd import HybridFunction
from .chapter import QuantumCircuit
from .circuits import CircuitSpec, chapter_circuit
from .engine import ShiftEngine
from .executors import (
    AerExecutor,
    AnalyticExecutor,
    BatchedStatevectorExecutor,
    EmulatorExecutor,
    Executor,
    SamplerExecutor,
    StatevectorExecutor,
    make_executor,
)
from .layer import Hybrid
from .shift import ShiftPlan

__version__ = "0.1.0"

__all__ = [
    "AerExecutor",
    "Ansatz",
    "AnalyticExecutor",
    "BatchedStatevectorExecutor",
    "CircuitSpec",
    "EmulatorExecutor",
    "Executor",
    "Hybrid",
    "HybridFunction",
    "SamplerExecutor",
    "QuantumCircuit",
    "ShiftEngine",
    "ShiftPlan",
    "StatevectorExecutor",
    "angle_encoder",
    "chapter_circuit",
    "entangling_ansatz",
    "make_executor",
    "reuploading",
]
