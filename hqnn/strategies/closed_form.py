"""Closed form: the chapter's H·RY circuit needs no simulation. Exact values and slopes come from
(1 + sin γ)/2 and cos γ / 2; with shots, values and shift-rule slopes are binomial draws at γ and γ ± s from one
seeded torch generator on the angles' device (the distribution of the shift rule's 3·B rows, without them)."""

from __future__ import annotations

import math

import torch

from ..circuits import CircuitSpec
from ..cost import JobCost
from ..randomness import ShotStream
from .base import Strategy


class ClosedForm(Strategy):
    """Values and the diagonal Jacobian of a spec with a closed form (``spec.closed_form``)."""

    diagonal = True

    def __init__(self, spec: CircuitSpec, shots: int | None, shift: float, stream: ShotStream):
        if not spec.has_closed_form:
            raise ValueError("the closed form needs the chapter circuit (hqnn.chapter_circuit) read out per qubit")
        super().__init__(spec, stream)
        self.shots, self.shift = shots, shift
        self._scale = -2.0 if spec.readout.kind == "z" else 1.0

    @property
    def second_order_shift(self) -> float:
        """The shift of the second-order shift rule (:func:`hqnn.autograd.differentiable_jacobian`)."""
        return self.shift

    def evaluate(self, gamma, need_inputs, need_weights):
        form, need = self.spec.closed_form, need_inputs or need_weights
        if self.shots is None:
            p1, slope = form.p1(gamma), (form.slope(gamma) if need else None)
        else:
            points = torch.stack((gamma, gamma + self.shift, gamma - self.shift)) if need else gamma[None]
            self.ledger.add(JobCost.of_rows(len(points) * len(gamma), 1, self.shots))
            generator = self.stream.torch(gamma.device)
            p = form.p1(points.to(torch.float64))
            draws = torch.binomial(torch.full_like(p, float(self.shots)), p, generator=generator).div_(self.shots)
            p1 = draws[0].to(gamma.dtype)
            slope = ((draws[1] - draws[2]) / (2 * math.sin(self.shift))).to(gamma.dtype) if need else None
        if self._scale == 1.0:
            return p1, slope
        return p1.mul_(-2.0).add_(1.0), (None if slope is None else slope.mul_(-2.0))

    def cost(self, batch, need_inputs=True, need_weights=True):
        need = self.shots is not None and (need_inputs or need_weights)
        return JobCost.of_rows(batch * (3 if need else 1), 1, self.shots)  # the shift rule's rows it draws

    def memory(self, batch, device):
        return self.planned_memory(self.spec, batch)

    @staticmethod
    def planned_memory(spec: CircuitSpec, batch: int) -> int:
        return 64 * batch * spec.n_angles  # a few floats per angle and row

    def __repr__(self) -> str:
        shots = "exact" if self.shots is None else f"shots={self.shots}, shift={self.shift:.6g}"
        return f"ClosedForm({self.spec.closed_form!r}, {shots})"
