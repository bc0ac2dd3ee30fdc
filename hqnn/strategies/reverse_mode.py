"""Reverse mode: exact outputs from the torch statevector of the B base rows on the angles' device, gradients by
autograd through the simulation — one backward sweep whatever the number of parameters, no shifted rows."""

from __future__ import annotations

import torch

from ..circuits import CircuitSpec
from ..randomness import ShotStream
from ..statevector import TorchStatevector
from .base import Strategy, check_finite


class ReverseMode(Strategy):
    """Exact values; autograd differentiates them (under ``torch.compile``, an opaque op with its Jacobian)."""

    def __init__(self, spec: CircuitSpec, stream: ShotStream):
        super().__init__(spec, stream)
        self.simulator = TorchStatevector(spec.circuit, spec.angles)

    def outputs(self, gamma: torch.Tensor) -> torch.Tensor:
        """Differentiable outputs (B, n_out)."""
        return self.spec.readout.outputs(self.simulator.features(gamma, self.spec.readout))

    def __call__(self, gamma, need_inputs, need_weights):
        if torch.compiler.is_compiling():
            return super().__call__(gamma, need_inputs, need_weights)
        check_finite(gamma, "circuit angles")
        return self.outputs(gamma)

    def evaluate(self, gamma, need_inputs, need_weights):
        check_finite(gamma, "circuit angles")
        if not (need_inputs or need_weights):
            with torch.no_grad():
                return self.outputs(gamma), None
        with torch.enable_grad():
            angles = gamma.detach().requires_grad_()
            outputs = self.outputs(angles)
            rows = [torch.autograd.grad(column.sum(), angles, retain_graph=True)[0] for column in outputs.unbind(1)]
        return outputs.detach(), torch.stack(rows, dim=1)
