"""Exact outputs through a Schmidt cut, for circuits whose entangling gates seldom cross the middle of the register.

The register splits into low qubits [0, m) and high qubits [m, n), and every row's state is kept as
(√2)**V · Σ_k |low_k⟩ ⊗ |high_k⟩. A gate across the cut that is diagonal on its qubits q of one side (CX on its
control, CZ, RZZ, a controlled gate…) acts through copies: that side gets CX(q → v) onto a fresh bond qubit v, the
other side gets H(v) and the gate with v in place of q. Other crossing gates are first rewritten into such ones
(RXX and RYY by basis changes, constant two-qubit gates into CX and single-qubit gates). So each side is an
ordinary circuit on its own qubits plus the V bond qubits, simulated by the statevector kernels, forward and adjoint.

Parity readouts (⟨Z⟩, P(1), Pauli observables) never need the 2**n amplitudes:
⟨P_low ⊗ P_high⟩ = 2**V · Σ_kl ⟨low_k|P_low|low_l⟩ · ⟨high_k|P_high|high_l⟩. A circuit whose entangling gates cross
the cut V times then costs 2 · 2**(n/2 + V) amplitudes per gate instead of 2**n: at 12 qubits with three CX chains,
2 · 512 against 4096. :func:`plan` returns the cut with the least estimated work when it beats the statevector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction, Parameter
from qiskit.circuit.library import CXGate, HGate, RZZGate, SdgGate, SGate
from qiskit.synthesis import TwoQubitBasisDecomposer

from .autograd import differentiable_grads
from .constants import TensorCache
from .gates import BASIS_CHANGE, GENERATORS
from .kernel_readout import with_gates
from .kernels import rows as kernel_rows
from .kernels import schmidt as kernels
from .kernels.rows import use_threads
from .memory import reverse_mode_bytes
from .readout import Readout, Setting
from .simulator import TorchStatevector, _apply_single, complex_dtype
from .threads import torch_threads

#: Two-qubit rotations rewritten as RZZ between basis changes: (gates before, gates after) on each qubit.
_TO_ZZ = {"rxx": ((HGate,), (HGate,)), "ryy": ((SdgGate, HGate), (HGate, SGate))}
#: Time per unit of :meth:`SchmidtCut.work` against the statevector's, forward + backward, one thread (layered
#: circuits, 32 rows: 2.5 / 1.6 ns at 8 qubits, 1.7 / 1.15 at 10, 1.9 / 1.1 at 12): the cut's side circuits carry
#: their bond qubits from the start and its readout is a second kernel.
CUT_COST = 2.0


@dataclass(frozen=True)
class _Parities:
    """One parity setting's tables (see :mod:`hqnn.kernels.schmidt`): its basis changes per side (local qubits (J,),
    their 2×2 matrices (J, 2, 2) and the matrices' adjoints); per side the distinct sign patterns of its features'
    masks there (P, 2**size); the marginals to take (their side and the other side's pattern); each feature's
    marginal and its own pattern."""

    basis: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
    signs: tuple[np.ndarray, np.ndarray]
    marginal_side: np.ndarray
    other_pattern: np.ndarray
    feature_marginal: np.ndarray
    own_pattern: np.ndarray

    def kernel_tables(self) -> tuple:
        return (*self.signs, self.marginal_side, self.other_pattern, self.feature_marginal, self.own_pattern)


class SchmidtCut:
    """``circuit`` (no measurements) cut between qubits ``cut − 1`` and ``cut``, read out by ``readout`` (parity
    settings only); ``angles[k]`` is column k of the angle matrix. ``ValueError`` names a gate that cannot be cut."""

    def __init__(self, circuit: QuantumCircuit, angles: tuple[Parameter, ...], readout: Readout, cut: int):
        n = circuit.num_qubits
        if not 0 < cut < n:
            raise ValueError(f"a cut of {n} qubits lies between 1 and {n - 1}, got {cut}")
        distributions = [s.qubits for s in readout.settings if s.masks is None]
        if distributions:
            raise ValueError(f"a Schmidt cut reads parities only: the settings on {distributions} want distributions")
        self.cut, self.readout = cut, readout
        self.sizes = (cut, n - cut)
        self.circuits, self.bond_qubits = split(circuit, cut)
        if self.bond_qubits > n:
            raise ValueError(
                f"the cut after qubit {cut - 1} needs {self.bond_qubits} bond qubits, more than the circuit's {n}: "
                "simulate the statevector instead"
            )
        self._angles = angles
        self._sides: tuple[TorchStatevector, TorchStatevector] | None = None  # built on first use: plan weighs many
        self._parities = [_parities(setting, cut, n) for setting in readout.settings]
        self._constants = TensorCache()

    def work(self) -> int:
        """Amplitude operations per row: every gate's pass over its side, and the readout's (per marginal, a gram on
        one side and the marginal on the other: a product per pair of bond terms and amplitude)."""
        gates = sum(len(c.data) * 2**c.num_qubits for c in self.circuits)
        readout = 4**self.bond_qubits * (2 ** self.sizes[0] + 2 ** self.sizes[1])
        return gates + readout * sum(len(table.marginal_side) for table in self._parities)

    def memory(self, batch: int) -> int:
        """Peak bytes of a forward + backward of ``batch`` rows on the CPU: each side's states as reverse mode keeps
        them, and the readout's grams (one per marginal)."""
        settings = len(self._parities)
        sides = sum(reverse_mode_bytes(c.num_qubits, batch, 0, settings) for c in self.circuits)
        return sides + 16 * batch * 4**self.bond_qubits * sum(len(table.marginal_side) for table in self._parities)

    def outputs(self, angles: torch.Tensor) -> torch.Tensor:
        """The readout's outputs (R, n_out) for every row of ``angles`` (R, K), differentiable by them."""
        sides = self._side_simulators()
        if self._on_kernels(angles):
            return _CutOutputs.apply(*_SideStates.apply(angles, sides), self).to(angles.dtype)
        return self.torch_outputs(*(s.state(angles) for s in sides))

    def features(self, angles: torch.Tensor) -> torch.Tensor:
        """The readout's features (R, F) for every row of ``angles`` (R, K), not differentiable: the exact shift
        rule's (:class:`~hqnn.executors.SimulatorExecutor`)."""
        sides = self._side_simulators()
        with torch.no_grad():
            if not self._on_kernels(angles):
                return self.torch_features(*(s.state(angles) for s in sides))
            _, states = side_states(sides, angles.detach().to(torch.float64).numpy())
            return torch.from_numpy(self.host_features(states)[0]).to(angles.dtype)

    def host_features(self, states: list[np.ndarray]) -> tuple[np.ndarray, list[tuple]]:
        """Features (R, F) from both sides' states (R, 2**(size + V)) by the numba readout kernels, and per setting
        the basis-changed sides and grams that :class:`_CutOutputs`'s backward reuses."""
        rows, bond = len(states[0]), 2**self.bond_qubits
        features, saved = [], []
        for table in self._parities:
            sides = [
                with_gates(state, qubits, matrices).reshape(rows, bond, -1)
                for state, (qubits, matrices, _) in zip(states, table.basis)
            ]
            grams = np.empty((rows, len(table.marginal_side), bond * bond), dtype=np.complex128)
            features.append(np.empty((rows, len(table.own_pattern))))
            _by_rows(kernels.parity_features, sides, table.kernel_tables(), (grams, features[-1]))
            saved.append((sides, grams))
        return np.concatenate(features, 1) * float(bond), saved

    def torch_outputs(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """The outputs from the sides' states (R, 2**(size + V)) as torch operations (any device, differentiable
        any number of times)."""
        return self.readout.outputs(self.torch_features(low, high))

    def torch_features(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """The features (R, F) of :meth:`torch_outputs`."""
        rows, bond = low.shape[0], 2**self.bond_qubits
        sides = [state.reshape(rows, bond, 2**size) for state, size in zip((low, high), self.sizes)]
        features = []
        for table in self._parities:
            rotated = [self._rotated(tensor, basis[0], basis[1]) for tensor, basis in zip(sides, table.basis)]
            features.append(_torch_features(*rotated, table, self._constants))
        return torch.cat(features, 1) * float(bond)

    def _side_simulators(self) -> tuple[TorchStatevector, TorchStatevector]:
        if self._sides is None:
            self._sides = tuple(TorchStatevector(c, self._angles) for c in self.circuits)
        return self._sides

    def _on_kernels(self, angles: torch.Tensor) -> bool:
        """Whether the numba kernels run these angles: on the CPU, for sides whose gates they all know."""
        return angles.device.type == "cpu" and all(s.program is not None for s in self._side_simulators())

    def _rotated(self, tensor: torch.Tensor, qubits: np.ndarray, matrices: np.ndarray) -> torch.Tensor:
        """A side's tensor (R, χ, 2**size) with its X / Y ``qubits`` turned into the setting's basis."""
        rows, bond, size = tensor.shape
        for qubit, matrix in zip(qubits.tolist(), matrices):
            basis = self._constants.get(("basis", qubit, matrix.tobytes()), matrix, tensor.dtype, tensor.device)
            tensor = _apply_single(tensor.reshape(rows * bond, size), basis, qubit, size.bit_length() - 1)
        return tensor.reshape(rows, bond, size)


def plan(circuit: QuantumCircuit, angles: tuple[Parameter, ...], readout: Readout) -> SchmidtCut | None:
    """The cut with the least :meth:`SchmidtCut.work`, if that work, weighted by CUT_COST, is less than the
    statevector's (gates × 2**n per row); else None."""
    if any(s.masks is None for s in readout.settings):
        return None
    statevector = sum(1 for inst in circuit.data if inst.operation.name != "barrier") * 2**circuit.num_qubits
    best = None
    for cut in range(1, circuit.num_qubits):
        try:
            candidate = SchmidtCut(circuit, angles, readout, cut)
        except ValueError:  # a gate across this cut cannot be cut, or it needs too many bond qubits
            continue
        if best is None or candidate.work() < best.work():
            best = candidate
    return best if best is not None and CUT_COST * best.work() < statevector else None


def split(circuit: QuantumCircuit, cut: int) -> tuple[tuple[QuantumCircuit, QuantumCircuit], int]:
    """The low and high sides' circuits (each on its own qubits, then the V bond qubits) and V."""
    n = circuit.num_qubits
    sides: tuple[list, list] = ([], [])  # (operation, [("q", local) or ("v", bond qubit)])
    bond = 0

    def place(qubit: int) -> tuple[int, tuple[str, int]]:
        return (0, ("q", qubit)) if qubit < cut else (1, ("q", qubit - cut))

    def add(operation: Instruction, qubits: list[int]) -> None:
        nonlocal bond
        places = [place(q) for q in qubits]
        touched = {side for side, _ in places}
        if len(touched) == 1:
            sides[touched.pop()].append((operation, [p for _, p in places]))
            return
        if operation.name in _TO_ZZ:  # RXX, RYY: RZZ between basis changes
            before, after = _TO_ZZ[operation.name]
            for gate in before:
                for q in qubits:
                    add(gate(), [q])
            add(RZZGate(operation.params[0]), qubits)
            for gate in after:
                for q in qubits:
                    add(gate(), [q])
            return
        copied = _copyable_side(operation, [side for side, _ in places])
        if copied is None:
            if operation.num_qubits != 2 or operation.is_parameterized():
                raise ValueError(
                    f"'{operation.name}' on qubits {qubits} crosses the cut after qubit {cut - 1} and is diagonal on "
                    "neither side: it cannot be cut"
                )
            decomposed = TwoQubitBasisDecomposer(CXGate())(operation.to_matrix())
            for inst in decomposed.data:
                add(inst.operation, [qubits[decomposed.find_bit(q).index] for q in inst.qubits])
            return
        other = 1 - copied
        mapped = []
        for (side, local) in places:
            if side != copied:
                mapped.append(local)
                continue
            sides[copied].append((CXGate(), [local, ("v", bond)]))
            sides[other].append((HGate(), [("v", bond)]))
            mapped.append(("v", bond))
            bond += 1
        sides[other].append((operation, mapped))

    for inst in circuit.data:
        if inst.operation.name != "barrier":
            add(inst.operation, [circuit.find_bit(q).index for q in inst.qubits])
    circuits = []
    for side, size in zip(sides, (cut, n - cut)):
        qc = QuantumCircuit(size + bond)
        for operation, qubits in side:
            qc.append(operation, [local if kind == "q" else size + local for kind, local in qubits])
        circuits.append(qc)
    return (circuits[0], circuits[1]), bond


def _copyable_side(operation: Instruction, sides: list[int]) -> int | None:
    """The side all of whose qubits ``operation`` is diagonal on (the one with fewer qubits when both are), or None."""
    if operation.is_parameterized():
        matrix = GENERATORS.get(operation.name)
        if matrix is None:
            return None
    else:
        matrix = np.asarray(operation.to_matrix())
    flipped = np.arange(len(matrix))[:, None] ^ np.arange(len(matrix))[None, :]  # bits where row and column differ
    diagonal = [np.all(np.abs(matrix[(flipped >> j) & 1 == 1]) < 1e-12) for j in range(len(sides))]
    choices = [s for s in (0, 1) if s in sides and all(diagonal[j] for j, side in enumerate(sides) if side == s)]
    return min(choices, key=sides.count) if choices else None


def _parities(setting: Setting, cut: int, n: int) -> _Parities:
    changes: tuple[list, list] = ([], [])
    for qubit, letter in zip(setting.qubits, setting.basis):
        if letter != "Z":
            side, local = (0, qubit) if qubit < cut else (1, qubit - cut)
            changes[side].append((local, BASIS_CHANGE[letter]))
    basis = tuple(
        (
            np.array([q for q, _ in side], dtype=np.int64),
            np.array([m for _, m in side], dtype=np.complex128).reshape(-1, 2, 2),
            np.array([m.conj().T for _, m in side], dtype=np.complex128).reshape(-1, 2, 2),
        )
        for side in changes
    )
    masks: tuple[list, list] = ([], [])
    for mask in setting.masks:
        measured = [q for bit, q in enumerate(setting.qubits) if (int(mask) >> bit) & 1]
        masks[0].append(sum(1 << q for q in measured if q < cut))
        masks[1].append(sum(1 << (q - cut) for q in measured if q >= cut))
    distinct = [sorted(set(side)) for side in masks]
    marginals: list[tuple[int, int]] = []  # (side, the other side's pattern)
    feature_marginal, own_pattern = [], []
    for low, high in zip(*masks):
        side = 1 if low == 0 and high != 0 else 0  # on the side whose partner is the identity, where one is
        key = (side, distinct[1 - side].index(high if side == 0 else low))
        if key not in marginals:
            marginals.append(key)
        feature_marginal.append(marginals.index(key))
        own_pattern.append(distinct[side].index(low if side == 0 else high))
    return _Parities(
        basis,
        (_signs(np.array(distinct[0]), cut), _signs(np.array(distinct[1]), n - cut)),
        *(np.array(column, dtype=np.int64) for column in zip(*marginals)),
        np.array(feature_marginal, dtype=np.int64),
        np.array(own_pattern, dtype=np.int64),
    )


class _SideStates(torch.autograd.Function):
    """Both sides' states (R, 2**(size + V)) from the numba kernels, forward and adjoint, both sides' row chunks in
    one parallel region on torch's threads (each row's arithmetic is the same on any thread, so the results are
    bit-identical for any count); a backward that must itself be differentiable differentiates the torch
    statevectors instead."""

    @staticmethod
    def forward(ctx, angles: torch.Tensor, sides: tuple[TorchStatevector, TorchStatevector]):
        host = angles.detach().to(torch.float64).numpy()
        factors, states = side_states(sides, host)
        ctx.sides, ctx.host, ctx.factors, ctx.states = sides, host, factors, states
        ctx.save_for_backward(angles)
        dtype = complex_dtype(angles.dtype)
        return tuple(torch.from_numpy(state).to(dtype) for state in states)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        (angles,) = ctx.saved_tensors
        grads = [torch.zeros(s.shape, dtype=torch.complex128) if g is None else g for g, s in zip(grads, ctx.states)]
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch path
            states = lambda a: torch.cat([side.torch_state(a) for side in ctx.sides], 1)  # noqa: E731
            (found,) = differentiable_grads(states, (angles,), (True,), torch.cat(grads, 1))
            return found, None
        programs = tuple(side.program for side in ctx.sides)
        grads = [grad.to(torch.complex128).numpy() for grad in grads]
        found = kernel_rows.angle_gradients_of_two(programs, ctx.host, ctx.states, grads, torch_threads(), ctx.factors)
        return torch.from_numpy(found).to(angles.dtype), None


def side_states(sides: tuple[TorchStatevector, TorchStatevector], host: np.ndarray) -> tuple[tuple, list[np.ndarray]]:
    """Each side's factor tables and final states (R, 2**(size + V)) for the angles ``host`` (R, K) float64, both
    sides in one parallel region on torch's threads."""
    factors = tuple(side.program._factor_tables(host) for side in sides)
    return factors, kernel_rows.states_of_two(tuple(side.program for side in sides), host, torch_threads(), factors)


class _CutOutputs(torch.autograd.Function):
    """The readout's outputs (R, n_out) from both sides' states (R, 2**(size + V)) in one node of numba kernels and
    numpy: each setting's basis changes and parity features, then the readout's affine map. No torch operation runs
    in between: on 2 threads torch's product of a (32, 12) by a (12, 12) matrix took 330 µs, not 13, its thread
    pool waking beside the kernels. A backward that must itself be differentiable differentiates
    :meth:`SchmidtCut.torch_outputs`."""

    @staticmethod
    def forward(ctx, low: torch.Tensor, high: torch.Tensor, cut: SchmidtCut) -> torch.Tensor:
        states = [t.detach().resolve_conj().to(torch.complex128).contiguous().numpy() for t in (low, high)]
        features, saved = cut.host_features(states)
        readout = cut.readout
        outputs = features @ readout.matrix + readout.offset
        ctx.cut, ctx.saved, ctx.shapes = cut, saved, [s.shape for s in states]
        ctx.save_for_backward(low, high)
        return torch.from_numpy(outputs)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        cut = ctx.cut
        if torch.is_grad_enabled():
            low, high = ctx.saved_tensors
            return (*differentiable_grads(cut.torch_outputs, (low, high), ctx.needs_input_grad[:2], grad), None)
        rows, bond = ctx.shapes[0][0], 2**cut.bond_qubits
        by_feature = grad.detach().to(torch.float64).numpy() @ cut.readout.matrix.T * float(bond)
        out: list[np.ndarray] = []
        start = 0
        for table, (sides, grams) in zip(cut._parities, ctx.saved):
            count = len(table.own_pattern)
            grads = np.ascontiguousarray(by_feature[:, start : start + count])
            start += count
            # The first setting's kernel writes the gradients themselves (their pages first touched on both
            # threads), a later one's go through scratch and are added: at 12 qubits, B = 256, zeroing and adding
            # on one thread took 2.4 of a 4.4 ms readout backward.
            rotated = [_scratch(side, slot) if out else np.empty_like(side) for slot, side in enumerate(sides)]
            _by_rows(kernels.parity_features_backward, (*sides,), table.kernel_tables(), (grams, grads, *rotated))
            turned = [with_gates(g.reshape(rows, -1), q, adjoints) for g, (q, _, adjoints) in zip(rotated, table.basis)]
            if out:
                for total, gradient in zip(out, turned):
                    total += gradient
            else:
                out = turned
        low, high = ctx.saved_tensors
        return torch.from_numpy(out[0]).to(low.dtype), torch.from_numpy(out[1]).to(high.dtype), None


def _by_rows(kernel: Callable, sides, tables: tuple, per_row: tuple) -> None:
    """``kernel(*sides, *tables, *per_row)``, its rows on torch's threads (numba's ``prange``)."""
    use_threads(torch_threads())
    kernel(*sides, *tables, *per_row)


_SCRATCH = threading.local()


def _scratch(like: np.ndarray, slot: int) -> np.ndarray:
    """An uninitialized array like ``like``, reused by this Python thread's later calls (per slot and shape) for
    kernel outputs read once within a call: writing into freshly allocated memory cost ~2 ms of a 5 ms readout
    backward at 12 qubits, B = 256."""
    arrays = getattr(_SCRATCH, "arrays", None)
    if arrays is None or len(arrays) > 8:
        arrays = _SCRATCH.arrays = {}
    key = (slot, like.shape, like.dtype)
    if key not in arrays:
        arrays[key] = np.empty_like(like)
    return arrays[key]


def _torch_features(low: torch.Tensor, high: torch.Tensor, table: _Parities, constants: TensorCache) -> torch.Tensor:
    """One setting's features in :class:`_CutOutputs`, as torch operations (any device, differentiable any number of times)."""
    sides = (low, high)
    signs = [constants.get((id(table), side), table.signs[side], low.real.dtype, low.device) for side in (0, 1)]
    marginals = []
    for side, pattern in zip(table.marginal_side.tolist(), table.other_pattern.tolist()):
        own, other = sides[side], sides[1 - side]
        gram = other.conj() @ (other * signs[1 - side][pattern]).transpose(-1, -2)  # (R, χ, χ)
        marginals.append((own.conj() * (gram @ own)).sum(1).real)  # (R, 2**size)
    features = [
        marginals[m] @ signs[table.marginal_side[m]][pattern]
        for m, pattern in zip(table.feature_marginal.tolist(), table.own_pattern.tolist())
    ]
    return torch.stack(features, 1)


def _signs(masks: np.ndarray, bits: int) -> np.ndarray:
    """(len(masks), 2**bits): (−1)^popcount(x & mask) for every x."""
    overlap = np.arange(2**bits, dtype=np.int64)[None, :] & masks[:, None].astype(np.int64)
    parity = np.zeros_like(overlap)
    for bit in range(bits):
        parity ^= (overlap >> bit) & 1
    return 1.0 - 2.0 * parity
