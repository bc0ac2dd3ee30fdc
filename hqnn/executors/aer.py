"""Qiskit Aer shots: transpile once, bind every row in one ``backend.run``, decode counts with numpy."""

from __future__ import annotations

import numpy as np
from qiskit import transpile
from qiskit_aer import AerSimulator

from ..circuits import CircuitSpec
from .base import Executor, SeedLike


class AerExecutor(Executor):
    """Shot estimates from an Aer backend (``AerSimulator()`` by default, or one with a noise model)."""

    def __init__(self, spec: CircuitSpec, backend=None, shots: int = 100, seed: SeedLike = None):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError("AerExecutor samples shots; for exact probabilities use StatevectorExecutor")
        self.backend = AerSimulator() if backend is None else backend
        self.circuit = transpile(spec.circuit, self.backend)
        present = set(self.circuit.parameters)
        self._bound = [(k, a) for k, a in enumerate(spec.angles) if a in present]

    def run(self, angles: np.ndarray) -> np.ndarray:
        rows = len(angles)
        if self._bound:
            binds = [{a: angles[:, k].tolist() for k, a in self._bound}]
            circuits = self.circuit
        else:
            binds, circuits = None, [self.circuit] * rows
        try:
            result = self.backend.run(
                circuits,
                parameter_binds=binds,
                shots=self.shots,
                seed_simulator=self.next_seed(),
                runtime_parameter_bind_enable=True,
            ).result()
        except Exception as error:
            raise RuntimeError(f"Aer job failed: {error}") from error
        if not result.success:
            raise RuntimeError(f"Aer job failed: {result.status}")
        return counts_to_p1([r.data.counts for r in result.results], self.spec.n_outputs, self.shots)


def counts_to_p1(counts: list[dict], n_bits: int, shots: int) -> np.ndarray:
    """Per-bit P(1) for each experiment from Aer's hex-keyed counts, shape (len(counts), n_bits)."""
    sizes = np.fromiter((len(c) for c in counts), dtype=np.int64, count=len(counts))
    keys = np.fromiter((int(k, 16) for c in counts for k in c), dtype=np.int64, count=sizes.sum())
    hits = np.fromiter((v for c in counts for v in c.values()), dtype=np.float64, count=sizes.sum())
    bits = (keys[:, None] >> np.arange(n_bits)) & 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    totals = np.add.reduceat(hits, starts)
    if np.any(sizes == 0) or np.any(totals != shots):
        raise RuntimeError(f"Aer returned {totals.min():.0f}..{totals.max():.0f} shots per experiment, expected {shots}")
    return np.add.reduceat(bits * hits[:, None], starts, axis=0) / shots
