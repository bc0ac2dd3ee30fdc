"""Exact outputs on the CPU in one autograd node: the numba kernels' states, each setting's basis change, |φ|², the
measured qubits' joint distribution and the readout's linear map; the backward runs the same steps in reverse into
the kernels' adjoint sweep. One node instead of five (states, basis change, |ψ|², marginal, readout matrices): at
4 qubits and 32 rows, torch's per-node glue cost more than the simulation. A backward that must itself be
differentiable (``create_graph=True``) differentiates the torch path instead. A layer's angle map can run inside
the same node (:func:`kernel_outputs_of`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .autograd import check_finite, differentiable_grads
from .kernels import rows as kernel_rows
from .kernels.probabilities import change_basis, joint_outputs, joint_outputs_backward
from .kernels.rows import use_threads
from .readout import Readout, Setting
from .threads import kernel_threads, torch_threads

if TYPE_CHECKING:
    from .angles import AngleMap
    from .simulator import TorchStatevector


def kernel_outputs(angles: torch.Tensor, simulator: TorchStatevector, readout: Readout) -> torch.Tensor:
    """Outputs (R, n_out) of ``readout`` for every row of ``angles`` (R, K) on the CPU (``simulator.program``
    must exist); float64 inside, returned in the angles' dtype."""
    return _KernelOutputs.apply(angles, None, None, simulator, readout)


def kernel_outputs_of(
    inputs: torch.Tensor, weights: torch.Tensor, angle_map: AngleMap, simulator: TorchStatevector, readout: Readout
) -> torch.Tensor:
    """:func:`kernel_outputs` of the angles ``angle_map(inputs, weights)`` with the map inside the same node (its
    numpy evaluation and backward): one autograd node from a layer's parameters to its outputs, not two (4
    qubits, 32 rows: ~45 µs of torch's per-node glue saved)."""
    return _KernelOutputs.apply(inputs, weights, angle_map, simulator, readout)


class _KernelOutputs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, first, weights, angle_map, simulator, readout):
        """``first``: the angles (R, K), or with an ``angle_map`` its inputs (R, n_in) beside ``weights``."""
        if angle_map is None:
            host = first.detach().to(torch.float64).numpy()
        else:
            ctx.parameters = (first.detach().numpy(), weights.detach().numpy())
            gamma = angle_map.host_angles(*ctx.parameters)
            if not angle_map.affine:  # finite in, NaN out: e.g. log(−1)
                check_finite(torch.from_numpy(gamma), "circuit angles")
            host = gamma.astype(np.float64, copy=False)
        program = simulator.program
        factors = program._factor_tables(host)
        state = kernel_rows.states(program, host, torch_threads(), factors=factors)
        n = program.n_qubits
        total, rotated = np.empty((len(host), readout.n_outputs)), []
        total[:] = readout.offset
        use_threads(kernel_threads(state.size))
        for setting, outcome_map in zip(readout.settings, readout.joint_weights()):
            phi = _basis_change(state, setting, n, adjoint=False)
            joint = np.empty((len(host), outcome_map.shape[1]))
            joint_outputs(phi, setting.outcome_index(n), outcome_map, joint, total)
            rotated.append(phi)
        ctx.simulator, ctx.readout, ctx.angle_map, ctx.factors, ctx.host = simulator, readout, angle_map, factors, host
        ctx.state, ctx.rotated = state, rotated
        ctx.save_for_backward(first, weights)
        return torch.from_numpy(total).to(first.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        simulator, readout, angle_map = ctx.simulator, ctx.readout, ctx.angle_map
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch path
            first, weights = ctx.saved_tensors
            if angle_map is None:
                (grads,) = differentiable_grads(lambda a: _torch_outputs(simulator, readout, a), (first,), (True,), grad)
                return grads, None, None, None, None
            outputs = lambda x, w: _torch_outputs(simulator, readout, angle_map.torch_angles(x, w))  # noqa: E731
            return (*differentiable_grads(outputs, (first, weights), ctx.needs_input_grad[:2], grad), None, None, None)
        n, g = simulator.program.n_qubits, np.ascontiguousarray(grad.detach().to(torch.float64).numpy())
        adjoint = np.zeros_like(ctx.state)
        use_threads(kernel_threads(adjoint.size))
        for setting, outcome_map, phi in zip(readout.settings, readout.joint_weights(), ctx.rotated):
            index, scratch = setting.outcome_index(n), np.empty((len(g), outcome_map.shape[1]))
            if set(setting.basis) <= {"Z"}:  # no basis change: straight into the adjoint
                joint_outputs_backward(phi, index, outcome_map, g, scratch, adjoint)
                continue
            rotated_grad = np.zeros_like(phi)
            joint_outputs_backward(phi, index, outcome_map, g, scratch, rotated_grad)
            adjoint += _basis_change(rotated_grad, setting, n, adjoint=True)
        grads = kernel_rows.angle_gradients(
            simulator.program, ctx.host, ctx.state, adjoint, torch_threads(), factors=ctx.factors
        )
        if angle_map is None:
            return torch.from_numpy(grads).to(grad.dtype), None, None, None, None
        inputs, weights = ctx.parameters
        grad_inputs, grad_weights = angle_map.host_backward(inputs, weights, grads.astype(inputs.dtype, copy=False))
        return (
            torch.from_numpy(grad_inputs) if ctx.needs_input_grad[0] else None,
            torch.from_numpy(grad_weights.astype(weights.dtype, copy=False)) if ctx.needs_input_grad[1] else None,
            None,
            None,
            None,
        )


def _torch_outputs(simulator: TorchStatevector, readout: Readout, angles: torch.Tensor) -> torch.Tensor:
    """The same outputs as torch operations (differentiable any number of times)."""
    return readout.outputs(simulator.features(angles, readout))


def _basis_change(state: np.ndarray, setting: Setting, n: int, adjoint: bool) -> np.ndarray:
    """``state`` (R, 2**n) with the setting's X/Y qubits turned into its basis (X: H, Y: H·S†), or the adjoint map
    (the gates act on distinct qubits, so their order does not matter)."""
    return with_gates(state, *setting.basis_matrices(adjoint))


def with_gates(states: np.ndarray, qubits: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """A copy of ``states`` (R, M) with the 2×2 ``matrices`` (J, 2, 2) on the distinct ``qubits`` (bits of the
    index), or ``states`` itself when there are none."""
    if not len(qubits):
        return states
    out = np.empty_like(states)
    change_basis(states, qubits, matrices, out)
    return out

