"""``Hybrid``: the drop-in quantum layer. Input (..., n_in) → output (..., n_out), gradients by parameter shift."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from torch import nn

from .autograd import HybridFunction, to_numpy
from .circuits import CircuitSpec, chapter_circuit
from .engine import ShiftEngine
from .executors import Executor, SeedLike, make_executor


class Hybrid(nn.Module):
    """A parameterized circuit as a PyTorch layer, evaluated for a whole batch and all shifts in one job.

    ``Hybrid(AerSimulator(), 100, np.pi / 2)`` is the chapter's layer (H·RY(θ), output P(1)), for any batch.
    ``backend``: ``"aer"`` (default), ``"analytic"`` (exact), ``"emulator"``, an Aer backend, a Qiskit
    ``BaseSamplerV2``, another ``BackendV2`` (a fake device), or an :class:`~hqnn.executors.Executor` (which
    brings its own circuit, shots and seed). ``shots=None`` is exact.
    ``circuit`` with ordered ``inputs`` (one per feature) and trainable ``weights`` replaces the chapter's
    circuit; ``qubits`` picks the readout qubits, ``readout`` is ``"p1"`` or ``"z"``.
    Circuit weights are an ``nn.Parameter`` initialised uniformly in [0, 2π) (from ``seed`` when given).
    """

    def __init__(
        self,
        backend="aer",
        shots: int | None = 100,
        shift: float = math.pi / 2,
        *,
        circuit: QuantumCircuit | None = None,
        inputs: Sequence[Parameter] | None = None,
        weights: Sequence[Parameter] | None = None,
        readout: str = "p1",
        qubits: Sequence[int] | None = None,
        seed: SeedLike = None,
    ):
        super().__init__()
        if isinstance(backend, Executor):
            if circuit is not None or inputs is not None or weights is not None:
                raise ValueError("an Executor brings its own circuit spec: do not also pass circuit/inputs/weights")
            spec = backend.spec
        elif circuit is None:
            if inputs is not None or weights is not None or qubits is not None:
                raise ValueError("inputs/weights/qubits describe a custom circuit: pass circuit= too")
            spec = chapter_circuit(readout=readout)
        else:
            if inputs is None:
                raise ValueError("a custom circuit needs inputs=[...]: the parameters fed by the input features")
            spec = CircuitSpec.from_circuit(circuit, inputs, weights or (), readout=readout, qubits=qubits)
        self.engine = ShiftEngine(make_executor(backend, spec, shots, seed), shift)
        generator = torch.Generator().manual_seed(seed) if isinstance(seed, int) else None
        self.weights = nn.Parameter(
            torch.rand(spec.n_weights, generator=generator, dtype=torch.float64) * (2 * math.pi)
        )

    @property
    def spec(self) -> CircuitSpec:
        return self.engine.spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"Hybrid expects a floating-point tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
        if x.dim() == 0 or x.shape[-1] != spec.n_inputs:
            raise ValueError(
                f"Hybrid expects input of shape (..., {spec.n_inputs}) (one angle per circuit input), "
                f"got {tuple(x.shape)}"
            )
        lead = x.shape[:-1]
        flat = x.reshape(-1, spec.n_inputs)
        if torch.is_grad_enabled() and (x.requires_grad or self.weights.requires_grad):
            out = HybridFunction.apply(flat, self.weights, self.engine)
        else:
            values, _, _ = self.engine.evaluate(to_numpy(flat), to_numpy(self.weights))
            out = torch.from_numpy(values).to(dtype=x.dtype, device=x.device)
        return out.reshape(*lead, spec.n_outputs)

    def rng_state(self) -> dict:
        """The state of this layer's shot-noise stream (a checkpoint keeps it; see :meth:`set_rng_state`)."""
        return {"executor": self.engine.executor.rng.bit_generator.state}

    def set_rng_state(self, state: dict) -> None:
        """Continue the shot-noise stream from a state returned by :meth:`rng_state`."""
        self.engine.executor.rng.bit_generator.state = state["executor"]

    def extra_repr(self) -> str:
        spec = self.spec
        return (
            f"inputs={spec.n_inputs}, weights={spec.n_weights}, outputs={spec.n_outputs}, "
            f"readout={spec.readout!r}, shift={self.engine.plan.shift:.6g}, executor={self.engine.executor!r}"
        )
