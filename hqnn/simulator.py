"""A statevector for every row of an angle matrix at once, on the angles' device and precision.

On the CPU, numba kernels (:mod:`hqnn.kernels.statevector`) run each row's gates while its state stays in cache
and give gradients by the adjoint method. Elsewhere (CUDA) the circuit is compiled once into few fused torch
steps: runs of single-qubit gates on adjacent qubits become one matrix per row, runs of permutation gates (CX,
CZ, SWAP, X…) one index gather with phases, and autograd differentiates the simulation. Reverse mode needs no
shifted rows: on the CPU its readout (basis changes, probabilities, the readout's map) runs in the same autograd
node as the kernels (:mod:`hqnn.kernel_readout`); elsewhere, and for the shot executors' distributions, it is
torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from .constants import TensorCache
from .gates import BASIS_CHANGE, GENERATORS, PHASE_GATES, SHIFTABLE_GATES
from .kernel_readout import kernel_outputs
from .kernels import rows as kernel_rows
from .kernels.probabilities import shift_probabilities as shift_probabilities_kernel
from .kernels.probabilities import probabilities as probabilities_kernel
from .kernels.probabilities import probabilities_backward as probabilities_backward_kernel
from .kernels.rows import use_threads
from .kernels.statevector import MAX_DENSE_QUBITS, Program
from .readout import Readout, Setting
from .shift import block_offsets, offset_rows
from .threads import kernel_threads, torch_threads

from .validation import MAX_QUBITS  # widest circuit simulated: one row holds 2**n amplitudes

# A parameterized gate's matrix is U(γ) = A + cos(c·γ)·C + sin(c·γ)·S.
_IDENTITY = np.eye(2, dtype=complex)
_PHASE = (np.diag([1.0, 0.0]).astype(complex), np.diag([0.0, 1.0]).astype(complex), np.diag([0.0, 1j]), 1.0)


@dataclass(frozen=True)
class _Rotation:
    """U(γ_column) = A + cos(c·γ)·C + sin(c·γ)·S for one parameterized gate."""

    column: int
    a: np.ndarray
    c: np.ndarray
    s: np.ndarray
    frequency: float

    @classmethod
    def of(cls, name: str, column: int) -> _Rotation:
        if name in PHASE_GATES:
            return cls(column, *_PHASE)
        if name not in GENERATORS:
            raise ValueError(
                f"the statevector has no rule for parameterized gate '{name}': decompose it into "
                f"{sorted(SHIFTABLE_GATES)} and fixed gates"
            )
        g = GENERATORS[name]
        return cls(column, np.zeros_like(g), np.eye(len(g), dtype=complex), -1j * g, 0.5)


class _RotationGroups:
    """All parameterized gates of a circuit, grouped by matrix size, so each group's (R, F, d, d) matrices
    come from one cos, one sin and one multiply-add over every row."""

    def __init__(self, rotations: list[_Rotation]):
        sizes = sorted({len(r.a) for r in rotations})
        self._where = {}
        self._tables = []
        for group, size in enumerate(sizes):
            members = [r for r in rotations if len(r.a) == size]
            self._where.update({id(r): (group, i) for i, r in enumerate(members)})
            self._tables.append(
                (
                    np.array([r.column for r in members], dtype=np.int64),
                    np.array([r.frequency for r in members]),
                    *(np.stack([getattr(r, name) for r in members]) for name in ("a", "c", "s")),
                )
            )

    def matrices(self, angles: torch.Tensor, dtype: torch.dtype, constants: TensorCache) -> list[torch.Tensor]:
        """Per group, (R, F, d, d) matrices for the rows' angles."""
        constant = constants.get
        out = []
        for group, (columns, frequency, a, c, s) in enumerate(self._tables):
            device = angles.device
            index = constant(("columns", group), columns, torch.long, device)
            half = angles.index_select(1, index) * constant(("frequency", group), frequency, angles.dtype, device)
            cos, sin = (f(half).to(dtype)[:, :, None, None] for f in (torch.cos, torch.sin))
            a, c, s = (constant((name, group), m, dtype, device) for name, m in zip("acs", (a, c, s)))
            out.append(a + cos * c + sin * s)
        return out

    def pick(self, rotation: _Rotation, matrices: list[torch.Tensor]) -> torch.Tensor:
        group, i = self._where[id(rotation)]
        return matrices[group][:, i]


