"""The torch glue: one custom operator, ``hqnn::evaluate``, runs a layer's strategy on a batch of angles and
returns the values with the Jacobian by the angles; its backward contracts the incoming gradient with that
Jacobian (an einsum) and never runs a job. Being an opaque operator, it works under ``torch.compile``."""

from __future__ import annotations

import itertools
import weakref

import torch

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
    values, _ = torch.ops.hqnn.evaluate(gamma, strategy.handle, need_inputs, need_weights)
    return values


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
    grad = grad_values.to(jacobian.dtype)
    if jacobian.dim() == 2:  # diagonal: angle k drives output k alone
        return grad * jacobian, None, None, None
    return torch.einsum("bo,bok->bk", grad, jacobian), None, None, None


_evaluate.register_autograd(_backward, setup_context=_setup_context)
