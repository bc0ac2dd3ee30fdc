"""Circuit specs: which parameters are inputs and weights, what is read out, and every angle.

Each parameterized gate argument (an *occurrence*) becomes its own angle γ_k = g_k(θ), where θ is the inputs
followed by the weights; gates without a two-term shift rule are first rewritten exactly into gates with one
(:mod:`hqnn.decompose`). Strategies differentiate the angles; autograd chains through g (:mod:`hqnn.angles`).
"""

from __future__ import annotations

import warnings

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import get_standard_gate_name_mapping

from . import readout as readouts
from .validation import check_positive_int
from .angles import AngleMap
from .hadamard_ry import HadamardRY
from .decompose import shiftable
from .readout import Readout, Setting

_STANDARD_GATES = frozenset(get_standard_gate_name_mapping())


@dataclass(frozen=True, eq=False)
class CircuitSpec:
    """A circuit ready for the strategies.

    ``circuit`` is the template, without measurements, whose every parameterized gate carries its own angle
    ``angles[k]``; ``angle_map`` computes those angles from (inputs, weights); ``readout`` says what is measured
    and how it becomes the outputs; ``closed_form`` is set when the readouts have one (the chapter's circuit).
    """

    circuit: QuantumCircuit
    angles: tuple[Parameter, ...]
    inputs: tuple[Parameter, ...]
    weights: tuple[Parameter, ...]
    angle_map: AngleMap
    readout: Readout
    closed_form: HadamardRY | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_weights(self) -> int:
        return len(self.weights)

    @property
    def n_outputs(self) -> int:
        return self.readout.n_outputs

    @property
    def n_angles(self) -> int:
        return len(self.angles)

    @property
    def n_qubits(self) -> int:
        return self.circuit.num_qubits

    @property
    def has_closed_form(self) -> bool:
        """Whether the readout has a closed form: ``closed_form`` set, qubit k's P(1) or ⟨Z⟩ in qubit order."""
        readout = self.readout
        return self.closed_form is not None and readout.per_qubit and readout.qubits == tuple(range(self.n_qubits))

    def rotated(self, setting: Setting) -> QuantumCircuit:
        """The template with ``setting``'s qubits turned into its basis (X: H, Y: S† then H), unmeasured."""
        circuit = self.circuit.copy()
        for qubit, letter in zip(setting.qubits, setting.basis):
            if letter == "Y":
                circuit.sdg(qubit)
            if letter in "XY":
                circuit.h(qubit)
        return circuit

    def measured(self, setting: Setting) -> QuantumCircuit:
        """:meth:`rotated`, its measured qubits read into register ``readout`` (bit i ↔ ``setting.qubits[i]``)."""
        circuit = self.rotated(setting)
        register = ClassicalRegister(len(setting.qubits), "readout")
        circuit.add_register(register)
        circuit.measure(list(setting.qubits), register)
        return circuit

    @classmethod
    def from_circuit(
        cls,
        circuit: QuantumCircuit,
        inputs: Sequence[Parameter],
        weights: Sequence[Parameter] = (),
        readout: str = "p1",
        qubits: Sequence[int] | None = None,
        observables: Sequence | None = None,
        interpret: Callable[[int], int] | None = None,
        output_shape: int | None = None,
    ) -> CircuitSpec:
        """Expand ``circuit`` into per-occurrence angles; ``inputs`` are fed per sample, ``weights`` trained.

        Outputs: ``readout="p1"`` or ``"z"`` per qubit of ``qubits`` (default: all); ``readout="probabilities"``
        the joint distribution of ``qubits`` (summed into classes by ``interpret``); or ``observables``, a list
        of Pauli operators on all qubits, one output ⟨O⟩ each.
        """
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a qiskit.QuantumCircuit, got {type(circuit).__name__}")
        inputs, weights = tuple(inputs), tuple(weights)
        params = inputs + weights
        if len(set(params)) != len(params):
            raise ValueError("a parameter is listed twice among inputs and weights; list each once")
        unknown = set(circuit.parameters) - set(params)
        if unknown:
            names = ", ".join(sorted(p.name for p in unknown))
            raise ValueError(f"circuit parameters {names} are neither inputs nor weights; list each in one of them")
        spec_readout = _readout(circuit.num_qubits, readout, qubits, observables, interpret, output_shape)
        template, angles, expressions, where = _expand(_flatten(circuit))
        angle_map = AngleMap(expressions, inputs, weights, where)
        return cls(template, angles, inputs, weights, angle_map, spec_readout)


