"""What hqnn knows about parameterized gates, in one table shared by the rewriting (:mod:`hqnn.decompose`) and the
statevector simulator (:mod:`hqnn.simulator`): each two-term gate's generator. A gate exp(−iγG/2) with G² = I has
eigenvalues ±½ in γ, so the two-term shift rule is exact for it; the phase gate is one up to a global phase."""

from __future__ import annotations

import numpy as np

PAULI_X, PAULI_Y, PAULI_Z = (
    np.array(m, dtype=complex) for m in ([[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]])
)
#: Gates exp(−iγG/2) with G² = I, by Qiskit name; G in Qiskit's little-endian qubit order.
GENERATORS: dict[str, np.ndarray] = {
    "rx": PAULI_X,
    "ry": PAULI_Y,
    "rz": PAULI_Z,
    "rxx": np.kron(PAULI_X, PAULI_X),
    "ryy": np.kron(PAULI_Y, PAULI_Y),
    "rzz": np.kron(PAULI_Z, PAULI_Z),
    "rzx": np.kron(PAULI_X, PAULI_Z),  # Z on the first qubit (bit 0), X on the second
}
#: diag(1, e^{iγ}) = e^{iγ/2}·RZ(γ): two-term up to a global phase.
PHASE_GATES = frozenset({"p", "u1"})
#: Gates the two-term shift rule holds for: every parameterized gate is rewritten into these.
SHIFTABLE_GATES = frozenset(GENERATORS) | PHASE_GATES
#: Measuring in the X or Y basis is measuring Z after this gate (X: H, Y: H·S†).
BASIS_CHANGE = {"X": np.array([[1, 1], [1, -1]]) / np.sqrt(2), "Y": np.array([[1, -1j], [1, 1j]]) / np.sqrt(2)}
