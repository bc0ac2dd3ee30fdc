"""Qiskit Aer shots: transpile once per setting, bind every row of every setting in one ``backend.run``, decode
counts with numpy. Register packing: c independent copies of the circuit share one experiment (c·n qubits,
per-copy outcomes); copies never interact, so each copy's counts are exactly its own run's, and Aer's
per-experiment cost is shared."""

from __future__ import annotations

import numpy as np
import torch
from qiskit import ClassicalRegister, QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from qiskit_aer import AerSimulator

from ..circuits import CircuitSpec
from ..readout import Setting
from ..memory import aer_shot_job_bytes
from ..kernels.counts import packed_frequencies
from .aer_assembly import AssembledJobs, reuses_assembly
from .aer_job import Bound, bound_columns, bound_results, submit_bound
from .base import Executor, SeedLike, host_angles, to_device
from .jobs import Pending

#: Auto packing fills experiments up to this many qubits. Measured here (1-qubit chapter circuit, 100 shots,
#: one thread, best of interleaved runs), µs per row at 768 | 12288 rows: c = 1: 133 | 219, c = 4: 43 | 51,
#: c = 6: 37 | 39, c = 8: 42 | 60, c = 16: ~280 (2^c outcomes per experiment start to dominate).
PACK_QUBITS = 6
from ..validation import MAX_BITS  # counts are decoded as int64 bit strings


