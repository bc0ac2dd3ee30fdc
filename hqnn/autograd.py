"""The torch glue: a layer's strategy runs on a batch of angles and returns the values with the Jacobian by the
angles; the backward contracts the incoming gradient with that Jacobian (an einsum) and never runs a job. Eager
calls go through a plain ``autograd.Function`` (a few µs); under ``torch.compile`` the same work is the opaque
custom operator ``hqnn::evaluate``, so dynamo never traces into numba or Qiskit.

Second derivatives (``create_graph=True``: hessians, gradient penalties): the Jacobian is then rebuilt as a
differentiable function of the angles by the shift rule on the strategy itself, J_k(γ) = [f(γ + s e_k) −
f(γ − s e_k)] / (2 sin s), whose own backward is the strategy's Jacobian at the shifted rows: the second-order
shift rule (exact for the two-term gates hqnn reduces every circuit to). A strategy without a shift
(``second_order_shift = None``) refuses; it never returns a silent 0."""

from __future__ import annotations

import itertools
import math
import weakref

import torch

from .kernels.finite import all_finite

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
        ctx.save_for_backward(jacobian, gamma)
        ctx.strategy, ctx.needs = strategy, (need_inputs, need_weights)
        return values

    @staticmethod
    def backward(ctx, grad_values):
        jacobian, gamma = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the gradient must itself be differentiable
            jacobian = differentiable_jacobian(ctx.strategy, gamma, *ctx.needs)
        return contract(grad_values, jacobian), None, None, None


def differentiable_jacobian(strategy, gamma: torch.Tensor, need_inputs: bool, need_weights: bool) -> torch.Tensor:
    """``strategy``'s Jacobian at γ (B, K) as a differentiable function of γ: the shift rule on the strategy's
    own differentiable outputs (one more job of 2·K'·B rows, K' the shifted angles), or ``RuntimeError``."""
    shift = getattr(strategy, "second_order_shift", None)
    if shift is None:
        raise RuntimeError(
            f"second derivatives (create_graph=True: hessians, gradient penalties) are not available on {strategy!r}; "
            "use diff_method='shift' (the second-order shift rule)"
        )
    two_sin = 2 * math.sin(shift)
    if strategy.diagonal:  # angle k drives output k alone: shift every angle at once
        plus, minus = evaluate_op(strategy, torch.cat((gamma + shift, gamma - shift)), need_inputs, need_weights).chunk(2)
        return (plus - minus) / two_sin
    batch, n_angles = gamma.shape
    columns = torch.as_tensor(strategy.shifted(need_inputs, need_weights), dtype=torch.long, device=gamma.device)
    steps = torch.zeros(len(columns), n_angles, dtype=gamma.dtype, device=gamma.device)
    steps[torch.arange(len(columns)), columns] = shift
    rows = torch.cat(((gamma[None] + steps[:, None]).reshape(-1, n_angles), (gamma[None] - steps[:, None]).reshape(-1, n_angles)))
    out = evaluate_op(strategy, rows, need_inputs, need_weights).reshape(2, len(columns), batch, -1)
    slopes = ((out[0] - out[1]) / two_sin).permute(1, 2, 0)  # (B, n_out, K')
    return slopes.new_zeros(batch, slopes.shape[1], n_angles).index_copy(2, columns, slopes)


def contract(grad_values: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
    """dL/dγ (B, K) from dL/d outputs (B, n_out) and the Jacobian (B, n_out, K), or (B, K) when diagonal."""
    grad = grad_values.to(jacobian.dtype)
    if jacobian.dim() == 2:  # diagonal: angle k drives output k alone
        return grad * jacobian
    return torch.bmm(grad[:, None], jacobian)[:, 0]  # the product einsum("bo,bok->bk") makes, without its parsing


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
    return values, gamma.new_empty(0) if jacobian is None else jacobian.contiguous()  # the strides the fake promises


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
    if torch.is_grad_enabled():
        raise RuntimeError(
            "second derivatives (create_graph=True) of an hqnn layer are not available under torch.compile: "
            "compute hessians and gradient penalties in eager mode"
        )
    return contract(grad_values, jacobian), None, None, None


_evaluate.register_autograd(_backward, setup_context=_setup_context)


def check_finite(tensor: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` if ``tensor`` holds NaN or inf."""
    if tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64):  # numba: 6.8 → 2.5 µs here
        finite = all_finite(tensor.detach().numpy().reshape(-1))
    else:  # a finite sum proves every term finite (NaN and inf propagate); only an overflowing sum needs the scan
        finite = bool(torch.isfinite(tensor.sum()) or torch.isfinite(tensor).all())
    if not finite:
        raise ValueError(f"{what} contain NaN or inf; check the layer before it (learning rate, inputs)")


def differentiable_grads(function, parameters: tuple, needed: tuple, grad: torch.Tensor) -> list:
    """dL/d``parameters`` of ``function(*parameters)`` for the cotangent ``grad``, differentiable again
    (``create_graph``); None where not ``needed``, zeros where the function does not use a needed parameter. The
    double backward of hqnn's numpy nodes: the same function as torch operations."""
    with torch.enable_grad():
        outputs = function(*parameters)
    wanted = [p for p, need in zip(parameters, needed) if need]
    found = iter(torch.autograd.grad(outputs, wanted, grad.to(outputs.dtype), create_graph=True, allow_unused=True))
    grads = [next(found) if need else None for need in needed]
    return [torch.zeros_like(p) if need and g is None else g for p, need, g in zip(parameters, needed, grads)]
