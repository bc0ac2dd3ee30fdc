"""hqnn: parameterized Qiskit circuits inside PyTorch networks, with parameter-shift gradients for a whole
batch and every shift in one simulator job, and exact reverse-mode gradients on a torch statevector."""

from .ansatz import Ansatz, angle_encoder, entangling_ansatz, reuploading
from .chapter import QuantumCircuit
from .circuits import CircuitSpec, chapter_circuit
from .interop import from_qnn
from .executors import (
    AerExecutor,
    AnalyticExecutor,
    EmulatorExecutor,
    EstimatorExecutor,
    Executor,
    SamplerExecutor,
    StatevectorExecutor,
    TorchStatevectorExecutor,
)
from .layer import Hybrid
from .shift import ShiftPlan
from .strategies import ClosedForm, ReverseMode, ShiftRule, Strategy, choose_strategy

__version__ = "0.1.0"

__all__ = [
    "AerExecutor",
    "Ansatz",
    "AnalyticExecutor",
    "CircuitSpec",
    "ClosedForm",
    "EmulatorExecutor",
    "EstimatorExecutor",
    "Executor",
    "Hybrid",
    "QuantumCircuit",
    "ReverseMode",
    "SamplerExecutor",
    "ShiftPlan",
    "ShiftRule",
    "StatevectorExecutor",
    "Strategy",
    "TorchStatevectorExecutor",
    "angle_encoder",
    "chapter_circuit",
    "choose_strategy",
    "entangling_ansatz",
    "from_qnn",
    "reuploading",
]
