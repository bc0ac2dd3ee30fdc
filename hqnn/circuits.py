"""Circuit specs: which parameters are inputs and weights, which qubits are read out, and every angle.

Each parameterized gate argument (an *occurrence*) becomes its own angle γ_k = Σ_j A[k, j]·θ_j + b[k], where
θ is the inputs followed by the weights. The shift rule differentiates each γ_k; the chain rule through A
gives exact gradients for shared parameters, data re-uploading and affine expressions such as ``2*θ + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping

#: Gates whose generator has eigenvalues ±½ (up to a global phase): the two-term shift rule is exact.
SHIFTABLE_GATES = frozenset({"rx", "ry", "rz", "p", "u1", "rxx", "ryy", "rzz", "rzx"})

#: What a readout qubit reports: P(measure 1), or ⟨Z⟩ = 1 − 2·P(1).
READOUTS = {"p1": (1.0, 0.0), "z": (-2.0, 1.0)}

_STANDARD_GATES = frozenset(get_standard_gate_name_mapping())


@dataclass(frozen=True, eq=False)
class CircuitSpec:
    """A circuit ready for the shift engine.

    ``circuit`` is the template: every occurrence replaced by its own angle ``angles[k]`` and the readout
    qubits measured into one classical register (bit i ↔ ``qubits[i]``). ``coefficients`` (K, P) and
    ``offsets`` (K,) map θ = (inputs, weights) to the K angles.
    """

    circuit: QuantumCircuit
    angles: tuple[Parameter, ...]
    inputs: tuple[Parameter, ...]
    weights: tuple[Parameter, ...]
    coefficients: np.ndarray
    offsets: np.ndarray
    qubits: tuple[int, ...]
    readout: str = "p1"
    closed_form: str | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_weights(self) -> int:
        return len(self.weights)

    @property
    def n_outputs(self) -> int:
        return len(self.qubits)

    @property
    def n_angles(self) -> int:
        return len(self.angles)

    def unmeasured(self) -> QuantumCircuit:
        """The template without its final measurements (for exact statevector paths)."""
        return self.circuit.remove_final_measurements(inplace=False)

    def to_readout(self, p1: np.ndarray) -> np.ndarray:
        """Turn per-qubit P(1) estimates into this spec's readout (an affine map, so gradients follow)."""
        scale, offset = READOUTS[self.readout]
        return p1 if scale == 1.0 else offset + scale * p1

    @classmethod
    def from_circuit(
        cls,
        circuit: QuantumCircuit,
        inputs: Sequence[Parameter],
        weights: Sequence[Parameter] = (),
        readout: str = "p1",
        qubits: Sequence[int] | None = None,
    ) -> CircuitSpec:
        """Expand ``circuit`` into per-occurrence angles; ``inputs`` are fed per sample, ``weights`` trained."""
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a qiskit.QuantumCircuit, got {type(circuit).__name__}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {sorted(READOUTS)}, got {readout!r}")
        inputs, weights = tuple(inputs), tuple(weights)
        params = inputs + weights
        if len(set(params)) != len(params):
            raise ValueError("a parameter is listed twice among inputs and weights; list each once")
        unknown = set(circuit.parameters) - set(params)
        if unknown:
            names = ", ".join(sorted(p.name for p in unknown))
            raise ValueError(f"circuit parameters {names} are neither inputs nor weights; list each in one of them")
        if qubits is None:
            qubits = tuple(range(circuit.num_qubits))
        qubits = tuple(int(q) for q in qubits)
        if not qubits or any(not 0 <= q < circuit.num_qubits for q in qubits) or len(set(qubits)) != len(qubits):
            raise ValueError(f"qubits must be distinct indices in [0, {circuit.num_qubits}), got {qubits}")
        template, angles, coefficients, offsets = _expand(_flatten(circuit), params)
        creg = ClassicalRegister(len(qubits), "readout")
        template.add_register(creg)
        template.measure(list(qubits), creg)
        return cls(template, angles, inputs, weights, coefficients, offsets, qubits, readout)


