"""A Qiskit ``ParameterExpression`` as a function of its parameters for a whole batch at once: torch operations
(autograd differentiates them) or numpy operations (with each partial derivative compiled the same way, for a
backward without autograd). Only real, differentiable operations are accepted: sums, products, powers and the
elementary functions; anything else (sign, abs, complex numbers, …) is refused with the expression named."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy
import torch
from qiskit.circuit import ParameterExpression

#: sympy functions and their torch counterparts (all differentiable where defined).
_TORCH = {
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.tanh: torch.tanh,
    sympy.exp: torch.exp,
    sympy.log: torch.log,
}
#: The same functions in numpy.
_NUMPY = {f: getattr(np, {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(f.__name__, f.__name__)) for f in _TORCH}

Values = dict[str, torch.Tensor]
Compiled = Callable[[Values], torch.Tensor | float]


def compile_expression(expression: ParameterExpression, where: str) -> Compiled:
    """``f(values)`` computing ``expression`` with torch from ``{parameter name: tensor}``; ``where`` names it in
    errors."""
    return _compile(_tree(expression, where), expression, where, _TORCH)


def compile_numpy(expression: ParameterExpression, where: str) -> Compiled:
    """``f(values)`` computing ``expression`` with numpy from ``{parameter name: array}``."""
    return _compile(_tree(expression, where), expression, where, _NUMPY)


def compile_partials(expression: ParameterExpression, names: list[str], where: str) -> list[Compiled]:
    """numpy functions ``f(values)`` of ∂expression/∂(parameter ``name``), one per name of ``names``."""
    tree = _tree(expression, where)
    symbols = {str(s): s for s in tree.free_symbols}
    return [_compile(sympy.diff(tree, symbols[name]), expression, where, _NUMPY) for name in names]


def _tree(expression: ParameterExpression, where: str):
    try:
        return expression.sympify()
    except Exception as error:  # pragma: no cover - sympy is a torch dependency
        raise ValueError(f"{where}: cannot read angle {expression} ({error})") from error


def _compile(node, expression, where: str, functions: dict) -> Compiled:
    if node.is_Symbol:
        name = str(node)
        return lambda values: values[name]
    if node.is_number:
        value = complex(node)
        if value.imag:
            raise ValueError(f"{where}: angle {expression} has a complex constant {node}; angles must be real")
        return lambda values: value.real
    args = [_compile(arg, expression, where, functions) for arg in node.args]
    if isinstance(node, sympy.Add):
        return lambda values: _sum(f(values) for f in args)
    if isinstance(node, sympy.Mul):
        return lambda values: _product(f(values) for f in args)
    if isinstance(node, sympy.Pow):
        base, power = args
        return lambda values: base(values) ** power(values)
    function = functions.get(node.func)
    if function is None:
        raise ValueError(
            f"{where}: angle {expression} uses {node.func.__name__}, which is not a real differentiable function "
            f"hqnn can differentiate ({', '.join(sorted(f.__name__ for f in _TORCH))}, sums, products, powers): "
            "move it into the classical network"
        )
    (inner,) = args
    if functions is _TORCH:
        return lambda values: function(torch.as_tensor(inner(values)))
    return lambda values: function(inner(values))


def _sum(terms):
    total = 0.0
    for term in terms:
        total = total + term
    return total


def _product(factors):
    total = 1.0
    for factor in factors:
        total = total * factor
    return total
