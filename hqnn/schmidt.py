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

from dataclasses import dataclass

import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction, Parameter
from qiskit.circuit.library import CXGate, HGate, RZZGate, SdgGate, SGate
from qiskit.synthesis import TwoQubitBasisDecomposer

from .autograd import differentiable_grads
from .constants import TensorCache
from .kernel_readout import kernel_threads
from .kernels import schmidt as kernels
from .kernels.rows import use_threads
from .memory import reverse_mode_bytes
from .gates import BASIS_CHANGE, GENERATORS
from .readout import Readout, Setting
from .simulator import TorchStatevector

#: Two-qubit rotations rewritten as RZZ between basis changes: (gates before, gates after) on each qubit.
_TO_ZZ = {"rxx": ((HGate,), (HGate,)), "ryy": ((SdgGate, HGate), (HGate, SGate))}


@dataclass(frozen=True)
class _Parities:
    """One parity setting's tables, per side: its basis changes ((local qubit, 2×2 matrix) pairs), the distinct sign
    patterns (−1)^popcount(x & mask) of its features' masks there (G, 2**size), and each feature's pattern (F,)."""

    basis: tuple[tuple[tuple[int, np.ndarray], ...], tuple[tuple[int, np.ndarray], ...]]
    signs: tuple[np.ndarray, np.ndarray]
    index: tuple[np.ndarray, np.ndarray]


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
        self.n_qubits, self.cut, self.readout = n, cut, readout
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
        """Amplitude operations per row: every gate's pass over its side, and the readout's products (one per sign
        pattern, pair of bond terms and amplitude)."""
        gates = sum(len(c.data) * 2**c.num_qubits for c in self.circuits)
        bond = 2**self.bond_qubits
        return gates + sum(bond**2 * sum(s.size for s in table.signs) for table in self._parities)

    def memory(self, batch: int) -> int:
        """Peak bytes of a forward + backward of ``batch`` rows on the CPU: each side's states as reverse mode keeps
        them, and per setting the grams of both sides and their gradients."""
        settings = len(self._parities)
        sides = sum(reverse_mode_bytes(c.num_qubits, batch, 0, settings) for c in self.circuits)
        grams = sum(2 * 16 * batch * 4**self.bond_qubits * sum(len(s) for s in t.signs) for t in self._parities)
        return sides + grams

    def outputs(self, angles: torch.Tensor) -> torch.Tensor:
        """The readout's outputs (R, n_out) for every row of ``angles`` (R, K), differentiable by them."""
        if self._sides is None:
            self._sides = tuple(TorchStatevector(c, self._angles) for c in self.circuits)
        rows, bond = angles.shape[0], 2**self.bond_qubits
        sides = [s.state(angles).reshape(rows, bond, 2**size) for s, size in zip(self._sides, self.sizes)]
        features = torch.cat([self._features(sides, table) for table in self._parities], 1) * float(bond)
        return self.readout.outputs(features.to(angles.dtype))

    def _features(self, sides: list[torch.Tensor], table: _Parities) -> torch.Tensor:
        """The setting's parity features (R, F) before the factor 2**V: Σ_kl ⟨low_k|P|low_l⟩ · ⟨high_k|Q|high_l⟩."""
        low, high = (self._rotated(tensor, changes) for tensor, changes in zip(sides, table.basis))
        if low.device.type == "cpu":
            return _ParityFeatures.apply(low, high, table)
        return _torch_features(low, high, table, self._constants)

    def _rotated(self, tensor: torch.Tensor, changes: tuple[tuple[int, np.ndarray], ...]) -> torch.Tensor:
        """A side's tensor (R, χ, 2**size) with the setting's X / Y qubits turned into its basis."""
        for qubit, matrix in changes:
            basis = self._constants.get(("basis", qubit, matrix.tobytes()), matrix, tensor.dtype, tensor.device)
            rows, bond, size = tensor.shape
            view = tensor.reshape(rows, -1, 2, 2**qubit)
            tensor = torch.einsum("ij,rajc->raic", basis, view).reshape(rows, bond, size)
        return tensor


