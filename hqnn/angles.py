"""Angles from parameters: γ_k = g_k(θ) for θ = (inputs, weights). Affine angles a·θ + b are one matrix product;
any other differentiable expression is evaluated with torch operations. Either way autograd carries gradients from
the angles back to the parameters (the chain rule per sample), so the shift rule only differentiates angles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from qiskit.circuit import Parameter, ParameterExpression

from .constants import TensorCache
from .expressions import Compiled, compile_expression


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
        for k, (expression, place) in enumerate(zip(expressions, where)):
            for p in expression.parameters:
                depends[k, index[p]] = True
            affine = _affine(expression, index)
            if affine is None:
                self._nonlinear.append((k, compile_expression(expression, place)))
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
