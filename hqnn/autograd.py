"""``HybridFunction``: forward runs values and all shifts in one job and keeps the Jacobians;
backward contracts the incoming gradient with them (an einsum) and never runs a job."""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .engine import ShiftEngine


class HybridFunction(torch.autograd.Function):
    """y = f(x, w) for a circuit spec; x is (B, n_in) float, w is (n_w,)."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weights: torch.Tensor, engine: ShiftEngine) -> torch.Tensor:
        need_inputs, need_weights = ctx.needs_input_grad[:2]
        values, j_inputs, j_weights = engine.evaluate(
            to_numpy(inputs), to_numpy(weights), need_inputs, need_weights
        )
        ctx.j_inputs, ctx.j_weights = j_inputs, j_weights
        ctx.input_meta = (inputs.dtype, inputs.device)
        ctx.weight_meta = (weights.dtype, weights.device)
        return torch.from_numpy(values).to(dtype=inputs.dtype, device=inputs.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        grad = to_numpy(grad_output)  # numpy: ~10x less call overhead than torch for the small batches of training
        grad_inputs = grad_weights = None
        if ctx.j_inputs is not None:
            dtype, device = ctx.input_meta
            grad_inputs = torch.from_numpy(np.einsum("bo,boi->bi", grad, ctx.j_inputs)).to(dtype=dtype, device=device)
        if ctx.j_weights is not None:
            dtype, device = ctx.weight_meta
            grad_weights = torch.from_numpy(np.einsum("bo,bow->w", grad, ctx.j_weights)).to(dtype=dtype, device=device)
        return grad_inputs, grad_weights, None


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float64 CPU numpy copy-or-view of ``tensor`` (detached)."""
    return tensor.detach().to("cpu", torch.float64).numpy()
