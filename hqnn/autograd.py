"""The torch glue: a layer's strategy runs on a batch of angles and returns the values with the Jacobian by the
angles; the backward contracts the incoming gradient with that Jacobian (an einsum) and never runs a job. Eager
calls go through a plain ``autograd.Function`` (a few µs); under ``torch.compile`` the same work is the opaque
custom operator ``hqnn::evaluate``, so dynamo never traces into numba or Qiskit."""

from __future__ import annotations

import itertools
import weakref

import torch
from torch.autograd.function import once_differentiable

#: Strategies by handle: custom operators take tensors and numbers, so a layer's strategy travels as an int.
_STRATEGIES: dict[int, weakref.ref] = {}
_HANDLES = itertools.count()


def register(strategy) -> int:
    """A fresh handle for ``strategy``, valid while it lives."""
    handle = next(_HANDLES)
    _STRATEGIES[handle] = weakref.ref(strategy)
    weakref.finalize(strategy, _STRATEGIES.pop, handle, None)
    return handle


def evaluate_op(strategy, gamma: torch.Tensor, need_inputs: bool, need_weights: bool) -> torch.Tensor:
    """``strategy``'s outputs (B, n_out) for angles γ (B, K), differentiable by γ."""
    if torch.compiler.is_compiling():
        values, _ = torch.ops.hqnn.evaluate(gamma, strategy.handle, need_inputs, need_weights)
        return values
    return _Evaluate.apply(gamma, strategy, need_inputs, need_weights)


class _Evaluate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gamma, strategy, need_inputs, need_weights):
        values, jacobian = strategy.evaluate(gamma, need_inputs, need_weights)
        ctx.save_for_backward(jacobian)
        return values

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_values):
        (jacobian,) = ctx.saved_tensors
        return contract(grad_values, jacobian), None, None, None


def contract(grad_values: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
    """dL/dγ (B, K) from dL/d outputs (B, n_out) and the Jacobian (B, n_out, K), or (B, K) when diagonal."""
    grad = grad_values.to(jacobian.dtype)
    if jacobian.dim() == 2:  # diagonal: angle k drives output k alone
        return grad * jacobian
    return torch.einsum("bo,bok->bk", grad, jacobian)


def _strategy(handle: int):
    strategy = _STRATEGIES[handle]()
    if strategy is None:  # pragma: no cover - a handle outlives its layer only through misuse
        raise RuntimeError("hqnn::evaluate called with the handle of a layer that no longer exists")
    return strategy


@torch.library.custom_op("hqnn::evaluate", mutates_args=())
def _evaluate(
    gamma: torch.Tensor, handle: int, need_inputs: bool, need_weights: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    strategy = _strategy(handle)
    check_finite(gamma, "circuit angles")  # compiled: the layer's own checks did not run
    values, jacobian = strategy.evaluate(gamma, need_inputs, need_weights)
    return values, gamma.new_empty(0) if jacobian is None else jacobian


@_evaluate.register_fake
def _(gamma, handle, need_inputs, need_weights):
    strategy = _strategy(handle)
    batch = gamma.shape[0]
    shape = strategy.jacobian_shape(batch) if need_inputs or need_weights else (0,)
    return gamma.new_empty(batch, strategy.spec.n_outputs), gamma.new_empty(shape)


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(output[1])


def _backward(ctx, grad_values, _grad_jacobian):
    (jacobian,) = ctx.saved_tensors
    return contract(grad_values, jacobian), None, None, None


_evaluate.register_autograd(_backward, setup_context=_setup_context)


def check_finite(tensor: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` if ``tensor`` holds NaN or inf."""
    # A finite sum proves every term finite (NaN and inf propagate); only an overflowing sum needs the full scan.
    if not (torch.isfinite(tensor.sum()) or torch.isfinite(tensor).all()):
        raise ValueError(f"{what} contain NaN or inf; check the layer before it (learning rate, inputs)")
