"""Angles from parameters: γ_k = g_k(θ) for θ = (inputs, weights). Affine angles a·θ + b are one matrix product;
any other differentiable expression is evaluated term by term. Either way autograd carries gradients from the
angles back to the parameters (the chain rule per sample), so the shift rule only differentiates angles.

On the CPU the map is one autograd node computed without torch: the affine part and its transpose by the numba
kernels of :mod:`hqnn.kernels.affine`, each non-affine angle and its compiled partial derivatives with numpy.
torch's matrix products and per-term nodes cost more than the simulation at a few qubits (4 qubits, 32 rows: 84 µs
forward + backward for the affine map, ~740 µs for ``zz_feature_map``'s 12 products of inputs). Elsewhere (a GPU,
``torch.compile``, a backward that must itself be differentiable) the same map runs as torch operations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from qiskit.circuit import Parameter, ParameterExpression

from .autograd import differentiable_grads
from .constants import TensorCache
from .expressions import Compiled, compile_expression, compile_numpy_batch, compile_partials_batch
from .kernels.affine import affine_angles, affine_backward


class AngleMap:
    """γ (B, K) from inputs (B, n_in) and weights (n_w,), for K angle expressions over ``inputs + weights``.

    ``coefficients`` (K, P) and ``offsets`` (K,) hold the affine angles (rows of other angles are zero);
    ``uses_inputs`` / ``uses_weights`` (K,) say which angles depend on which kind of parameter.
    """

    def __init__(
        self,
        expressions: Sequence[ParameterExpression],
        inputs: Sequence[Parameter],
        weights: Sequence[Parameter],
        where: Sequence[str],
    ):
        params = tuple(inputs) + tuple(weights)
        self.n_inputs, self.n_weights = len(inputs), len(weights)
        self._names = [p.name for p in params]
        index = {p: j for j, p in enumerate(params)}
        k_total = len(expressions)
        self.coefficients = np.zeros((k_total, len(params)))
        self.offsets = np.zeros(k_total)
        depends = np.zeros((k_total, len(params)), dtype=bool)
        self._nonlinear: list[tuple[int, Compiled]] = []
        self._expressions: dict[int, tuple[ParameterExpression, str]] = {}
        for k, (expression, place) in enumerate(zip(expressions, where)):
            for p in expression.parameters:
                depends[k, index[p]] = True
            affine = _affine(expression, index)
            if affine is None:
                self._nonlinear.append((k, compile_expression(expression, place)))
                self._expressions[k] = (expression, place)
            else:
                self.coefficients[k], self.offsets[k] = affine
        self.uses_inputs = depends[:, : self.n_inputs].any(axis=1)
        self.uses_weights = depends[:, self.n_inputs :].any(axis=1)
        self.identity = (
            not self._nonlinear
            and self.n_weights == 0
            and np.array_equal(self.coefficients, np.eye(self.n_inputs))
            and not self.offsets.any()
        )
        self._constants = TensorCache()
        self._host_constants: dict = {}
        nonlinear = [expression for expression, _ in self._expressions.values()]
        self._host_nonlinear = compile_numpy_batch(nonlinear, self._names) if nonlinear else None
        self._partials: tuple | None = None

    @property
    def n_angles(self) -> int:
        return len(self.offsets)

    @property
    def affine(self) -> bool:
        return not self._nonlinear

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """γ (B, K) in the inputs' dtype and device; differentiable in both arguments."""
        if self.identity:  # γ = x (the chapter's layer): the inputs themselves, no copy
            return inputs
        if on_host(inputs, weights):
            return _HostAngles.apply(inputs, weights, self)
        return self.torch_angles(inputs, weights)

    def torch_angles(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """γ as torch operations (any device, traceable, differentiable any number of times)."""
        get, dtype, device = self._constants.get, inputs.dtype, inputs.device
        weights = weights.to(dtype)
        a_in = get("a_in", self.coefficients[:, : self.n_inputs].T, dtype, device)
        a_w = get("a_w", self.coefficients[:, self.n_inputs :].T, dtype, device)
        bias = get("b", self.offsets, dtype, device) + weights @ a_w
        # One input: an outer product, ~10× faster than a k = 1 matmul for large B.
        gamma = (inputs * a_in[0] if self.n_inputs == 1 else inputs @ a_in) + bias
        if self._nonlinear:
            values = dict(zip(self._names, [*inputs.unbind(1), *weights.unbind(0)]))
            columns = [
                torch.as_tensor(f(values), dtype=dtype, device=device).expand(len(inputs)) for _, f in self._nonlinear
            ]
            index = get("nonlinear", lambda: [k for k, _ in self._nonlinear], torch.long, device)
            gamma = gamma.index_copy(1, index, torch.stack(columns, 1))
        return gamma

    def host_angles(self, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """γ (B, K) with numpy, in the inputs' dtype."""
        a_in, a_w, bias, _, _ = self._host(inputs.dtype)
        gamma = np.empty((len(inputs), self.n_angles), dtype=inputs.dtype)
        affine_angles(inputs, weights.astype(inputs.dtype, copy=False), a_in, a_w, bias, gamma)
        if self._host_nonlinear is not None:
            with np.errstate(all="ignore"):  # NaN or inf angles are refused by the layer, naming the expression
                for k, value in zip(self._expressions, self._host_nonlinear(*self._host_values(inputs, weights))):
                    gamma[:, k] = value
        return gamma

    def host_backward(self, inputs: np.ndarray, weights: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, ...]:
        """(dL/d inputs, dL/d weights) from dL/dγ = ``grad`` (B, K), with numpy."""
        _, _, _, c_in, c_w = self._host(grad.dtype)
        grad_inputs = np.empty((len(grad), self.n_inputs), dtype=grad.dtype)
        grad_weights = np.empty(self.n_weights, dtype=grad.dtype)
        affine_backward(grad, c_in, c_w, grad_inputs, grad_weights)
        if self._host_nonlinear is not None:
            columns, to_inputs, to_weights, partials = self._host_partials(grad.dtype)
            terms = np.empty((len(columns), len(grad)), dtype=grad.dtype)
            with np.errstate(all="ignore"):
                for row, partial in zip(terms, partials(*self._host_values(inputs, weights))):
                    row[:] = partial
                terms *= grad.T[columns]  # dL/dγ_k · ∂γ_k/∂θ_j, one row per pair (k, j)
            grad_inputs += (to_inputs @ terms).T
            grad_weights += to_weights @ terms.sum(axis=1)
        return grad_inputs, grad_weights

    def _host(self, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """(a_in, a_w, b, c_in, c_w): the coefficients as numpy arrays of ``dtype``, made once per dtype."""
        if dtype not in self._host_constants:
            c = self.coefficients.astype(dtype)
            self._host_constants[dtype] = tuple(
                np.ascontiguousarray(a)
                for a in (c[:, : self.n_inputs].T, c[:, self.n_inputs :].T, self.offsets.astype(dtype),
                          c[:, : self.n_inputs], c[:, self.n_inputs :])
            )
        return self._host_constants[dtype]

    def _host_values(self, inputs: np.ndarray, weights: np.ndarray) -> list:
        """One value per parameter, in ``_names``' order: the inputs' columns, the weights as scalars."""
        return [*np.ascontiguousarray(inputs.T), *weights.astype(inputs.dtype)]

    def _host_partials(self, dtype: np.dtype) -> tuple:
        """(angle column k of each pair (k, j), the 0/1 matrices summing the pairs into each input's and each
        weight's gradient, ∂γ_k/∂θ_j of every pair): the partials compiled at the first backward."""
        if self._partials is None:
            pairs, partials = compile_partials_batch([e for e, _ in self._expressions.values()], self._names)
            nonlinear = list(self._expressions)
            into = np.zeros((len(self._names), len(pairs)))
            for p, (i, j) in enumerate(pairs):
                into[j, p] = 1.0
            self._partials = (np.array([nonlinear[i] for i, _ in pairs], dtype=np.int64), into, partials)
        columns, into, partials = self._partials
        into = into.astype(dtype, copy=False)
        return columns, into[: self.n_inputs], into[self.n_inputs :], partials


def on_host(inputs: torch.Tensor, weights: torch.Tensor) -> bool:
    """Whether the numpy evaluation applies: CPU tensors numpy can hold (float32, float64), outside torch.compile."""
    return (
        inputs.device.type == "cpu"
        and weights.device.type == "cpu"
        and inputs.dtype in (torch.float32, torch.float64)
        and not torch.compiler.is_compiling()
    )


class _HostAngles(torch.autograd.Function):
    """:meth:`AngleMap.host_angles` as one autograd node; a backward that must itself be differentiable
    (``create_graph=True``) differentiates :meth:`AngleMap.torch_angles` instead."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weights: torch.Tensor, angle_map: AngleMap) -> torch.Tensor:
        x = inputs.detach().numpy()
        w = weights.detach().numpy()
        ctx.angle_map, ctx.host = angle_map, (x, w)
        ctx.save_for_backward(inputs, weights)
        return torch.from_numpy(angle_map.host_angles(x, w))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        inputs, weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch operations
            return (*differentiable_grads(ctx.angle_map.torch_angles, (inputs, weights), ctx.needs_input_grad[:2], grad), None)
        grad_inputs, grad_weights = ctx.angle_map.host_backward(*ctx.host, np.ascontiguousarray(grad.numpy()))
        return (
            torch.from_numpy(grad_inputs) if ctx.needs_input_grad[0] else None,
            torch.from_numpy(grad_weights).to(weights.dtype) if ctx.needs_input_grad[1] else None,
            None,
        )


def _affine(expression: ParameterExpression, index: dict) -> tuple[np.ndarray, float] | None:
    """(a, b) with expression = a·θ + b, or None if it is not affine in the parameters."""
    row = np.zeros(len(index))
    for p in expression.parameters:
        try:
            slope = expression.gradient(p)
        except RuntimeError:  # not differentiable symbolically: refused with a clear message by compile_expression
            return None
        if isinstance(slope, ParameterExpression) and slope.parameters:
            return None
        slope = complex(slope)
        if slope.imag:
            return None  # refused with a clear message by compile_expression
        row[index[p]] = slope.real
    offset = complex(expression.bind({p: 0.0 for p in expression.parameters}))
    if offset.imag:
        return None
    return row, offset.real