def chapter_circuit(n_qubits: int = 1, readout: str = "p1") -> CircuitSpec:
    """The chapter's circuit: H then RY(θ) on every qubit, one input θ shared by all qubits, each measured."""
    if not isinstance(n_qubits, (int, np.integer)) or n_qubits < 1:
        raise ValueError(f"n_qubits must be a positive integer, got {n_qubits!r}")
    theta = Parameter("theta")
    circuit = QuantumCircuit(int(n_qubits))
    circuit.h(range(n_qubits))
    circuit.barrier()
    circuit.ry(theta, range(n_qubits))
    spec = CircuitSpec.from_circuit(circuit, inputs=[theta], readout=readout)
    return replace(spec, closed_form="h_ry")


def _flatten(circuit: QuantumCircuit, max_depth: int = 10) -> QuantumCircuit:
    """Decompose custom (non-standard) instructions until only standard gates remain."""
    flat = circuit.remove_final_measurements(inplace=False)
    for _ in range(max_depth):
        custom = {
            inst.operation.name
            for inst in flat.data
            if inst.operation.name not in _STANDARD_GATES and inst.operation.name not in ("barrier", "measure")
        }
        if not custom:
            return flat
        flat = flat.decompose(gates_to_decompose=sorted(custom))
    return flat


def _expand(circuit: QuantumCircuit, params: tuple[Parameter, ...]):
    """Copy ``circuit`` with one fresh angle per parameter occurrence, and the affine map to those angles."""
    index = {p: j for j, p in enumerate(params)}
    rows, offsets, placed = [], [], []
    for inst in circuit.data:
        op = inst.operation
        qargs = [circuit.find_bit(q).index for q in inst.qubits]
        if op.name == "measure" or inst.clbits:
            raise ValueError(
                f"'{op.name}' on qubits {qargs} acts on classical bits mid-circuit; hqnn measures the readout "
                "qubits itself: remove measurements and classical conditions from the circuit"
            )
        symbolic = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
        if not symbolic:
            placed.append((op, qargs, None))
            continue
        if op.name not in SHIFTABLE_GATES:
            raise ValueError(
                f"gate '{op.name}' on qubits {qargs} carries parameters {symbolic} but the two-term shift rule "
                f"holds only for {sorted(SHIFTABLE_GATES)}: decompose it first, e.g. "
                f"transpile(circuit, basis_gates=['rx', 'ry', 'rz', 'cx']) or build it from those gates"
            )
        row, offset = _affine(op.params[0], index, f"gate '{op.name}' on qubits {qargs}")
        placed.append((op, qargs, len(rows)))
        rows.append(row)
        offsets.append(offset)

    angles = ParameterVector("γ", len(rows))
    template = QuantumCircuit(circuit.num_qubits)
    for op, qargs, k in placed:
        if k is not None:
            op = op.copy()
            op.params = [angles[k]]
        template.append(op, qargs)
    coefficients = np.array(rows, dtype=np.float64).reshape(len(rows), len(params))
    return template, tuple(angles), coefficients, np.array(offsets, dtype=np.float64)


def _affine(expr: ParameterExpression, index: dict, where: str) -> tuple[np.ndarray, float]:
    """Coefficients a and offset b with expr = a·θ + b; raise if ``expr`` is not affine in the parameters."""
    row = np.zeros(len(index))
    for p in expr.parameters:
        slope = expr.gradient(p)
        if isinstance(slope, ParameterExpression) and slope.parameters:
            raise ValueError(
                f"{where}: angle {expr} is not affine in {p.name} (d/d{p.name} = {slope}); the shift rule "
                "needs angles of the form a·θ + b: move the nonlinearity into the classical network"
            )
        slope = complex(slope)
        if slope.imag:
            raise ValueError(f"{where}: angle {expr} has a complex coefficient for {p.name}")
        row[index[p]] = slope.real
    offset = complex(expr.bind({p: 0.0 for p in expr.parameters}))
    return row, offset.real