def plan(circuit: QuantumCircuit, angles: tuple[Parameter, ...], readout: Readout) -> SchmidtCut | None:
    """The cut with the least :meth:`SchmidtCut.work`, if that is less than the statevector's (gates × 2**n per
    row: the same kernels run both); else None."""
    if any(s.masks is None for s in readout.settings):
        return None
    best, least = None, sum(1 for inst in circuit.data if inst.operation.name != "barrier") * 2**circuit.num_qubits
    for cut in range(1, circuit.num_qubits):
        try:
            candidate = SchmidtCut(circuit, angles, readout, cut)
        except ValueError:  # a gate across this cut cannot be cut, or it needs too many bond qubits
            continue
        if candidate.work() < least:
            best, least = candidate, candidate.work()
    return best


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
    masks: tuple[list, list] = ([], [])
    for mask in setting.masks:
        measured = [q for bit, q in enumerate(setting.qubits) if (int(mask) >> bit) & 1]
        masks[0].append(sum(1 << q for q in measured if q < cut))
        masks[1].append(sum(1 << (q - cut) for q in measured if q >= cut))
    distinct = [sorted(set(side)) for side in masks]
    return _Parities(
        (tuple(changes[0]), tuple(changes[1])),
        (_signs(np.array(distinct[0]), cut), _signs(np.array(distinct[1]), n - cut)),
        tuple(np.array([d.index(mask) for mask in side], dtype=np.int64) for d, side in zip(distinct, masks)),
    )


class _ParityFeatures(torch.autograd.Function):
    """:func:`_torch_features` by the numba kernels (complex128 inside), forward and backward; a backward that must
    itself be differentiable (``create_graph=True``) differentiates the torch operations instead."""

    @staticmethod
    def forward(ctx, low: torch.Tensor, high: torch.Tensor, table: _Parities) -> torch.Tensor:
        sides = [t.detach().resolve_conj().to(torch.complex128).contiguous().numpy() for t in (low, high)]
        use_threads(kernel_threads(sides[0].size + sides[1].size))
        grams = []
        for tensor, signs in zip(sides, table.signs):
            grams.append(np.empty((len(tensor), len(signs), tensor.shape[1], tensor.shape[1]), dtype=np.complex128))
            kernels.signed_grams(tensor, signs, grams[-1])
        features = np.empty((len(sides[0]), len(table.index[0])))
        kernels.paired_traces(grams[0], grams[1], *table.index, features)
        ctx.sides, ctx.grams, ctx.table = sides, grams, table
        ctx.save_for_backward(low, high)
        return torch.from_numpy(features).to(low.real.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        table = ctx.table
        if torch.is_grad_enabled():
            low, high = ctx.saved_tensors
            features = lambda a, b: _torch_features(a, b, table, TensorCache())  # noqa: E731
            return (*differentiable_grads(features, (low, high), ctx.needs_input_grad[:2], grad), None)
        grads = np.ascontiguousarray(grad.detach().to(torch.float64).numpy())
        use_threads(kernel_threads(ctx.sides[0].size + ctx.sides[1].size))
        out = []
        for side, (tensor, signs) in enumerate(zip(ctx.sides, table.signs)):
            weights = np.empty_like(ctx.grams[side])
            kernels.weighted_grams(grads, ctx.grams[1 - side], table.index[side], table.index[1 - side], weights)
            out.append(np.empty_like(tensor))
            kernels.signed_grams_backward(tensor, signs, weights, out[-1])
        low, high = ctx.saved_tensors
        return torch.from_numpy(out[0]).to(low.dtype), torch.from_numpy(out[1]).to(high.dtype), None


def _torch_features(low: torch.Tensor, high: torch.Tensor, table: _Parities, constants: TensorCache) -> torch.Tensor:
    """:class:`_ParityFeatures` as torch operations (any device, differentiable any number of times)."""
    grams = []
    for side, (tensor, signs, index) in enumerate(zip((low, high), table.signs, table.index)):
        signs = constants.get((id(table), "signs", side), signs.T, tensor.dtype, tensor.device)
        index = constants.get((id(table), "index", side), index, torch.long, tensor.device)
        rows, bond, size = tensor.shape
        outer = tensor.conj().unsqueeze(2) * tensor.unsqueeze(1)  # (R, χ, χ, X)
        grams.append((outer.reshape(-1, size) @ signs).reshape(rows, bond * bond, -1).index_select(2, index))
    return (grams[0] * grams[1]).sum(1).real


def _signs(masks: np.ndarray, bits: int) -> np.ndarray:
    """(len(masks), 2**bits): (−1)^popcount(x & mask) for every x."""
    overlap = np.arange(2**bits, dtype=np.int64)[None, :] & masks[:, None].astype(np.int64)
    parity = np.zeros_like(overlap)
    for bit in range(bits):
        parity ^= (overlap >> bit) & 1
    return 1.0 - 2.0 * parity
