"""Exact probabilities for any circuit spec: one Aer statevector job with ``save_probabilities``."""

from __future__ import annotations

import numpy as np
from qiskit import transpile
from qiskit_aer import AerSimulator

from ..circuits import CircuitSpec
from .base import Executor, SeedLike, marginals


class StatevectorExecutor(Executor):
    """Exact per-qubit P(1) (``shots=None``); a backend with a noise model gives the exact noisy values."""

    def __init__(self, spec: CircuitSpec, backend=None, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        self.backend = AerSimulator(method="statevector") if backend is None else backend
        circuit = spec.unmeasured()
        circuit.save_probabilities(list(spec.qubits))
        self.circuit = transpile(circuit, self.backend)
        present = set(self.circuit.parameters)
        self._bound = [(k, a) for k, a in enumerate(spec.angles) if a in present]

    def probabilities(self, angles: np.ndarray) -> np.ndarray:
        """Joint probabilities of the readout qubits, (R, 2**n_out), bit i ↔ readout qubit i."""
        rows = len(angles)
        if self._bound:
            binds = [{a: angles[:, k].tolist() for k, a in self._bound}]
            circuits = self.circuit
        else:
            binds, circuits = None, [self.circuit] * rows
        try:
            result = self.backend.run(
                circuits, parameter_binds=binds, shots=1, seed_simulator=self.next_seed()
            ).result()
        except Exception as error:
            raise RuntimeError(f"Aer exact job failed: {error}") from error
        if not result.success:
            raise RuntimeError(f"Aer exact job failed: {result.status}")
        size = 2**self.spec.n_outputs
        return np.array([np.asarray(r.data.probabilities).reshape(size) for r in result.results])

    def run(self, angles: np.ndarray) -> np.ndarray:
        return marginals(self.probabilities(angles), self.spec.n_outputs)
