"""Executors turn an angle matrix into per-qubit estimates in one job; ``make_executor`` picks one."""

from __future__ import annotations

from qiskit.primitives import BaseSamplerV2
from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.backends.aerbackend import AerBackend
from qiskit_aer.noise import NoiseModel

from ..circuits import CircuitSpec
from .aer import AerExecutor
from .analytic import AnalyticExecutor
from .base import Executor, SeedLike, check_shots
from .batched import BatchedStatevectorExecutor, exact_probabilities
from .emulator import EmulatorExecutor
from .exact import StatevectorExecutor
from .sampler import SamplerExecutor

BACKEND_NAMES = ("aer", "analytic", "emulator")

__all__ = [
    "AerExecutor",
    "AnalyticExecutor",
    "BatchedStatevectorExecutor",
    "EmulatorExecutor",
    "Executor",
    "SamplerExecutor",
    "StatevectorExecutor",
    "device_simulator",
    "make_executor",
]


def make_executor(backend, spec: CircuitSpec, shots: int | None, seed: SeedLike = None) -> Executor:
    """The executor for ``backend``: a name in ``BACKEND_NAMES``, an Aer backend, a ``BaseSamplerV2``, another
    ``BackendV2`` (e.g. a fake device, simulated by :func:`device_simulator`), or an ``Executor``.

    ``shots=None`` means exact probabilities. ``"analytic"`` is always exact (its shots are ignored): the
    numba closed form for the chapter circuit, an exact statevector for any other circuit.
    """
    if isinstance(backend, Executor):
        return backend
    shots = check_shots(shots)
    if isinstance(backend, str):
        name = backend.lower()
        if name == "analytic" or (name == "aer" and shots is None):
            return _exact(spec, seed)
        if name == "aer":
            return AerExecutor(spec, shots=shots, seed=seed)
        if name == "emulator":
            return EmulatorExecutor(spec, shots=shots, seed=seed) if shots else _exact(spec, seed)
        raise ValueError(f"unknown backend {backend!r}: use one of {BACKEND_NAMES}, an Aer backend or an Executor")
    if isinstance(backend, BaseSamplerV2):
        return SamplerExecutor(spec, backend, shots=shots, seed=seed)
    if isinstance(backend, BackendV2) and not isinstance(backend, AerBackend):
        backend = device_simulator(backend)
    if isinstance(backend, AerBackend):
        if shots is None:
            return StatevectorExecutor(spec, backend=backend, seed=seed)
        return AerExecutor(spec, backend=backend, shots=shots, seed=seed)
    raise TypeError(
        f"unsupported backend of type {type(backend).__name__}: use one of {BACKEND_NAMES}, "
        "a qiskit_aer backend (e.g. AerSimulator()), a Qiskit BaseSamplerV2, a BackendV2, or an hqnn Executor"
    )


def device_simulator(device: BackendV2) -> AerSimulator:
    """An Aer simulator of ``device``: its basis, coupling map and noise.

    Devices with calibration ``properties()`` (IBM fake devices) get the noise model built from them, the one
    their own ``run`` uses (asymmetric readout errors); others get ``AerSimulator.from_backend``'s.
    """
    properties = getattr(device, "properties", None)
    properties = properties() if callable(properties) else None
    if properties is None:
        return AerSimulator.from_backend(device)
    noise = NoiseModel.from_backend_properties(properties, dt=getattr(device, "dt", None))
    return AerSimulator.from_backend(device, noise_model=noise)


def _exact(spec: CircuitSpec, seed: SeedLike) -> Executor:
    if spec.closed_form == "h_ry":
        return AnalyticExecutor(spec, seed=seed)
    return exact_probabilities(spec, seed)
