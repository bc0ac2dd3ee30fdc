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
from .kernels.probabilities import probabilities as probabilities_kernel
from .kernels.probabilities import probabilities_backward as probabilities_backward_kernel
from .gates import BASIS_CHANGE
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
        out = np.zeros((len(host), readout.n_outputs))
        rotated = []
        for setting, weights in zip(readout.settings, readout.joint_weights()):
            phi = _basis_change(state, setting, n, adjoint=False)
            out += _joint(_probabilities(phi), setting.qubits, n) @ weights
            rotated.append(phi)
        out += readout.offset
        ctx.simulator, ctx.readout, ctx.factors, ctx.host = simulator, readout, factors, host
        ctx.state, ctx.rotated = state, rotated
        ctx.save_for_backward(angles)
        return torch.from_numpy(out).to(angles.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        simulator, readout = ctx.simulator, ctx.readout
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch path
            (angles,) = ctx.saved_tensors
            outputs = readout.outputs(simulator.features(angles, readout))  # differentiable twice
            (grads,) = torch.autograd.grad(outputs, angles, grad.to(outputs.dtype), create_graph=True)
            return grads, None, None
        n, g = simulator.program.n_qubits, grad.detach().to(torch.float64).numpy()
        adjoint = np.zeros_like(ctx.state)
        for setting, weights, phi in zip(readout.settings, readout.joint_weights(), ctx.rotated):
            joint_grad = _joint_backward(g @ weights.T, setting.qubits, n)
            adjoint += _basis_change(_probabilities_backward(phi, joint_grad), setting, n, adjoint=True)
        grads = kernel_rows.angle_gradients(
            simulator.program, ctx.host, ctx.state, adjoint, torch.get_num_threads(), factors=ctx.factors
        )
        return torch.from_numpy(grads).to(grad.dtype), None, None


def _basis_change(state: np.ndarray, setting: Setting, n: int, adjoint: bool) -> np.ndarray:
    """``state`` (R, 2**n) with the setting's X/Y qubits turned into its basis (X: H, Y: H·S†), or the adjoint map
    (the gates act on distinct qubits, so their order does not matter)."""
    for qubit, letter in zip(setting.qubits, setting.basis):
        if letter == "Z":
            continue
        m = BASIS_CHANGE[letter].conj().T if adjoint else BASIS_CHANGE[letter]
        pairs = state.reshape(len(state), 1 << (n - 1 - qubit), 2, 1 << qubit)
        low, high = pairs[:, :, 0], pairs[:, :, 1]
        out = np.empty_like(pairs)
        out[:, :, 0] = m[0, 0] * low + m[0, 1] * high
        out[:, :, 1] = m[1, 0] * low + m[1, 1] * high
        state = out.reshape(len(state), -1)
    return state


def _threads(size: int) -> int:
    return 1 if size < PARALLEL_MIN else max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def _probabilities(state: np.ndarray) -> np.ndarray:
    out = np.empty(state.shape)
    numba.set_num_threads(_threads(state.size))
    probabilities_kernel(state, out)
    return out


def _probabilities_backward(state: np.ndarray, grads: np.ndarray) -> np.ndarray:
    out = np.empty(state.shape, dtype=np.complex128)
    numba.set_num_threads(_threads(state.size))
    probabilities_backward_kernel(state, np.ascontiguousarray(grads), out)
    return out


def _axes(qubits: tuple[int, ...], n: int) -> list[int]:
    """The axes of a (R, 2, …, 2) view of (R, 2**n) holding ``qubits``, most significant readout bit first."""
    return [1 + n - 1 - q for q in reversed(qubits)]


def _joint(probs: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """Joint probabilities (R, 2**m) of ``qubits`` (bit i ↔ qubits[i]) from full ones (R, 2**n)."""
    if qubits == tuple(range(n)):
        return probs
    tensor = np.moveaxis(probs.reshape((len(probs),) + (2,) * n), _axes(qubits, n), range(1, len(qubits) + 1))
    return tensor.reshape(len(probs), 1 << len(qubits), -1).sum(-1)


def _joint_backward(grads: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """The gradient (R, 2**n) by the full probabilities from the one (R, 2**m) by the joint ones."""
    if qubits == tuple(range(n)):
        return grads
    m, rows = len(qubits), len(grads)
    tensor = np.broadcast_to(grads.reshape((rows,) + (2,) * m + (1,) * (n - m)), (rows,) + (2,) * n)
    return np.ascontiguousarray(np.moveaxis(tensor, range(1, m + 1), _axes(qubits, n))).reshape(rows, -1)