@dataclass(frozen=True)
class _Block:
    """Runs of single-qubit gates on the adjacent qubits ``low, low + 1, …``, fused into one matrix per row.

    ``runs[j]`` holds qubit ``low + j``'s factors in circuit order: constant 2×2 arrays or rotations.
    """

    low: int
    runs: tuple[tuple, ...]


@dataclass(frozen=True)
class _Permutation:
    """new[:, i] = phase[i] · old[:, source[i]] over the whole index space."""

    source: np.ndarray
    phase: np.ndarray | None


@dataclass(frozen=True)
class _Dense:
    """A multi-qubit gate: a constant (d, d) matrix or a rotation, on ``qubits`` (bit j ↔ qubits[j])."""

    qubits: tuple[int, ...]
    gate: np.ndarray | _Rotation


#: Operations without a statevector meaning: exact values need a density matrix.
NON_UNITARY = frozenset({"reset", "measure", "initialize"})


class TorchStatevector:
    """Compiled ``circuit`` (no measurements) whose parameter ``angles[k]`` is column k of the angle matrix."""

    def __init__(self, circuit: QuantumCircuit, angles: tuple[Parameter, ...]):
        if circuit.num_qubits > MAX_QUBITS:
            raise ValueError(f"{circuit.num_qubits} qubits is over {MAX_QUBITS}: use an Aer backend for this circuit")
        self.n_qubits = circuit.num_qubits
        column = {angle: k for k, angle in enumerate(angles)}
        self.steps = _compile(circuit, column)
        rotations = [f for step in self.steps for f in _factors(step) if isinstance(f, _Rotation)]
        self._groups = _RotationGroups(rotations)
        self._constants = TensorCache()
        self.program = _program(self.steps, self.n_qubits)
        self.pairs = _pair_coefficients(rotations)
        self._layouts: dict[tuple, _ShiftLayout] = {}

    def state(self, angles: torch.Tensor) -> torch.Tensor:
        """Amplitudes (R, 2**n) of every row (complex128 for float64 angles, complex64 for float32)."""
        if angles.device.type == "cpu" and self.program is not None:
            return _KernelStates.apply(angles, self.program, self.torch_state)
        return self.torch_state(angles)

    def torch_state(self, angles: torch.Tensor) -> torch.Tensor:
        """:meth:`state` with torch operations only (any device; autograd through every step)."""
        rows, dtype = angles.shape[0], complex_dtype(angles.dtype)
        rotations = self._groups.matrices(angles, dtype, self._constants)
        state = torch.zeros(rows, 2**self.n_qubits, dtype=dtype, device=angles.device)
        state[:, 0] = 1.0
        for step in self.steps:
            state = self._apply(step, state, rotations)
        return state

    def outputs(self, angles: torch.Tensor, readout: Readout) -> torch.Tensor:
        """Exact outputs (R, n_out) of ``readout`` (differentiable): on the CPU one autograd node of the numba
        kernels (:mod:`hqnn.kernel_readout`), elsewhere the torch steps."""
        if angles.device.type == "cpu" and self.program is not None:
            return kernel_outputs(angles, self, readout)
        return readout.outputs(self.features(angles, readout))

    def features(self, angles: torch.Tensor, readout: Readout) -> torch.Tensor:
        """Exact features (R, F) of every setting of ``readout`` (differentiable)."""
        settings = readout.settings
        return torch.cat(
            [s.from_distribution(joint) for s, joint in zip(settings, self.distributions(angles, readout))], 1
        )

    def distributions(self, angles: torch.Tensor, readout: Readout) -> list[torch.Tensor]:
        """Per setting of ``readout``, the joint outcome probabilities (R, 2**m) of its measured qubits."""
        state = self.state(angles)
        return [self._joint(_probabilities(self._rotated(state, s)), s.qubits) for s in readout.settings]

    def shift_distributions(
        self, gamma: torch.Tensor, shifted: np.ndarray, shift: float, readout: Readout
    ) -> list[torch.Tensor]:
        """:meth:`distributions` of the shift plan's rows (:meth:`hqnn.shift.ShiftPlan.rows`: the B base rows,
        then +s on each angle in ``shifted``, then −s), from fewer states. A column in :attr:`pairs` obeys
        U(γ ± s) ∝ cos(s/2)·U(γ) ± κ·sin(s/2)·U(γ + π) (κ = 1 for Pauli rotations, −i for phase gates), so its
        two shifted states are combinations of the base state and ONE state shifted by π; other columns are
        simulated at ±s."""
        key = (shifted.tobytes(), shift)
        if key not in self._layouts:  # once per plan: the emulator calls this for every chunk of every step
            self._layouts[key] = _ShiftLayout.of(self.pairs, shifted, shift)
        layout = self._layouts[key]
        offsets = self._constants.get(
            ("shift offsets", key),
            lambda: block_offsets(layout.columns, layout.moves, gamma.shape[1]), gamma.dtype, gamma.device,
        )
        states = self.state(offset_rows(gamma, offsets))
        shape = (len(offsets), len(gamma), 2**self.n_qubits)
        return [
            self._joint(layout.probabilities(self._rotated(states, s).reshape(shape)), s.qubits)
            for s in readout.settings
        ]

    def _rotated(self, state: torch.Tensor, setting: Setting) -> torch.Tensor:
        """``state`` with ``setting``'s measured qubits turned into its basis (X: H, Y: H·S†)."""
        for qubit, letter in zip(setting.qubits, setting.basis):
            if letter != "Z":
                matrix = self._constants.get(("basis", letter), BASIS_CHANGE[letter], state.dtype, state.device)
                state = _apply_single(state, matrix, qubit, self.n_qubits)
        return state

    def _joint(self, probs: torch.Tensor, qubits: tuple[int, ...]) -> torch.Tensor:
        """Joint probabilities (R, 2**m) of ``qubits`` (bit i ↔ qubits[i]) from full ones (R, 2**n)."""
        rows, n = len(probs), self.n_qubits
        if qubits == tuple(range(n)):
            return probs
        axes = [1 + n - 1 - q for q in reversed(qubits)]  # most significant readout bit first
        tensor = probs.reshape((rows,) + (2,) * n).movedim(axes, tuple(range(1, len(axes) + 1)))
        return tensor.reshape(rows, 2 ** len(axes), 2 ** (n - len(axes))).sum(-1)

    def _apply(self, step, state: torch.Tensor, rotations: list[torch.Tensor]) -> torch.Tensor:
        if isinstance(step, _Permutation):
            source = self._constants.get(id(step), step.source, torch.long, state.device)
            state = state.index_select(1, source)
            if step.phase is not None:
                state = state * self._constants.get((id(step), "phase"), step.phase, state.dtype, state.device)
            return state
        if isinstance(step, _Block):
            products = [self._product(run, (id(step), j), state, rotations) for j, run in enumerate(step.runs)]
            if len(products) == 1:
                return _apply_single(state, products[0], step.low, self.n_qubits)
            return _apply_block(state, _kron(products, len(state)), step.low, len(products), self.n_qubits)
        matrix = self._matrix(step.gate, id(step), state, rotations)
        return _apply_dense(state, matrix, step.qubits, self.n_qubits)

    def _product(self, run: tuple, key, state: torch.Tensor, rotations: list[torch.Tensor]) -> torch.Tensor:
        """One qubit's run as a (2, 2) matrix, or (R, 2, 2) when it holds rotations (identity if empty)."""
        product = self._constants.get("identity", _IDENTITY, state.dtype, state.device)
        for i, factor in enumerate(run):
            matrix = self._matrix(factor, (key, i), state, rotations)
            product = matrix if i == 0 else matrix @ product
        return product

    def _matrix(self, gate, key, state: torch.Tensor, rotations: list[torch.Tensor]) -> torch.Tensor:
        if isinstance(gate, _Rotation):
            return self._groups.pick(gate, rotations)
        return self._constants.get(key, gate, state.dtype, state.device)


