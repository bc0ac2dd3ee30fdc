"""Any Qiskit ``BaseSamplerV2``: ONE job, one PUB per measurement setting, each carrying the whole (R, K) angle
matrix as an (R,)-shaped binding. Circuits are transpiled once to the device's ISA (when a backend is known);
PUB columns are matched to circuit parameters by ``Parameter``; ``BitArray`` samples are decoded with numpy."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2, BaseSamplerV2
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from ..circuits import CircuitSpec
from ..readout import DENSE_OUTCOME_BITS, Setting
from .base import Executor, SeedLike, host_angles, to_device
from .jobs import IBM_MAX_EXECUTIONS, Pending


class SamplerExecutor(Executor):
    """Shot estimates from any sampler (IBM Runtime, ``qiskit_aer.primitives.SamplerV2``, ``BackendSamplerV2``).

    ``backend`` (default: the sampler's own ``backend``, if it has one) is the device whose ISA the circuits are
    transpiled to, once, with ``generate_preset_pass_manager(optimization_level=1)``. With ``seed``, each job
    sets the simulator seed where the sampler has one (``BackendSamplerV2``: ``options.seed_simulator``; Aer:
    ``options.run_options["seed_simulator"]``, unless the Aer sampler was built with its own fixed ``seed``);
    other samplers (hardware) are not seedable and ``seed`` only fixes the transpiler's layout.
    ``run(angles, shots)`` with a shot count per row puts each group of rows with the same count in its own PUB
    (``(circuit, angles, shots)``), all in the one job.
    """

    row_shots = True

    def __init__(
        self,
        spec: CircuitSpec,
        sampler: BaseSamplerV2,
        shots: int = 100,
        seed: SeedLike = None,
        backend: BackendV2 | None = None,
    ):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError(
                "a sampler estimates from shots: pass shots > 0, or use backend='analytic' "
                "(or an Aer backend with shots=None) for exact probabilities"
            )
        if not isinstance(sampler, BaseSamplerV2):
            raise TypeError(f"sampler must be a qiskit BaseSamplerV2, got {type(sampler).__name__}")
        self.sampler = sampler
        self.seeded = seed is not None
        self.backend = primitive_backend(sampler) if backend is None else backend
        circuits = [spec.measured(setting) for setting in spec.readout.settings]
        if self.backend is not None:
            manager = generate_preset_pass_manager(
                backend=self.backend, optimization_level=1, seed_transpiler=self.next_seed()
            )
            circuits = manager.run(circuits)
        self.circuits = circuits
        self._columns = [parameter_columns(circuit, spec.angles) for circuit in circuits]

    def job_seed(self) -> int | None:
        return self.next_seed() if self.seeded else None

    def submit(self, angles: torch.Tensor, seed: int | None, shots: np.ndarray | None = None) -> Pending:
        host = host_angles(angles)
        self.check_row_shots(shots, len(host))
        row_shots = np.full(len(host), self.shots) if shots is None else np.asarray(shots, dtype=np.int64)
        groups = [(int(n), np.flatnonzero(row_shots == n)) for n in np.unique(row_shots)]  # one PUB per count
        pubs = [
            (c, np.ascontiguousarray(host[rows][:, k]), n)
            for c, k in zip(self.circuits, self._columns)
            for n, rows in groups
        ]
        sampler = self.sampler if seed is None else seeded_copy(self.sampler, seed)
        settings = self.spec.readout.settings

        def decode(result) -> torch.Tensor:
            if len(result) != len(pubs):
                raise RuntimeError(f"{len(result)} PUB results, expected {len(pubs)}")
            features = []
            for s, setting in enumerate(settings):
                block = np.empty((len(host), setting.n_features))
                for g, (n, rows) in enumerate(groups):
                    data = result[s * len(groups) + g].data
                    readout = getattr(data, "readout", None)
                    if readout is None:
                        raise RuntimeError(f"PUB {s * len(groups) + g} has no 'readout' register (it has {list(data)})")
                    block[rows] = samples_features(readout.array, setting, len(rows), n)
                features.append(block)
            return to_device(np.concatenate(features, axis=1), angles)

        return Pending(sampler.run(pubs), decode, "sampler")

    @property
    def default_max_executions(self) -> int | None:
        return IBM_MAX_EXECUTIONS if is_ibm_runtime(self.sampler) else None


def samples_features(array: np.ndarray, setting: Setting, rows: int, shots: int) -> np.ndarray:
    """Features (rows, F) from a BitArray's uint8 array (rows, shots, nbytes) of big-endian bytes."""
    if array.shape[:2] != (rows, shots):
        raise RuntimeError(f"sampler returned samples of shape {array.shape[:2]}, expected {(rows, shots)}")
    weights = np.left_shift(1, 8 * np.arange(array.shape[-1] - 1, -1, -1, dtype=np.int64))
    outcomes = (array.astype(np.int64) * weights).sum(-1) & ((1 << len(setting.qubits)) - 1)  # (rows, shots)
    experiment = np.repeat(np.arange(rows), shots)
    if len(setting.qubits) <= DENSE_OUTCOME_BITS:  # counted in one bincount: no need to aggregate first
        return setting.from_counts(outcomes.ravel(), np.ones(outcomes.size), experiment, rows, shots)
    keys, hits = np.unique(experiment * 2 ** len(setting.qubits) + outcomes.ravel(), return_counts=True)
    experiment, outcome = np.divmod(keys, 2 ** len(setting.qubits))
    return setting.from_counts(outcome, hits.astype(np.float64), experiment, rows, shots)


def parameter_columns(circuit: QuantumCircuit, angles: Sequence[Parameter]) -> np.ndarray:
    """For each of ``circuit.parameters`` (the PUB's order: sorted by name), its column in the angle matrix.

    Matched by ``Parameter``, not position: a transpiled circuit may have optimized some angles away.
    """
    column = {angle: k for k, angle in enumerate(angles)}
    return np.array([column[p] for p in circuit.parameters], dtype=np.int64)


def primitive_backend(sampler) -> BackendV2 | None:
    """The device a primitive runs on, when it says (``BackendSamplerV2.backend``, IBM Runtime ``backend()``)."""
    backend = getattr(sampler, "backend", None)
    if callable(backend) and not isinstance(backend, BackendV2):
        backend = backend()
    return backend if isinstance(backend, BackendV2) else None


def seeded_copy(primitive, seed: int):
    """A shallow copy of a local primitive whose jobs use simulator ``seed`` (``BackendSamplerV2``:
    ``options.seed_simulator``; Aer's: ``options.run_options["seed_simulator"]``, unless it was built with its
    own fixed ``seed``); other primitives (hardware) are returned as they are. A copy, not the primitive's own
    options: those are read when a job starts, after the next job may already have been submitted."""
    options = getattr(primitive, "_options", None)
    if isinstance(primitive, BackendSamplerV2) and dataclasses.is_dataclass(options):
        changed = dataclasses.replace(options, seed_simulator=seed)
    elif isinstance(primitive, (AerSamplerV2, AerEstimatorV2)) and dataclasses.is_dataclass(options):
        changed = dataclasses.replace(options, run_options={**options.run_options, "seed_simulator": seed})
    else:
        return primitive
    clone = copy.copy(primitive)
    clone._options = changed
    return clone


def is_ibm_runtime(primitive) -> bool:
    """Whether ``primitive`` is a qiskit-ibm-runtime primitive (a device, or its local testing mode)."""
    return type(primitive).__module__.startswith("qiskit_ibm_runtime")
