"""Reverse mode: exact outputs from the statevector of the B base rows on the angles' device, gradients by
autograd through the simulation (the adjoint sweep of the numba kernels on the CPU) — one backward sweep whatever
the number of parameters, no shifted rows. On the CPU, a circuit whose entangling gates seldom cross the middle of
the register runs as two halves joined by a Schmidt cut (:mod:`hqnn.schmidt`) when that is less work."""

from __future__ import annotations

import math

import torch

from ..angles import on_host
from ..circuits import CircuitSpec
from ..cost import JobCost
from ..executors.simulated import SimulatorExecutor
from ..kernel_readout import kernel_outputs_of
from ..memory import readout_bytes, reverse_mode_bytes
from ..randomness import ShotStream
from ..schmidt import plan
from .base import Strategy
from .shift_rule import ShiftRule


class ReverseMode(Strategy):
    """Exact values that autograd differentiates.

    Under ``torch.compile`` the layer is one opaque operator, and autograd does not run inside operators: there
    the Jacobian comes from the exact shift rule on the same statevector (equal to 1e-10; 1 + 2K rows).
    """

    def __init__(self, spec: CircuitSpec, stream: ShotStream, executor: SimulatorExecutor | None = None):
        super().__init__(spec, stream)
        self.executor = SimulatorExecutor(spec) if executor is None else executor
        self.simulator = self.executor.simulator
        self.compiled_fallback = ShiftRule(self.executor, math.pi / 2)
        self.cut = self.executor.cut

    def outputs(self, gamma: torch.Tensor) -> torch.Tensor:
        """Differentiable outputs (B, n_out)."""
        if self.cut is not None and gamma.device.type == "cpu":
            return self.cut.outputs(gamma)
        return self.simulator.outputs(gamma, self.spec.readout)

    def __call__(self, gamma, need_inputs, need_weights):
        if torch.compiler.is_compiling():
            return super().__call__(gamma, need_inputs, need_weights)
        self.ledger.add(JobCost.of_rows(len(gamma), 1, None))
        return self.outputs(gamma)

    def outputs_of(self, inputs, weights, need_inputs, need_weights):
        """On the CPU kernels, the angle map runs inside the kernels' autograd node (:func:`kernel_outputs_of`)."""
        if (
            not on_host(inputs, weights)
            or self.simulator.program is None
            or self.spec.angle_map.identity
            or self.cut is not None
        ):
            return super().outputs_of(inputs, weights, need_inputs, need_weights)
        self.ledger.add(JobCost.of_rows(len(inputs), 1, None))
        return kernel_outputs_of(inputs, weights, self.spec.angle_map, self.simulator, self.spec.readout)

    def cost(self, batch, need_inputs=True, need_weights=True):
        return JobCost.of_rows(batch, 1, None)  # one simulation of the base rows, no shots

    def memory(self, batch, device):
        if torch.device(device).type == "cpu" and self.cut is not None:
            return self._cut_bytes(self.cut, self.spec, batch)
        kernels = torch.device(device).type == "cpu" and self.simulator.program is not None
        return self._bytes(self.spec, batch, 0 if kernels else len(self.simulator.steps), device)

    def compiled_memory(self, batch: int, device) -> int:
        """Peak bytes under ``torch.compile``, where the shift rule (1 + 2K rows per sample) gives the Jacobian."""
        return self.compiled_fallback.memory(batch, device)

    @staticmethod
    def _bytes(spec: CircuitSpec, batch: int, steps: int, device) -> int:
        readout = spec.readout
        states = reverse_mode_bytes(spec.n_qubits, batch, steps, len(readout.settings))
        off_host = torch.device(device).type != "cpu"
        return states + readout_bytes(readout.n_features, readout.n_outputs, batch, device_copy=off_host)

    @staticmethod
    def _cut_bytes(cut, spec: CircuitSpec, batch: int) -> int:
        return cut.memory(batch) + readout_bytes(spec.readout.n_features, spec.readout.n_outputs, batch)

    @staticmethod
    def planned_memory(spec: CircuitSpec, batch: int, device: str = "cpu") -> int:
        """:meth:`memory` before the simulator is built: the CPU kernels keep no step states (and a Schmidt cut
        only its two sides'); the torch path (a GPU) keeps about one per instruction."""
        if torch.device(device).type == "cpu":
            cut = plan(spec.circuit, spec.angles, spec.readout)
            if cut is not None:
                return ReverseMode._cut_bytes(cut, spec, batch)
        steps = 0 if torch.device(device).type == "cpu" else len(spec.circuit.data)
        return ReverseMode._bytes(spec, batch, steps, device)

    def evaluate(self, gamma, need_inputs, need_weights):
        return self.compiled_fallback.evaluate(gamma, need_inputs, need_weights)

    def __repr__(self) -> str:
        cut = "" if self.cut is None else f"Schmidt cut after qubit {self.cut.cut - 1} on the CPU, "
        return f"ReverseMode({cut}under torch.compile: {self.compiled_fallback!r})"
