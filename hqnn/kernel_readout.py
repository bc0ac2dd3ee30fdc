"""Exact outputs on the CPU in one autograd node: the numba kernels' states, each setting's basis change, |φ|², the
measured qubits' joint distribution and the readout's linear map; the backward runs the same steps in reverse into
the kernels' adjoint sweep. One node instead of five (states, basis change, |ψ|², marginal, readout matrices): at
4 qubits and 32 rows, torch's per-node glue cost more than the simulation. A backward that must itself be
differentiable (``create_graph=True``) differentiates the torch path instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
import torch

from .kernels import rows as kernel_rows
from .kernels.probabilities import change_basis, joint_outputs, joint_outputs_backward
from .kernels.statevector import PARALLEL_MIN
from .readout import Readout, Setting

if TYPE_CHECKING:
    from .simulator import TorchStatevector


def kernel_outputs(angles: torch.Tensor, simulator: TorchStatevector, readout: Readout) -> torch.Tensor:
    """Outputs (R, n_out) of ``readout`` for every row of ``angles`` (R, K) on the CPU (``simulator.program``
    must exist); float64 inside, returned in the angles' dtype."""
    return _KernelOutputs.apply(angles, simulator, readout)


class _KernelOutputs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, angles: torch.Tensor, simulator: TorchStatevector, readout: Readout) -> torch.Tensor:
        host = angles.detach().to(torch.float64).numpy()
        program, threads = simulator.program, torch.get_num_threads()
        factors = program._factor_tables(host)
        state = kernel_rows.states(program, host, threads, factors=factors)
        n = program.n_qubits
        total, rotated = np.empty((len(host), readout.n_outputs)), []
        total[:] = readout.offset
        numba.set_num_threads(kernel_threads(state.size))
        for setting, weights in zip(readout.settings, readout.joint_weights()):
            phi = _basis_change(state, setting, n, adjoint=False)
            joint_outputs(phi, setting.outcome_index(n), weights, np.empty((len(host), len(weights))), total)
            rotated.append(phi)
        ctx.simulator, ctx.readout, ctx.factors, ctx.host = simulator, readout, factors, host
        ctx.state, ctx.rotated = state, rotated
        ctx.save_for_backward(angles)
        return torch.from_numpy(total).to(angles.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        simulator, readout = ctx.simulator, ctx.readout
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch path
            (angles,) = ctx.saved_tensors
            outputs = readout.outputs(simulator.features(angles, readout))  # differentiable twice
            (grads,) = torch.autograd.grad(outputs, angles, grad.to(outputs.dtype), create_graph=True)
            return grads, None, None
        n, g = simulator.program.n_qubits, np.ascontiguousarray(grad.detach().to(torch.float64).numpy())
        adjoint = np.zeros_like(ctx.state)
        numba.set_num_threads(kernel_threads(adjoint.size))
        for setting, weights, phi in zip(readout.settings, readout.joint_weights(), ctx.rotated):
            index, scratch = setting.outcome_index(n), np.empty((len(g), len(weights)))
            if set(setting.basis) <= {"Z"}:  # no basis change: straight into the adjoint
                joint_outputs_backward(phi, index, weights, g, scratch, adjoint)
                continue
            rotated_grad = np.zeros_like(phi)
            joint_outputs_backward(phi, index, weights, g, scratch, rotated_grad)
            adjoint += _basis_change(rotated_grad, setting, n, adjoint=True)
        grads = kernel_rows.angle_gradients(
            simulator.program, ctx.host, ctx.state, adjoint, torch.get_num_threads(), factors=ctx.factors
        )
        return torch.from_numpy(grads).to(grad.dtype), None, None


def _basis_change(state: np.ndarray, setting: Setting, n: int, adjoint: bool) -> np.ndarray:
    """``state`` (R, 2**n) with the setting's X/Y qubits turned into its basis (X: H, Y: H·S†), or the adjoint map
    (the gates act on distinct qubits, so their order does not matter)."""
    qubits, matrices = setting.basis_matrices(adjoint)
    if not len(qubits):
        return state
    out = np.empty_like(state)
    change_basis(state, qubits, matrices, out)
    return out


def kernel_threads(size: int) -> int:
    """torch's thread count for numba's elementwise and row-by-row kernels over ``size`` amplitudes, 1 below
    PARALLEL_MIN (as :func:`hqnn.kernels.rows.states`)."""
    return 1 if size < PARALLEL_MIN else max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