class _KernelStates(torch.autograd.Function):
    """States from the numba kernels; backward by their adjoint sweep (computed in complex128), chunks of rows on
    ``torch.get_num_threads()`` threads (bit-identical results for any count). A backward with
    ``create_graph=True`` (second derivatives) recomputes the states with torch operations (``torch_state``) and
    differentiates those, so the gradient is itself differentiable."""

    @staticmethod
    def forward(ctx, angles: torch.Tensor, program: Program, torch_state) -> torch.Tensor:
        host = angles.detach().to(torch.float64).numpy()
        states = kernel_rows.states(program, host, torch_threads())  # rows on every core
        ctx.program, ctx.host, ctx.states, ctx.dtype, ctx.torch_state = program, host, states, angles.dtype, torch_state
        ctx.save_for_backward(angles)
        return torch.from_numpy(states).to(complex_dtype(angles.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if torch.is_grad_enabled():  # double backward: a differentiable gradient from the torch path
            (angles,) = ctx.saved_tensors
            states = ctx.torch_state(angles)
            (grads,) = torch.autograd.grad(states, angles, grad.to(states.dtype), create_graph=True)
            return grads, None, None
        grads = kernel_rows.angle_gradients(  # rows on every core
            ctx.program, ctx.host, ctx.states, grad.to(torch.complex128).numpy(), torch_threads()
        )
        return torch.from_numpy(grads).to(ctx.dtype), None, None


def _pair_coefficients(rotations: list[_Rotation]) -> dict[int, complex]:
    """κ per column that only one gate reads, where U(γ ± s) ∝ cos(s/2)·U(γ) ± κ·sin(s/2)·U(γ + π): 1 for a
    rotation exp(−iγG/2) (U = cos(γ/2)·I − i·sin(γ/2)·G), −i for a phase gate (e^{iγ/2}·RZ(γ))."""
    readers: dict[int, list[_Rotation]] = {}
    for rotation in rotations:
        readers.setdefault(rotation.column, []).append(rotation)
    pairs = {}
    for column, (rotation, *others) in readers.items():
        if others:
            continue
        if rotation.frequency == 0.5 and not rotation.a.any():
            pairs[column] = 1.0
        elif rotation.a is _PHASE[0]:  # a phase gate (:meth:`_Rotation.of`)
            pairs[column] = -1j
    return pairs


@dataclass(frozen=True)
class _ShiftLayout:
    """Which states :meth:`TorchStatevector.shift_distributions` simulates (the base rows, then γ + ``moves`` on
    column ``columns`` of each further block) and where each block of the plan's rows comes from: ``paired``
    π-shifted states combined with the base state (their +s blocks at ``plus_at``, −s blocks half the plan on),
    ``copied`` states whose |ψ|² is the block at ``copied_at``."""

    columns: np.ndarray
    moves: np.ndarray
    paired: np.ndarray
    kappa: np.ndarray  # κ·sin(s/2) per paired state
    plus_at: np.ndarray
    copied: np.ndarray
    copied_at: np.ndarray
    cos: float
    blocks: int

    @classmethod
    def of(cls, pairs: dict[int, complex], shifted: np.ndarray, shift: float) -> _ShiftLayout:
        paired = [k for k in shifted if k in pairs]
        direct = [k for k in shifted if k not in pairs]
        place = {k: 1 + i for i, k in enumerate(shifted)}  # a column's +s block in the plan (−s: len(shifted) on)
        return cls(
            columns=np.array(paired + direct + direct, dtype=np.int64),
            moves=np.array([np.pi] * len(paired) + [shift] * len(direct) + [-shift] * len(direct)),
            paired=np.arange(1, 1 + len(paired)),
            kappa=np.array([pairs[k] for k in paired], dtype=complex) * np.sin(shift / 2),
            plus_at=np.array([place[k] for k in paired], dtype=np.int64),
            copied=np.r_[0, 1 + len(paired) + np.arange(2 * len(direct))],  # base, then the direct columns' ±s
            copied_at=np.array([0] + [place[k] for k in direct] + [place[k] + len(shifted) for k in direct]),
            cos=np.cos(shift / 2),
            blocks=1 + 2 * len(shifted),
        )

    @property
    def minus_at(self) -> np.ndarray:
        return self.plus_at + (self.blocks - 1) // 2

    def probabilities(self, states: torch.Tensor) -> torch.Tensor:
        """The plan's probabilities ((blocks · R), M) from ``states`` (S, R, M): numba on the CPU, else torch."""
        if states.device.type != "cpu":
            return self.torch_probabilities(states)
        _, rows, size = states.shape
        host = states.detach().to(torch.complex128).numpy()
        out = np.empty((self.blocks, rows, size))
        use_threads(kernel_threads(out.size))
        shift_probabilities_kernel(
            host, self.cos, self.paired, self.kappa, self.plus_at, self.minus_at, self.copied, self.copied_at, out
        )
        return torch.from_numpy(out).to(states.real.dtype).reshape(-1, size)

    def torch_probabilities(self, states: torch.Tensor) -> torch.Tensor:
        """:meth:`probabilities` in torch operations (any device)."""
        _, rows, size = states.shape
        index = {name: torch.from_numpy(getattr(self, name)).to(states.device) for name in ("paired", "copied")}
        out = states.real.new_empty(self.blocks, rows, size)
        kappa = torch.from_numpy(self.kappa).to(states.dtype).to(states.device)[:, None, None]
        base, turned = self.cos * states[0], kappa * states[index["paired"]]
        for at, sign in ((self.plus_at, 1), (self.minus_at, -1)):
            out[torch.from_numpy(at).to(states.device)] = _probabilities(base + sign * turned)
        out[torch.from_numpy(self.copied_at).to(states.device)] = _probabilities(states[index["copied"]])
        return out.reshape(-1, size)


def _program(steps: list, n_qubits: int) -> Program | None:
    """The compiled steps as a kernel program, or None if a gate is wider than the kernels take (torch runs it)."""
    program = Program(n_qubits)
    for step in steps:
        if isinstance(step, _Permutation):
            program.add_permutation(step.source, step.phase)
        elif isinstance(step, _Block):
            for j, run in enumerate(step.runs):
                if run:
                    program.add_run(step.low + j, [_factor(f) for f in run])
        elif len(step.qubits) > MAX_DENSE_QUBITS:
            return None
        else:
            program.add_dense(list(step.qubits), _factor(step.gate))
    return program


def _factor(gate):
    return gate if isinstance(gate, np.ndarray) else ((gate.a, gate.c, gate.s), gate.frequency, gate.column)


def _probabilities(state: torch.Tensor) -> torch.Tensor:
    if state.device.type == "cpu" and state.dtype in (torch.complex64, torch.complex128) and state.dim() == 2:
        return _KernelProbabilities.apply(state)  # one pass forward, one backward
    return state.real.square() + state.imag.square()


class _KernelProbabilities(torch.autograd.Function):
    """|ψ|² per amplitude by the numba kernels (complex128 inside), on torch.get_num_threads() threads."""

    @staticmethod
    def forward(ctx, state: torch.Tensor) -> torch.Tensor:
        host = state.detach().to(torch.complex128).contiguous().numpy()
        out = np.empty(host.shape)
        use_threads(kernel_threads(host.size))
        probabilities_kernel(host, out)
        ctx.host, ctx.dtype = host, state.dtype
        ctx.save_for_backward(state)
        return torch.from_numpy(out).to(state.real.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if torch.is_grad_enabled():  # double backward: the same gradient, 2·grad·ψ, as differentiable torch ops
            (state,) = ctx.saved_tensors
            return 2 * grad.to(state.real.dtype) * state
        grads = np.ascontiguousarray(grad.detach().to(torch.float64).numpy())
        out = np.empty(ctx.host.shape, dtype=np.complex128)
        use_threads(kernel_threads(out.size))
        probabilities_backward_kernel(ctx.host, grads, out)
        return torch.from_numpy(out).to(ctx.dtype)


def _factors(step) -> tuple:
    if isinstance(step, _Block):
        return tuple(f for run in step.runs for f in run)
    return (step.gate,) if isinstance(step, _Dense) else ()


def _block_width(n_qubits: int) -> int:
    """Adjacent qubits fused per block. Measured here (fwd+bwd of a layer of per-row 2×2 gates, 256 rows): width
    2 halves the time at 4 qubits, width 4 at 8 and 12 qubits takes 0.45× and 0.40× (fewer passes, same flops)."""
    return min(4, max(1, n_qubits // 2))


def _kron(products: list[torch.Tensor], rows: int) -> torch.Tensor:
    """Kronecker product of per-qubit matrices (lowest qubit first): bit j of the block index ↔ qubit j."""
    if all(p.dim() == 2 for p in products):
        matrix = products[-1]
        for p in reversed(products[:-1]):
            matrix = torch.kron(matrix, p)
        return matrix
    products = [p.expand(rows, 2, 2) for p in products]
    matrix = products[-1]
    for p in reversed(products[:-1]):
        d = matrix.shape[-1] * 2
        matrix = torch.einsum("rij,rkl->rikjl", matrix, p).reshape(rows, d, d)
    return matrix


def _apply_block(state: torch.Tensor, matrix: torch.Tensor, low: int, width: int, n: int) -> torch.Tensor:
    """Apply a (d, d) or per-row (R, d, d) matrix to the adjacent qubits ``low … low + width − 1``."""
    rows = state.shape[0]
    view = state.reshape(rows, 2 ** (n - low - width), 2**width, 2**low)
    pattern = "ij,rajc->raic" if matrix.dim() == 2 else "rij,rajc->raic"
    return torch.einsum(pattern, matrix, view).reshape(rows, -1)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype in (torch.float32, torch.float16, torch.bfloat16) else torch.complex128


def _apply_single(state: torch.Tensor, matrix: torch.Tensor, qubit: int, n: int) -> torch.Tensor:
    """Apply a (2, 2) or per-row (R, 2, 2) matrix to ``qubit`` of every row."""
    rows = state.shape[0]
    view = state.reshape(rows, 2 ** (n - 1 - qubit), 2, 2**qubit)
    pattern = "ij,rajc->raic" if matrix.dim() == 2 else "rij,rajc->raic"
    return torch.einsum(pattern, matrix, view).reshape(rows, -1)


def _apply_dense(state: torch.Tensor, matrix: torch.Tensor, qubits: tuple[int, ...], n: int) -> torch.Tensor:
    """Apply a (d, d) or per-row (R, d, d) matrix to ``qubits`` (bit j of its index ↔ qubits[j])."""
    rows, k = state.shape[0], len(qubits)
    axes = [1 + n - 1 - q for q in reversed(qubits)]  # most significant gate qubit first
    tensor = state.reshape((rows,) + (2,) * n).movedim(axes, tuple(range(n + 1 - k, n + 1)))
    shape = tensor.shape
    flat = tensor.reshape(rows, -1, 2**k)
    applied = flat @ matrix.transpose(-1, -2)
    return applied.reshape(shape).movedim(tuple(range(n + 1 - k, n + 1)), axes).reshape(rows, -1)


def _compile(circuit: QuantumCircuit, column: dict) -> list:
    """Fuse the circuit into steps: per-qubit runs, merged permutations, dense multi-qubit gates."""
    n = circuit.num_qubits
    width = _block_width(n)
    steps: list = []
    pending: dict[int, list] = {}

    def flush() -> None:
        for block in sorted({q // width for q in pending}):
            qubits = sorted(q for q in pending if q // width == block)
            runs = tuple(tuple(pending.get(q, ())) for q in range(qubits[0], qubits[-1] + 1))
            steps.append(_Block(qubits[0], runs))
        pending.clear()

    for inst in circuit.data:
        op = inst.operation
        if op.name == "barrier":
            continue
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        symbolic = [p for p in op.params if isinstance(p, Parameter) or getattr(p, "parameters", None)]
        if symbolic:
            if len(op.params) != 1 or op.params[0] not in column:
                raise ValueError(f"gate '{op.name}' must carry exactly one of the spec's angles, got {op.params}")
            gate = _Rotation.of(op.name, column[op.params[0]])
        else:
            try:
                gate = np.asarray(op.to_matrix(), dtype=complex)
            except Exception as error:
                if op.name in NON_UNITARY:
                    raise ValueError(
                        f"'{op.name}' on qubits {list(qubits)} is not unitary: a statevector cannot give its exact "
                        "values; use backend='aer' with shots=None (Aer's density matrix, exact) or shots"
                    ) from error
                raise ValueError(f"'{op.name}' on qubits {list(qubits)} has no matrix: use backend='aer'") from error
        if len(qubits) == 1:
            pending.setdefault(qubits[0], []).append(gate)
            continue
        flush()
        if isinstance(gate, np.ndarray) and _is_monomial(gate):
            step = _permutation(gate, qubits, n)
            if steps and isinstance(steps[-1], _Permutation):
                step = _compose(steps.pop(), step)
            steps.append(step)
        else:
            steps.append(_Dense(qubits, gate))
    flush()
    return steps


def _is_monomial(matrix: np.ndarray) -> bool:
    nonzero = np.abs(matrix) > 1e-12
    return bool(np.all(nonzero.sum(axis=0) == 1) and np.all(nonzero.sum(axis=1) == 1))


def _permutation(matrix: np.ndarray, qubits: tuple[int, ...], n: int) -> _Permutation:
    """A monomial gate on ``qubits`` as a gather over the full 2**n index space."""
    index = np.arange(2**n)
    local = np.zeros(2**n, dtype=np.int64)
    for j, q in enumerate(qubits):
        local |= ((index >> q) & 1) << j
    column_of = np.argmax(np.abs(matrix) > 1e-12, axis=1)  # new local row r takes old local column column_of[r]
    source = index.copy()
    for j, q in enumerate(qubits):
        source &= ~(1 << q)
        source |= ((column_of[local] >> j) & 1) << q
    phase = matrix[local, column_of[local]]
    return _Permutation(source, None if np.allclose(phase, 1.0) else phase)


def _compose(first: _Permutation, second: _Permutation) -> _Permutation:
    """``second`` after ``first`` as one gather."""
    source = first.source[second.source]
    phases = [p for p in (None if first.phase is None else first.phase[second.source], second.phase) if p is not None]
    phase = None if not phases else (phases[0] if len(phases) == 1 else phases[0] * phases[1])
    return _Permutation(source, phase)