def chapter_circuit(n_qubits: int = 1, readout: str = "p1") -> CircuitSpec:
    """The chapter's circuit: H then RY(θ) on every qubit, one input θ shared by all qubits, each measured."""
    n_qubits = check_positive_int(n_qubits, "n_qubits")
    if readout not in readouts.PER_QUBIT:
        raise ValueError(
            f"the chapter's circuit reads each qubit: readout must be one of {readouts.PER_QUBIT}, got {readout!r}"
        )
    theta = Parameter("theta")
    circuit = QuantumCircuit(n_qubits)
    circuit.h(range(n_qubits))
    circuit.barrier()
    circuit.ry(theta, range(n_qubits))
    spec = CircuitSpec.from_circuit(circuit, inputs=[theta], readout=readout)
    return CircuitSpec(spec.circuit, spec.angles, spec.inputs, spec.weights, spec.angle_map, spec.readout, HadamardRY())


def _readout(n_qubits: int, readout: str, qubits, observables, interpret, output_shape) -> Readout:
    if observables is not None:
        if qubits is not None or readout != "p1" or interpret is not None:
            raise ValueError("observables=[...] defines the outputs: do not also pass readout, qubits or interpret")
        return readouts.observables(observables, n_qubits)
    qubits = tuple(range(n_qubits)) if qubits is None else tuple(int(q) for q in qubits)
    if not qubits or any(not 0 <= q < n_qubits for q in qubits) or len(set(qubits)) != len(qubits):
        raise ValueError(f"qubits must be distinct indices in [0, {n_qubits}), got {qubits}")
    if readout == "probabilities":
        return readouts.probabilities(qubits, interpret, output_shape)
    if interpret is not None or output_shape is not None:
        raise ValueError("interpret and output_shape go with readout='probabilities'")
    return readouts.per_qubit(qubits, readout)


def _flatten(circuit: QuantumCircuit, max_depth: int = 10) -> QuantumCircuit:
    """Final measurements dropped and custom (non-standard) instructions decomposed until only standard gates
    remain; otherwise the instruction order is kept (it decides which gates the simulators fuse)."""
    flat = _without_final_measurements(circuit)
    for _ in range(max_depth):
        custom = {
            inst.operation.name
            for inst in flat.data
            if inst.operation.name not in _STANDARD_GATES and inst.operation.name not in ("barrier", "measure")
        }
        if not custom:
            return flat
        _warn_approximations(flat, custom)
        try:
            flat = flat.decompose(gates_to_decompose=sorted(custom))
        except Exception as error:  # Qiskit's own error names no fix: say what hqnn needs
            raise ValueError(_undecomposable(sorted(custom), error)) from error
    return flat


#: Instructions that Qiskit cannot decompose while their parameters are unbound, and what to do instead.
_UNDECOMPOSABLE_FIX = {
    "ParameterizedInitialize": (
        "amplitude encoding (qiskit-machine-learning's raw_feature_vector) sets the state's amplitudes from the "
        "inputs, which has no rotation angles to differentiate: encode the features as rotation angles instead "
        "(hqnn.angle_encoder, or a feature map such as ZZFeatureMap), or bind the amplitudes before building the layer"
    ),
    "rv": (
        "the rotation axis and angle of rv(vx, vy, vz) are non-linear in its parameters: write the rotation as "
        "u(θ, φ, λ) or rx/ry/rz gates of the parameters"
    ),
}


