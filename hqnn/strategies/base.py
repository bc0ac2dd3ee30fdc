"""A differentiation strategy: how one layer turns a batch of angles into outputs and their Jacobian, chosen once
when the layer is built. The torch glue (:mod:`hqnn.autograd`) stays the same for all of them."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..autograd import check_finite, evaluate_op, register
from ..circuits import CircuitSpec
from ..cost import JobCost, Ledger
from ..executors.jobs import JobPolicy
from ..randomness import ShotStream


class Strategy(ABC):
    """Outputs of ``spec`` for angles γ (B, K), with d outputs / d γ when asked.

    ``evaluate`` returns the Jacobian as (B, n_out, K), or as (B, K) when ``diagonal`` (angle k drives output k
    alone); ``stream`` is the seeded shot noise (unused by exact strategies, kept for a uniform state);
    ``ledger`` sums the jobs, circuits and executions (circuits × shots) it actually submitted.
    """

    diagonal = False
    #: The shift of the second-order shift rule for ``create_graph=True``; None: this strategy refuses.
    second_order_shift: float | None = None

    def __init__(self, spec: CircuitSpec, stream: ShotStream):
        self.spec = spec
        self.stream = stream
        self.jobs = JobPolicy()  # the layer sets its own: max_executions, retries, backoff
        self.memory_rows: int | None = None  # set per batch by the layer when its jobs must split to fit memory
        self.ledger = Ledger()
        self.handle = register(self)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "handle"}

    def __setstate__(self, state: dict) -> None:  # a copy is a new layer: it gets its own handle
        self.__dict__.update(state)
        self.handle = register(self)

    @abstractmethod
    def evaluate(
        self, gamma: torch.Tensor, need_inputs: bool, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Values (B, n_out) and, if a gradient is needed, the Jacobian by the angles the needed parameters
        reach (other columns may be zero); otherwise None. Runs without autograd."""

    def __call__(self, gamma: torch.Tensor, need_inputs: bool, need_weights: bool) -> torch.Tensor:
        """Outputs (B, n_out) that autograd can differentiate by ``gamma``."""
        return evaluate_op(self, gamma, need_inputs, need_weights)

    def outputs_of(
        self, inputs: torch.Tensor, weights: torch.Tensor, need_inputs: bool, need_weights: bool
    ) -> torch.Tensor:
        """Outputs (B, n_out) of a layer's inputs (B, n_in) and weights: the spec's angle map, then this strategy;
        differentiable by both."""
        angle_map = self.spec.angle_map
        gamma = angle_map(inputs, weights)
        if not angle_map.affine and not torch.compiler.is_compiling():  # finite in, NaN out: e.g. log(−1)
            check_finite(gamma, "circuit angles")
        return self(gamma, need_inputs, need_weights)

    @abstractmethod
    def memory(self, batch: int, device: torch.device) -> int:
        """Peak bytes of a forward + backward of ``batch`` samples on ``device`` (0: runs elsewhere)."""

    @abstractmethod
    def cost(self, batch: int, need_inputs: bool = True, need_weights: bool = True) -> JobCost:
        """Jobs, circuits and executions of one forward (+ backward when a gradient is needed) of ``batch``
        samples, without running anything."""

    def rows_within(self, batch: int, limit: int, device: torch.device) -> int | None:
        """The most rows one job may hold for a batch of ``batch`` to fit ``limit`` bytes by splitting it into
        jobs that run one after another; ``None`` when this strategy cannot split (its memory is the batch's)."""
        return None

    def jacobian_shape(self, batch: int) -> tuple[int, ...]:
        spec = self.spec
        return (batch, spec.n_angles) if self.diagonal else (batch, spec.n_outputs, spec.n_angles)

    def __repr__(self) -> str:
        return type(self).__name__
