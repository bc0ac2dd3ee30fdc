"""Executors turn an angle matrix into the features of a spec's readout settings in one job, one kind per file."""

from __future__ import annotations

from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from .aer import AerExecutor
from .ry_kernel import RYKernelExecutor
from .base import Executor
from .emulator import EmulatorExecutor
from .estimator import EstimatorExecutor
from .aer_exact import AerStatevectorExecutor
from .sampler import SamplerExecutor
from .simulated import SimulatorExecutor

__all__ = [
    "AerExecutor",
    "RYKernelExecutor",
    "EmulatorExecutor",
    "EstimatorExecutor",
    "Executor",
    "SamplerExecutor",
    "AerStatevectorExecutor",
    "SimulatorExecutor",
    "device_simulator",
]


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