class AerExecutor(Executor):
    """Shot estimates from an Aer backend (``AerSimulator()`` by default, or one with a noise model).

    ``pack``: copies of the circuit per experiment. ``None`` (auto) packs up to ``PACK_QUBITS`` qubits on an
    ideal simulator and does not pack on a backend with a noise model or a coupling map (copies would share
    the device's qubits and errors); an int asks for exactly that many copies.
    """

    def __init__(
        self, spec: CircuitSpec, backend=None, shots: int = 100, seed: SeedLike = None, pack: int | None = None
    ):
        super().__init__(spec, shots, seed)
        if self.shots is None:
            raise ValueError("AerExecutor samples shots; for exact probabilities use AerStatevectorExecutor")
        self.backend = AerSimulator() if backend is None else backend
        self.pack = self._auto_pack() if pack is None else _check_pack(pack)
        widest = max(len(s.qubits) for s in spec.readout.settings)
        if self.pack * widest > MAX_BITS:
            raise ValueError(f"pack={self.pack} copies of {widest} measured bits exceed {MAX_BITS} bits")
        # Small jobs: OpenMP threads cost more than they give (7.9 ms vs 0.85 ms per 3-row job, 2 busy cores).
        threads = getattr(self.backend.options, "max_parallel_threads", None)
        self._options = {"max_parallel_threads": 1} if not threads else {}
        self._templates: dict[tuple[int, int], Bound] = {}
        self._assembled = AssembledJobs(self.backend) if reuses_assembly(self.backend) else None

    def memory(self, rows: int) -> int:
        return shot_job_bytes(self.spec, self.pack, self.shots, rows)

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        return shot_job_bytes(spec, max(1, PACK_QUBITS // spec.n_qubits), shots, rows)  # AerSimulator(): packed

    def _auto_pack(self) -> int:
        noisy = getattr(self.backend.options, "noise_model", None) is not None
        if noisy or getattr(self.backend, "coupling_map", None) is not None:
            return 1
        return max(1, PACK_QUBITS // self.spec.n_qubits)

    def _template(self, index: int, copies: int) -> Bound:
        """Setting ``index``'s transpiled circuit with ``copies`` copies, and its bound columns (copy c's angle
        k is column c·K + k of a packed row); cached."""
        key = (index, copies)
        if key not in self._templates:
            setting = self.spec.readout.settings[index]
            if copies == 1:
                packed, parameters = self.spec.measured(setting), self.spec.angles
            else:
                packed, parameters = _pack(self.spec, setting, copies)
            circuit = transpile(packed, self.backend)
            self._templates[key] = (circuit, bound_columns(circuit, parameters))
        return self._templates[key]

    def job_seed(self) -> int:
        return self.next_seed()

    def submit(self, angles: torch.Tensor, seed: int | None, shots: np.ndarray | None = None) -> Pending:
        self.check_row_shots(shots, len(angles))  # one shot count per job: refuses per-row shots
        host = host_angles(angles)
        rows = len(host)
        copies = min(self.pack, rows)
        experiments = -(-rows // copies)
        grid = host
        if experiments * copies > rows:  # padding copies repeat the last row; their counts are dropped
            grid = np.concatenate((host, np.repeat(host[-1:], experiments * copies - rows, axis=0)))
        settings = self.spec.readout.settings
        job = submit_bound(
            self.backend,
            [self._template(i, copies) for i in range(len(settings))],
            grid.reshape(experiments, -1),  # one experiment per row: its copies' angles side by side
            self._assembled,
            shots=self.shots,
            seed_simulator=seed,
            runtime_parameter_bind_enable=True,
            **self._options,
        )

        def decode(results: list) -> torch.Tensor:
            if len(results) != experiments * len(settings):
                raise RuntimeError(f"{len(results)} experiment results, expected {experiments * len(settings)}")
            features = [
                counts_features(
                    [r.data.counts for r in results[i * experiments : (i + 1) * experiments]], setting, copies, self.shots
                )[:rows]
                for i, setting in enumerate(settings)
            ]
            return to_device(np.concatenate(features, axis=1), angles)

        return Pending(_Results(job), decode, "Aer")


class _Results:
    """An Aer job whose ``result()`` is its experiment results (failures raised)."""

    def __init__(self, job):
        self.job = job
        self.job_id = job.job_id

    def result(self) -> list:
        return bound_results(self.job)

    def cancel(self) -> None:
        self.job.cancel()


def _pack(spec: CircuitSpec, setting: Setting, copies: int) -> tuple[QuantumCircuit, list]:
    """``copies`` disjoint copies of the setting's circuit (copy c on qubits [c·n, (c+1)·n), bits [c·m, (c+1)·m)),
    and its parameters copy by copy."""
    body = spec.rotated(setting)
    n, m = body.num_qubits, len(setting.qubits)
    packed = QuantumCircuit(copies * n)
    register = ClassicalRegister(copies * m, "readout")
    packed.add_register(register)
    parameters = []
    for c in range(copies):
        fresh = ParameterVector(f"c{c}", spec.n_angles)
        packed.compose(body.assign_parameters(dict(zip(spec.angles, fresh))), range(c * n, (c + 1) * n), inplace=True)
        packed.measure([c * n + q for q in setting.qubits], register[c * m : (c + 1) * m])
        parameters += list(fresh)
    return packed, parameters


def _check_pack(pack) -> int:
    if isinstance(pack, bool) or not isinstance(pack, (int, np.integer)) or pack < 1:
        raise ValueError(f"pack must be a positive integer (copies per experiment) or None for auto, got {pack!r}")
    return int(pack)


def counts_features(counts: list[dict], setting: Setting, copies: int, shots: int) -> np.ndarray:
    """Features (E·copies, F) from Aer's hex-keyed counts of E experiments of ``copies`` packed copies each
    (copy c's outcome is bits [c·m, (c+1)·m) of the key); row e·copies + c is experiment e's copy c."""
    if not all(counts) or any(sum(c.values()) != shots for c in counts):
        totals = [sum(c.values()) for c in counts]
        raise RuntimeError(f"Aer returned {min(totals)}..{max(totals)} shots per experiment, expected {shots}")
    m, n = len(setting.qubits), len(counts)
    keys = np.array([int(k, 16) for c in counts for k in c], dtype=np.int64)
    hits = np.array([v for c in counts for v in c.values()], dtype=np.float64)
    if setting.dense:  # one table of every copy's outcome frequencies
        sizes = np.array([len(c) for c in counts], dtype=np.int64)
        features = setting.from_distribution(packed_frequencies(keys, hits, sizes, m, copies, shots))
    else:
        experiment = np.repeat(np.arange(n), [len(c) for c in counts])
        copy = np.arange(copies)
        outcomes = (keys[:, None] >> (m * copy)) & ((1 << m) - 1)  # (N, copies): each copy's outcome
        rows = experiment[:, None] + n * copy  # (N, copies): copy c of experiment e is row c·E + e here
        features = setting.from_counts(outcomes.ravel(), np.repeat(hits, copies), rows.ravel(), n * copies, shots)
    return features.reshape(copies, n, -1).transpose(1, 0, 2).reshape(n * copies, -1)


def shot_job_bytes(spec: CircuitSpec, pack: int, shots: int, rows: int) -> int:
    """Peak memory of an Aer shot job of ``rows`` rows of ``spec``, ``pack`` copies per experiment."""
    copies = min(pack, rows)
    experiments = -(-rows // copies) * len(spec.readout.settings)
    widest = max(len(s.qubits) for s in spec.readout.settings)
    return aer_shot_job_bytes(copies * spec.n_qubits, experiments, shots, copies * widest)