def _undecomposable(names: list[str], error: Exception) -> str:
    fixes = [f"'{name}': {_UNDECOMPOSABLE_FIX[name]}" for name in names if name in _UNDECOMPOSABLE_FIX]
    if fixes:
        return "hqnn cannot differentiate " + "; ".join(fixes)
    return (
        f"hqnn cannot decompose {names} while its parameters are unbound ({error}): build the circuit from "
        "parameterized standard gates (rx, ry, rz, u, crx, rzz, ...) and fixed gates"
    )


_WARNED_EVOLUTIONS: set[str] = set()


def _warn_approximations(circuit: QuantumCircuit, custom: set[str]) -> None:
    """Warn once per operator when a ``PauliEvolutionGate`` with non-commuting terms is about to run as its
    synthesis (a product formula) rather than exp(−itH)."""
    if "PauliEvolution" not in custom:
        return
    for inst in circuit.data:
        gate = inst.operation
        if gate.name != "PauliEvolution":
            continue
        operators = gate.operator if isinstance(gate.operator, list) else [gate.operator]
        paulis = [p for op in operators for p in op.paulis]
        commuting = all(a.commutes(b) for i, a in enumerate(paulis) for b in paulis[i + 1 :])
        key = repr(operators)
        if commuting or key in _WARNED_EVOLUTIONS:
            continue
        _WARNED_EVOLUTIONS.add(key)
        synthesis = f"{type(gate.synthesis).__name__}(reps={getattr(gate.synthesis, 'reps', '?')})"
        warnings.warn(
            f"PauliEvolutionGate({', '.join(str(p) for p in paulis)}) has non-commuting terms: hqnn simulates its "
            f"synthesis {synthesis} (a product formula), not exp(-itH) as StatevectorEstimator does; choose "
            "the approximation with PauliEvolutionGate(..., synthesis=LieTrotter(reps=r)) or SuzukiTrotter(order, "
            "reps), more reps being closer to exp(-itH)",
            UserWarning,
            stacklevel=4,
        )


def _without_final_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without the measurements that no later gate follows on their qubit (order kept)."""
    final, touched = set(), set()
    for position in range(len(circuit.data) - 1, -1, -1):
        inst = circuit.data[position]
        qubits = {circuit.find_bit(q).index for q in inst.qubits}
        if inst.operation.name == "measure" and not qubits & touched:
            final.add(position)
        elif inst.operation.name != "barrier":
            touched |= qubits
    if not final:
        return circuit
    kept = circuit.copy_empty_like()
    for position, inst in enumerate(circuit.data):
        if position not in final:
            kept.append(inst)
    return kept


def _expand(circuit: QuantumCircuit):
    """A copy of ``circuit`` with shiftable gates only, each parameter occurrence its own angle γ_k; and the
    expression g_k of each angle, with where it sits (for error messages)."""
    placed, expressions, where = [], [], []
    for inst in circuit.data:
        op = inst.operation
        qargs = [circuit.find_bit(q).index for q in inst.qubits]
        if op.name == "measure" or inst.clbits:
            raise ValueError(
                f"'{op.name}' on qubits {qargs} acts on classical bits mid-circuit; hqnn measures the readout "
                "qubits itself: remove measurements and classical conditions from the circuit"
            )
        for gate, gate_qubits in shiftable(op, qargs):
            symbolic = [p for p in gate.params if isinstance(p, ParameterExpression) and p.parameters]
            if not symbolic:
                placed.append((gate, gate_qubits, None))
                continue
            placed.append((gate, gate_qubits, len(expressions)))
            expressions.append(symbolic[0])
            where.append(f"gate '{gate.name}' on qubits {gate_qubits}" + ("" if gate is op else f" (from '{op.name}')"))
    angles = ParameterVector("γ", len(expressions))
    template = QuantumCircuit(circuit.num_qubits)
    for gate, gate_qubits, k in placed:
        if k is not None:
            gate = gate.copy()
            gate.params = [angles[k]]
        template.append(gate, gate_qubits)
    return template, tuple(angles), expressions, where
