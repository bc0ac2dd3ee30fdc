"""Exact simulators a user could pick instead of hqnn, each fed the SAME Qiskit circuit (translated gate by gate),
for the ``scale`` group: tensorcircuit-ng (JAX, jit + vmap + value_and_grad, complex128, its own gates, one
``c.state()`` then every output from it), PennyLane ``lightning.qubit`` (adjoint) and ``default.qubit`` (torch
backprop, broadcast).

Circuit families (``bench_circuit``): ``layered`` (the RY encoder + 3 × (RY, RZ on every qubit, CX chain), ⟨Z⟩ on
every qubit), ``zz-real-amplitudes`` (``zz_feature_map`` + ``real_amplitudes``, a list of Pauli observables) and
``efficient-su2-full`` (an RY encoder + ``efficient_su2`` with full entanglement, ⟨Z⟩ on every qubit).
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from qiskit import QuantumCircuit, transpile

from baselines import scale_circuit

FAMILIES = ("layered", "zz-real-amplitudes", "efficient-su2-full")
TC_HINT = "tensorcircuit-ng is not installed: pip install -e '.[bench]' to time it"
BASIS = ["h", "rx", "ry", "rz", "p", "cx", "cz"]
#: tensorcircuit-ng's name of each gate of BASIS.
TC_GATES = {"h": "h", "rx": "rx", "ry": "ry", "rz": "rz", "p": "phase", "cx": "cnot", "cz": "cz"}


def bench_circuit(family: str, n: int):
    """(circuit, inputs, weights, readout options for Hybrid) of a family at ``n`` qubits."""
    from qiskit.circuit import ParameterVector
    from qiskit.circuit.library import efficient_su2, real_amplitudes, zz_feature_map

    if family == "layered":
        circuit, x, w = scale_circuit(n)
        return circuit, x, w, {"readout": "z"}
    if family == "zz-real-amplitudes":
        features, ansatz = zz_feature_map(n, reps=2), real_amplitudes(n, reps=3)
        circuit = features.compose(ansatz)
        # ZZ on neighbours, X on every qubit, Y on the two end qubits (label: rightmost character is qubit 0)
        labels = ["I" * (n - 2 - i) + "ZZ" + "I" * i for i in range(n - 1)] + ["X" * n, "Y" + "I" * (n - 2) + "Y"]
        return circuit, list(features.parameters), list(ansatz.parameters), {"observables": labels}
    if family == "efficient-su2-full":
        x = ParameterVector("x", n)
        circuit = QuantumCircuit(n)
        for q in range(n):
            circuit.ry(x[q], q)
        ansatz = efficient_su2(n, entanglement="full", reps=2)
        circuit = circuit.compose(ansatz)
        return circuit, list(x), list(ansatz.parameters), {"readout": "z"}
    raise ValueError(f"unknown family {family!r}")


def observables(options: dict, n: int) -> list[str]:
    """The Pauli labels the layer reads (``readout="z"``: Z on qubit 0, 1, …)."""
    if "observables" in options:
        return list(options["observables"])
    return ["I" * (n - 1 - q) + "Z" + "I" * q for q in range(n)]


def _program(circuit: QuantumCircuit, inputs: list, weights: list):
    """The circuit in BASIS as [(gate, qubits, angle)], an angle being None or (function(x, w), sympy expression)."""
    import sympy

    flat = transpile(circuit, basis_gates=BASIS, optimization_level=0)
    symbols = {p.name: ("x", i) for i, p in enumerate(inputs)} | {p.name: ("w", i) for i, p in enumerate(weights)}
    ops = []
    for inst in flat.data:
        name = inst.operation.name
        if name == "barrier":
            continue
        if name not in BASIS:
            raise ValueError(f"gate {name} is outside {BASIS}")
        qubits = tuple(flat.find_bit(q).index for q in inst.qubits)
        angle = None
        if inst.operation.params:
            value = inst.operation.params[0]
            if hasattr(value, "parameters") and value.parameters:
                expr = value.sympify()
                names = sorted(str(s) for s in expr.free_symbols)
                fn = sympy.lambdify([sympy.Symbol(s) for s in names], expr, modules=[{}, "math"])
                where = [symbols[s] for s in names]
                angle = (lambda x, w, fn=fn, where=where: fn(*[(x if k == "x" else w)[..., i] for k, i in where]))
            else:
                constant = float(value)
                angle = lambda x, w, c=constant: c
        ops.append((name, qubits, angle))
    return ops


def _pauli_tables(labels: list[str], n: int, bit_of) -> tuple[np.ndarray, np.ndarray]:
    """Per label: the index map i → i XOR (X/Y bits) and the phase with P|i⟩ = phase[i]·|i XOR mask⟩; ``bit_of(q)``
    is qubit q's bit in the simulator's index."""
    index = np.arange(1 << n)
    flips, phases = [], []
    for label in labels:
        mask, phase = 0, np.ones(1 << n, dtype=complex)
        for q, letter in enumerate(reversed(label)):
            bit = (index >> bit_of(q)) & 1
            if letter in "XY":
                mask |= 1 << bit_of(q)
            if letter == "Z":
                phase *= 1 - 2 * bit
            if letter == "Y":
                phase *= 1j * (1 - 2 * bit)
        flips.append(index ^ mask)
        phases.append(phase)
    return np.array(flips), np.array(phases)


class TensorCircuitLayer:
    """tensorcircuit-ng on JAX: ``values(x, w)`` and ``value_and_grads(x, w, cotangent)``, jitted, vmapped over
    the rows of x; ``compile_seconds`` is the first call's jit time (paid once per shape)."""

    def __init__(self, circuit, inputs, weights, options):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import tensorcircuit as tc

        tc.set_backend("jax")
        tc.set_dtype("complex128")
        n = circuit.num_qubits
        ops = _program(circuit, inputs, weights)
        labels = observables(options, n)
        _, phases = _pauli_tables(labels, n, lambda q: n - 1 - q)  # qubit 0 is tc's top bit (axis 0)
        z_only = {label: i for i, label in enumerate(dict.fromkeys(lb for lb in labels if set(lb) <= set("IZ")))}
        signs = jnp.asarray(np.stack([phases[labels.index(label)].real for label in z_only], axis=1)) if z_only else None
        paulis = [
            (tuple(q for q, letter in enumerate(reversed(label)) if letter in "XY"), jnp.asarray(p.reshape((2,) * n)))
            for label, p in zip(labels, phases)
        ]

        def outputs(x, w):
            # tensorcircuit-ng's fastest form here (measured against merging each run of single-qubit gates into
            # c.any on a product-state input: that was 5-9x slower at 12 qubits): its own gates, one c.state(),
            # the Z-only observables as one product of |psi|^2 with a table of signs, the others by axis flips.
            c = tc.Circuit(n)
            for name, qubits, angle in ops:
                gate = getattr(c, TC_GATES[name])
                if angle is None:
                    gate(*qubits)
                else:
                    gate(*qubits, theta=angle(x, w))
            psi = c.state()
            z_values = (jnp.abs(psi) ** 2) @ signs if z_only else None
            psi = psi.reshape((2,) * n)
            values = []
            for label, (axes, phase) in zip(labels, paulis):
                if label in z_only:
                    values.append(z_values[z_only[label]])
                    continue
                flipped = jnp.flip(psi, axes) if axes else psi  # a gather's gradient is a scatter, slow on XLA
                values.append(jnp.real(jnp.sum(jnp.conj(flipped) * phase * psi)))
            return jnp.stack(values)

        batched = jax.vmap(outputs, (0, None))
        self._values = jax.jit(batched)
        self._vjp = jax.jit(
            jax.value_and_grad(lambda x, w, t: jnp.sum(batched(x, w) * t), argnums=(0, 1))
        )
        self._jnp = jnp
        self.compile_seconds = None

    def values(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(self._values(self._jnp.asarray(x), self._jnp.asarray(w)))

    def value_and_grads(self, x, w, cotangent):
        """(Σ outputs·cotangent, d/dx, d/dw), blocked until ready; jnp arrays in, jnp arrays out."""
        value, (gx, gw) = self._vjp(x, w, cotangent)
        gx.block_until_ready()
        gw.block_until_ready()
        return value, gx, gw

    def prepare(self, x: np.ndarray, w: np.ndarray, cotangent: np.ndarray):
        """Device arrays for timing, after one compiling call (its time in ``compile_seconds``)."""
        args = tuple(self._jnp.asarray(a) for a in (x, w, cotangent))
        start = time.perf_counter()
        self.value_and_grads(*args)
        self.compile_seconds = time.perf_counter() - start
        return args


def pennylane_peer(circuit, inputs, weights, options, device: str):
    """A PennyLane QNode, torch interface: ``default.qubit`` with backprop and broadcasting, ``lightning.qubit``
    with the adjoint method. ``f(x (B, n_in), w (n_w,)) → (B, n_out)``."""
    import pennylane as qml

    n = circuit.num_qubits
    ops = _program(circuit, inputs, weights)
    letters = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}

    def word(label):
        factors = [letters[c](q) for q, c in enumerate(reversed(label)) if c != "I"]
        return factors[0] if len(factors) == 1 else qml.prod(*factors)

    words = [word(label) for label in observables(options, n)]
    gates = {"h": qml.Hadamard, "cx": qml.CNOT, "cz": qml.CZ, "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ,
             "p": qml.PhaseShift}
    diff = "backprop" if device == "default.qubit" else "adjoint"

    @qml.qnode(qml.device(device, wires=n), interface="torch", diff_method=diff)
    def qnode(x, w):
        for name, qubits, angle in ops:
            if angle is None:
                gates[name](wires=list(qubits))
            else:
                gates[name](angle(x, w), wires=list(qubits))
        return [qml.expval(o) for o in words]

    return lambda x, w: torch.stack(qnode(x, w), -1)


def single_thread_environment() -> None:
    """One thread for XLA (tensorcircuit-ng) and OpenMP (lightning), as for every other system; before importing
    them."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
