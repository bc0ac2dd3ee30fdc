"""What a layer reports: measurement settings (which qubits, in which Pauli basis) and a linear map from their
features to the outputs. A feature is the mean over shots of a function of one setting's outcome bits — a parity
(−1)^popcount(outcome & mask), or the indicator of each outcome — so shots, exact probabilities and estimators
all give the same numbers, and every output is affine in them (the shift rule passes straight through)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from qiskit.quantum_info import Pauli, SparsePauliOp

from .constants import TensorCache
from .gates import BASIS_CHANGE

#: Per-qubit readouts: P(measure 1), or ⟨Z⟩ = 1 − 2·P(1).
PER_QUBIT = ("p1", "z")
#: Every ``readout=`` a layer takes; observables are passed as ``observables=[...]`` instead.
READOUTS = (*PER_QUBIT, "probabilities")
#: Parity features of settings with at most this many measured bits are read from a dense table of counts.
DENSE_OUTCOME_BITS = 12
#: Imaginary parts of Pauli coefficients below this are rounding, above it the operator is not Hermitian.
HERMITIAN_ATOL = 1e-12


@dataclass(frozen=True, eq=False)
class Setting:
    """Rotate ``qubits`` into ``basis`` (one of X, Y, Z each; ``basis[i]`` ↔ ``qubits[i]``), then measure them;
    bit i of an outcome is ``qubits[i]``. Features: a parity per entry of ``masks``, or with ``masks=None`` the
    probability of each of the 2**m outcomes."""

    qubits: tuple[int, ...]
    basis: str
    masks: np.ndarray | None
    _signs: np.ndarray | None = field(default=None, repr=False)
    _outcome_index: dict = field(default_factory=dict, repr=False)
    _basis_matrices: dict = field(default_factory=dict, repr=False)
    _constants: TensorCache = field(default_factory=TensorCache, repr=False)

    @property
    def n_features(self) -> int:
        return 2 ** len(self.qubits) if self.masks is None else len(self.masks)

    @property
    def dense(self) -> bool:
        """Whether counts become features through a dense (E, 2**m) table of outcome frequencies."""
        return self.masks is None or len(self.qubits) <= DENSE_OUTCOME_BITS

    def signs(self) -> np.ndarray:
        """(2**m, F): the parity features' value ±1 for each outcome (parity settings only; computed once)."""
        if self._signs is None:
            outcomes = np.arange(2 ** len(self.qubits), dtype=np.int64)
            object.__setattr__(self, "_signs", parity_signs(outcomes, self.masks))
        return self._signs

    def outcome_index(self, n_qubits: int) -> np.ndarray:
        """For each of the 2**n basis states, this setting's outcome (bit b ↔ ``qubits[b]``; computed once per n)."""
        if n_qubits not in self._outcome_index:
            states, index = np.arange(1 << n_qubits, dtype=np.int64), np.zeros(1 << n_qubits, dtype=np.int64)
            for b, q in enumerate(self.qubits):
                index |= ((states >> q) & 1) << b
            self._outcome_index[n_qubits] = index
        return self._outcome_index[n_qubits]

    def basis_matrices(self, adjoint: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(qubits, (J, 2, 2) complex matrices) of the gates turning the X and Y qubits into this basis (daggered:
        ``adjoint``; computed once)."""
        if adjoint not in self._basis_matrices:
            pairs = [(q, BASIS_CHANGE[letter]) for q, letter in zip(self.qubits, self.basis) if letter != "Z"]
            matrices = [m.conj().T if adjoint else m for _, m in pairs]
            self._basis_matrices[adjoint] = (
                np.array([q for q, _ in pairs], dtype=np.int64),
                np.array(matrices, dtype=np.complex128).reshape(-1, 2, 2),
            )
        return self._basis_matrices[adjoint]

    def from_distribution(self, probabilities: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Features (R, F) from outcome probabilities or frequencies (R, 2**m): differentiable for a tensor; a numpy
        array's product is numpy's (at (2048, 256) @ (256, 8) here, half of torch's time)."""
        if self.masks is None:
            return probabilities
        if isinstance(probabilities, np.ndarray):
            return probabilities @ self.signs().astype(probabilities.dtype, copy=False)
        return probabilities @ self._constants.get("signs", self.signs, probabilities.dtype, probabilities.device)

    def from_counts(
        self,
        outcomes: np.ndarray,
        hits: np.ndarray,
        experiment: np.ndarray,
        n_experiments: int,
        shots: int,
    ) -> np.ndarray:
        """Features (E, F): the mean over each experiment's ``shots`` of its ``outcomes`` (N,) seen ``hits`` times.

        ``experiment`` (N,) says which experiment each outcome belongs to. A ``dense`` setting's counts become an
        (E, 2**m) table first (one bincount, one matrix product).
        """
        if self.dense:
            size = 2 ** len(self.qubits)
            table = np.bincount(experiment * size + outcomes, weights=hits, minlength=n_experiments * size)
            return self.from_distribution(table.reshape(n_experiments, size) / shots)
        weighted = parity_signs(outcomes, self.masks) * hits[:, None]
        columns = [np.bincount(experiment, weights=column, minlength=n_experiments) for column in weighted.T]
        return np.stack(columns, axis=1).reshape(n_experiments, -1) / shots


@dataclass(frozen=True, eq=False)
class Readout:
    """Measurement settings and the affine map ``outputs = features @ matrix + offset``.

    ``kind`` is ``"p1"``, ``"z"``, ``"observables"`` or ``"probabilities"``; ``qubits`` are the per-qubit or
    joint readout's qubits (empty for observables).
    """

    kind: str
    settings: tuple[Setting, ...]
    matrix: np.ndarray
    offset: np.ndarray
    qubits: tuple[int, ...] = ()
    _constants: TensorCache = field(default_factory=TensorCache, repr=False)
    _joint_weights: list | None = field(default=None, repr=False)
    _host: dict = field(default_factory=dict, repr=False)  # dtype → (matrix, offset) converted once

    def joint_weights(self) -> list[np.ndarray]:
        """Per setting, the (n_out, 2**m) map from its joint outcome distribution to the outputs (its features'
        parity signs, then its rows of ``matrix``), transposed and C-ordered: the kernels sum along outcomes
        (computed once)."""
        if self._joint_weights is None:
            weights, first = [], 0
            for setting in self.settings:
                rows = self.matrix[first : first + setting.n_features]
                weights.append(np.ascontiguousarray((rows if setting.masks is None else setting.signs() @ rows).T))
                first += setting.n_features
            object.__setattr__(self, "_joint_weights", weights)
        return self._joint_weights

    @property
    def n_features(self) -> int:
        return sum(s.n_features for s in self.settings)

    @property
    def n_outputs(self) -> int:
        return self.matrix.shape[1]

    @property
    def per_qubit(self) -> bool:
        return self.kind in PER_QUBIT

    def outputs(self, features: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Outputs (..., n_out) from features (..., F): a tensor, or a numpy array computed in its dtype."""
        if isinstance(features, np.ndarray):
            dtype = features.dtype
            if dtype not in self._host:
                self._host[dtype] = (self.matrix.astype(dtype, copy=False), self.offset.astype(dtype, copy=False))
            matrix, offset = self._host[dtype]
            return features @ matrix + offset
        get = self._constants.get
        matrix = get("matrix", self.matrix, features.dtype, features.device)
        return features @ matrix + get("offset", self.offset, features.dtype, features.device)


def per_qubit(qubits: Sequence[int], kind: str = "p1") -> Readout:
    """P(1) (``"p1"``) or ⟨Z⟩ (``"z"``) of each of ``qubits``: one Z-basis setting, a parity per qubit."""
    if kind not in PER_QUBIT:
        raise ValueError(f"readout must be one of {READOUTS} (or pass observables=[...]), got {kind!r}")
    m = len(qubits)
    setting = Setting(tuple(qubits), "Z" * m, np.left_shift(1, np.arange(m, dtype=np.int64)))
    scale, offset = (-0.5, 0.5) if kind == "p1" else (1.0, 0.0)
    return Readout(kind, (setting,), scale * np.eye(m), np.full(m, offset), tuple(qubits))


def probabilities(
    qubits: Sequence[int], interpret: Callable[[int], int] | None = None, output_shape: int | None = None
) -> Readout:
    """The 2**m joint probabilities of ``qubits`` (outcome index: bit i ↔ ``qubits[i]``), or with ``interpret``
    (outcome → class, as in qiskit-machine-learning's SamplerQNN) the probability of each class."""
    m = len(qubits)
    setting = Setting(tuple(qubits), "Z" * m, None)
    if interpret is None:
        if output_shape is not None:
            raise ValueError("output_shape only goes with interpret=...: without it the output has 2**m entries")
        return Readout("probabilities", (setting,), np.eye(2**m), np.zeros(2**m), tuple(qubits))
    classes = _classes(interpret, 2**m, output_shape)
    matrix = np.zeros((2**m, classes.max() + 1 if output_shape is None else output_shape))
    matrix[np.arange(2**m), classes] = 1.0
    return Readout("probabilities", (setting,), matrix, np.zeros(matrix.shape[1]), tuple(qubits))


def observables(operators: Sequence, n_qubits: int) -> Readout:
    """⟨O⟩ for each Hermitian Pauli sum O (a ``SparsePauliOp``, ``Pauli`` or label such as ``"ZZ"``) on
    ``n_qubits`` qubits. Terms are grouped qubit-wise commuting: one setting (basis) per group."""
    if isinstance(operators, (str, Pauli, SparsePauliOp)):
        operators = [operators]
    operators = [_hermitian(op, n_qubits, i) for i, op in enumerate(operators)]
    if not operators:
        raise ValueError("observables is empty: pass at least one operator, e.g. observables=['ZZ']")
    labels = sorted({label for op in operators for label in op.paulis.to_labels() if set(label) != {"I"}})
    settings, column = [], {}
    groups = SparsePauliOp(labels).group_commuting(qubit_wise=True) if labels else []
    for group in groups:
        group_labels = group.paulis.to_labels()
        letters = {}  # qubit → basis letter; label index n-1-q is qubit q
        for label in group_labels:
            letters.update({q: label[n_qubits - 1 - q] for q in range(n_qubits) if label[n_qubits - 1 - q] != "I"})
        qubits = tuple(sorted(letters))
        masks = []
        for label in group_labels:
            masks.append(sum(1 << i for i, q in enumerate(qubits) if label[n_qubits - 1 - q] != "I"))
            column[label] = sum(s.n_features for s in settings) + len(masks) - 1
        settings.append(Setting(qubits, "".join(letters[q] for q in qubits), np.array(masks, dtype=np.int64)))
    if not settings:  # identities only: ⟨I⟩ = 1, the offset; one empty parity (always +1) keeps every job well-formed
        settings.append(Setting((0,), "Z", np.array([0], dtype=np.int64)))
        column["identity"] = 0
    matrix = np.zeros((len(column), len(operators)))
    offset = np.zeros(len(operators))
    for o, op in enumerate(operators):
        for label, coeff in zip(op.paulis.to_labels(), op.coeffs.real):
            if set(label) == {"I"}:
                offset[o] += coeff
            else:
                matrix[column[label], o] += coeff
    return Readout("observables", tuple(settings), matrix, offset)


def parity_signs(outcomes: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N, F) array of (−1)^popcount(outcome & mask) for each outcome (N,) and mask (F,)."""
    odd = np.bitwise_count(outcomes[:, None] & masks[None, :]) & 1
    return 1.0 - 2.0 * odd


def _hermitian(operator, n_qubits: int, position: int) -> SparsePauliOp:
    try:
        op = operator if isinstance(operator, SparsePauliOp) else SparsePauliOp(operator)
    except Exception as error:
        raise ValueError(
            f"observable {position} ({operator!r}) is not a Pauli operator: pass a SparsePauliOp, a Pauli or a "
            f"label such as 'Z' * {n_qubits} ({error})"
        ) from error
    if op.num_qubits != n_qubits:
        raise ValueError(
            f"observable {position} acts on {op.num_qubits} qubits but the circuit has {n_qubits}: "
            "give one Pauli letter per circuit qubit (qubit 0 is the rightmost letter)"
        )
    op = op.simplify(atol=0)
    if np.any(np.abs(op.coeffs.imag) > HERMITIAN_ATOL):
        raise ValueError(
            f"observable {position} is not Hermitian (complex coefficients {op.coeffs[np.abs(op.coeffs.imag) > 0]}): "
            "an expectation value needs real coefficients"
        )
    return op


def _classes(interpret: Callable[[int], int], outcomes: int, output_shape: int | None) -> np.ndarray:
    """``interpret`` applied to every outcome, checked: whole numbers in [0, output_shape)."""
    if not callable(interpret):
        raise TypeError(f"interpret must be a function outcome → class, got {type(interpret).__name__}")
    if output_shape is not None and (
        isinstance(output_shape, bool) or not isinstance(output_shape, (int, np.integer)) or output_shape < 1
    ):
        raise ValueError(f"output_shape must be a positive whole number (the number of classes), got {output_shape!r}")
    classes = []
    for outcome in range(outcomes):
        value = interpret(outcome)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"interpret({outcome}) returned {value!r}: it must return a class index (an int)")
        if value < 0 or (output_shape is not None and value >= output_shape):
            bound = f"[0, {output_shape})" if output_shape is not None else "≥ 0"
            raise ValueError(
                f"interpret({outcome}) returned class {value}, outside {bound}: fix interpret or output_shape"
            )
        classes.append(int(value))
    return np.array(classes, dtype=np.int64)
