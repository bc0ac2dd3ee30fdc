"""Any Qiskit ``BaseEstimatorV2``: ONE PUB with every feature's Pauli term as the observables (shape (F,)) and
the whole (R, K) angle matrix as an (R, 1)-shaped binding, so the estimator returns all (R, F) expectation
values at once. ``shots`` map to the estimator's precision 1/√shots; ``None`` keeps its default."""

from __future__ import annotations

import math

import numpy as np
import torch
from qiskit.primitives import BaseEstimatorV2
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

from ..circuits import CircuitSpec
from .base import Executor, SeedLike, host_angles, to_device
from .jobs import Pending
from .sampler import parameter_columns, primitive_backend, seeded_copy


class EstimatorExecutor(Executor):
    """Expectation values from any estimator (``StatevectorEstimator``, Aer's ``EstimatorV2``, IBM Runtime's).

    Only parity features (per-qubit readouts and Pauli observables) have an estimator form; a joint
    distribution (``readout="probabilities"``) needs a sampler. ``backend`` (default: the estimator's own, if it
    names one) is the device the circuit is transpiled to; observables follow its layout.
    """

    def __init__(
        self,
        spec: CircuitSpec,
        estimator: BaseEstimatorV2,
        shots: int | None = None,
        seed: SeedLike = None,
        backend: BackendV2 | None = None,
    ):
        super().__init__(spec, shots, seed)
        if not isinstance(estimator, BaseEstimatorV2):
            raise TypeError(f"estimator must be a qiskit BaseEstimatorV2, got {type(estimator).__name__}")
        if any(s.masks is None for s in spec.readout.settings):
            raise ValueError(
                "an estimator returns expectation values, not outcome probabilities: use a sampler (or Aer) for "
                "readout='probabilities', or read out observables=[...]"
            )
        self.estimator = estimator
        self.precision = None if self.shots is None else 1 / math.sqrt(self.shots)
        self.seeded = seed is not None
        self.backend = primitive_backend(estimator) if backend is None else backend
        circuit = spec.circuit
        terms = [_term(setting, mask, spec.n_qubits) for setting in spec.readout.settings for mask in setting.masks]
        if self.backend is not None:
            manager = generate_preset_pass_manager(
                backend=self.backend, optimization_level=1, seed_transpiler=self.next_seed()
            )
            circuit = manager.run(circuit)
            terms = [term.apply_layout(circuit.layout) for term in terms]
        self.circuit, self.observables = circuit, terms
        self._columns = parameter_columns(circuit, spec.angles)

    @property
    def circuits_per_row(self) -> int:
        """PUB elements one row becomes: one per observable (the (R, 1) × (F,) broadcast)."""
        return len(self.observables)

    def job_seed(self) -> int | None:
        return self.next_seed() if self.seeded and isinstance(self.estimator, AerEstimatorV2) else None

    def submit(self, angles: torch.Tensor, seed: int | None, shots: np.ndarray | None = None) -> Pending:
        self.check_row_shots(shots, len(angles))  # one shot count per job: refuses per-row shots
        values = host_angles(angles)[:, None, self._columns]  # (R, 1, P): broadcast against (F,) observables
        estimator = self.estimator if seed is None else seeded_copy(self.estimator, seed)
        expected = (len(values), len(self.observables))

        def decode(result) -> torch.Tensor:
            evs = np.asarray(result[0].data.evs, dtype=np.float64)
            if evs.shape != expected:
                raise RuntimeError(f"expectation values of shape {evs.shape}, expected {expected}")
            return to_device(evs, angles)

        return Pending(estimator.run([(self.circuit, self.observables, values, self.precision)]), decode, "estimator")


def _term(setting, mask: int, n_qubits: int) -> SparsePauliOp:
    """The Pauli whose expectation is ``setting``'s parity feature ``mask``."""
    letters = ["I"] * n_qubits
    for i, (qubit, letter) in enumerate(zip(setting.qubits, setting.basis)):
        if mask >> i & 1:
            letters[n_qubits - 1 - qubit] = letter
    return SparsePauliOp("".join(letters))
