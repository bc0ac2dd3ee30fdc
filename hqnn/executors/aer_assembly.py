"""Aer jobs that reuse their assembled circuits.

Each Aer job converts its QuantumCircuits into Aer's C++ circuits (``assemble_circuits``): ~160 µs of the
chapter's ~550 µs 3-row job, every training step, for the same few transpiled templates. The angles reach Aer as
parameter binds, not in the circuits, so :class:`AssembledJobs` assembles a list of templates once and runs each
later job of the same list through the steps of Aer's own job function (``AerBackend._execute_circuits_job``):
compile (noise model), bind, configure, execute, format. A job whose compile step rewrites its circuits, or that
repeats a circuit, is assembled afresh. Aer writes into the circuits it runs (parameters, metadata), so a lock per
entry keeps two threads off the same assembled circuits (the second assembles its own). Tests hold these jobs to
Aer's own, count for count, over random binds, seeds, shots and job sizes."""

from __future__ import annotations

import datetime
import threading
import time

from qiskit_aer.aererror import AerError
from qiskit_aer.backends.aer_compiler import assemble_circuits, generate_aer_config
from qiskit_aer.backends.aerbackend import AerBackend

#: The AerBackend methods a reused job calls; without any of them (another Aer version), jobs run Aer's own way.
_AER_STEPS = ("_compile", "_convert_binds", "_execute_circuits", "_format_results")


def reuses_assembly(backend: AerBackend) -> bool:
    """Whether ``backend`` is an Aer backend with every step an :class:`AssembledJobs` job calls."""
    return isinstance(backend, AerBackend) and all(callable(getattr(backend, step, None)) for step in _AER_STEPS)


class AssembledJobs:
    """Aer jobs of a few fixed circuit lists, each list assembled once (one instance per backend)."""

    def __init__(self, backend: AerBackend):
        self.backend = backend
        self._entries: dict[tuple, _Entry] = {}

    def __getstate__(self) -> dict:
        """A copy (``copy.deepcopy``, pickle) starts with nothing assembled: Aer's C++ circuits cannot be copied."""
        return {**self.__dict__, "_entries": {}}

    def run(self, circuits: list, binds: list, options: dict, job_id: str):
        """Aer's result of ``circuits`` with ``binds`` and run ``options``, as ``_execute_circuits_job`` gives it."""
        start = time.time()
        backend = self.backend
        key, basis = tuple(map(id, circuits)), _basis(backend)
        entry = self._entries.get(key)
        if entry is not None and entry.basis == basis and _noise_model(backend, options) is None:
            compiled, noise_model = circuits, None  # compiling them changed nothing; without noise it cannot now
        else:
            compiled, noise_model = backend._compile(circuits, **options)
            entry = self._entry(key, basis, circuits, compiled)
        if entry is not None and entry.lock.acquire(blocking=False):
            try:
                output = self._execute(compiled, entry.aer_circuits, entry.index_maps, noise_model, binds, options)
            finally:
                entry.lock.release()
        else:
            output = self._execute(compiled, *_assemble(compiled, basis), noise_model, binds, options)
        output.update(
            job_id=job_id, date=datetime.datetime.now().isoformat(), backend_name=backend.name,
            backend_version=backend.configuration().backend_version,
        )
        for result in output["results"]:
            if "header" in result:
                result["header"]["metadata"] = compiled[result.pop("circ_id")].metadata
        output["time_taken"] = time.time() - start
        return backend._format_results(output)

    def _execute(self, compiled, aer_circuits, index_maps, noise_model, binds, options) -> dict:
        """Aer's raw output of assembled circuits: binds converted, configured, run."""
        backend = self.backend
        if binds:
            options["parameterizations"] = backend._convert_binds(compiled, binds, index_maps)
        elif any(circuit.parameters for circuit in compiled):
            raise AerError("circuits have parameters but parameter_binds is not specified.")
        for circ_id, aer_circuit in enumerate(aer_circuits):
            aer_circuit.circ_id = circ_id
        config = generate_aer_config(compiled, backend.options, **options)
        output = backend._execute_circuits(aer_circuits, noise_model, config)
        if not isinstance(output, dict):
            raise AerError("simulation terminated without returning valid output.")
        return output

    def _entry(self, key: tuple, basis, circuits: list, compiled: list) -> _Entry | None:
        """The reusable assembly of ``circuits`` (made on first use), or None where it may not be reused."""
        if len(compiled) != len(circuits) or any(a is not b for a, b in zip(compiled, circuits)):
            return None  # the compile step rewrote a circuit (a noise pass, quantum errors, control flow)
        if len(set(key)) != len(key):
            return None  # one assembled circuit cannot be two experiments of one job
        entry = self._entries.get(key)
        if entry is None or entry.basis != basis:
            entry = self._entries[key] = _Entry(circuits, basis, *_assemble(circuits, basis))
        return entry


class _Entry:
    """One circuit list's assembled circuits, the basis they were assembled for, and a lock (holding the
    circuits keeps their ids, the entry's key, from being reused)."""

    def __init__(self, circuits: list, basis, aer_circuits: list, index_maps: list):
        self.circuits, self.basis = circuits, basis
        self.aer_circuits, self.index_maps = aer_circuits, index_maps
        self.lock = threading.Lock()


def _basis(backend: AerBackend) -> tuple | None:
    """The basis Aer assembles for: a backend with a target (``from_backend``) checks gates against it."""
    if getattr(backend, "_target", None) is None:
        return None
    return tuple(backend.configuration().basis_gates)


def _noise_model(backend: AerBackend, options: dict):
    """The noise model a job with run ``options`` compiles with (Aer's own rule)."""
    return options.get("noise_model", getattr(backend.options, "noise_model", None))


def _assemble(circuits: list, basis: tuple | None) -> tuple[list, list]:
    """Aer's C++ circuits of ``circuits`` and their instruction index maps, for ``basis`` (see :func:`_basis`)."""
    return assemble_circuits(circuits, None if basis is None else list(basis))
