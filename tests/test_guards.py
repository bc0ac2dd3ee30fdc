"""Resource guards: memory estimates against what the executors really allocate, and runs refused for
``qubits``, ``shots`` and ``ddp`` that cannot fit, naming the flag and the largest value that fits."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import hqnn.resources as resources
from hqnn import angle_encoder, entangling_ansatz
from hqnn.choices import SIMULATORS
from hqnn.circuits import CircuitSpec
from hqnn.config import RunConfig
from hqnn.executors import BACKEND_NAMES, BatchedStatevectorExecutor
from hqnn.executors.batched import MAX_QUBITS
from hqnn.resources import (
    GIB,
    ResourceError,
    available_bytes,
    check_fits,
    check_run,
    exact_job_bytes,
    largest_fitting,
    shift_rows,
    statevector_bytes,
)

TEN = tuple(range(10))


def test_constants_mirror_the_executors():
    assert resources.BATCHED_MAX_QUBITS == MAX_QUBITS
    assert SIMULATORS == BACKEND_NAMES


def test_statevector_and_rows_arithmetic():
    assert statevector_bytes(30) == 16 * 2**30 and statevector_bytes(4, rows=57, complex_bytes=8) == 57 * 16 * 8
    assert shift_rows(16, 28) == 16 * 57  # the README's ten-digit model: 4 inputs + 24 weights


def test_batched_estimate_covers_the_measured_peak():
    """The estimate is the executor's real peak (numpy allocations), not a guess: within a factor of 1.6."""
    circuit = angle_encoder(8).then(entangling_ansatz(8, 2))
    spec = CircuitSpec.from_circuit(circuit.circuit, circuit.inputs, circuit.weights, readout="z")
    executor = BatchedStatevectorExecutor(spec)
    angles = np.random.default_rng(0).uniform(0, 6, (300, spec.n_angles))
    tracemalloc.start()
    executor.run(angles)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= exact_job_bytes(8, 300) <= 1.6 * peak


def test_available_memory_is_positive_and_at_most_meminfo():
    available = available_bytes()
    assert available is not None and available > 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1)) * 1024
        assert available <= total


def test_check_fits_and_largest_fitting():
    check_fits("a layer", 10, 10, "fine")
    with pytest.raises(ResourceError, match=r"a layer needs ~2\.0 GiB of memory, this machine has 1\.0 GiB available: try 3"):
        check_fits("a layer", 2 * GIB, GIB, "try 3")
    assert largest_fitting(lambda v: 10 * v, 95, below=1000) == 9
    assert largest_fitting(lambda v: 10 * v, 5, below=1000) is None


@pytest.mark.parametrize(
    "config, message",
    [
        (RunConfig(qubits=30), r"--qubits 30 \(the statevector simulation\) needs ~32\.\d GiB .* 8\.0 GiB available: the largest that fits is --qubits 27"),
        (RunConfig(digits=TEN, qubits=18, batch_size=16, backend="emulator"), r"--qubits 18 .*the largest that fits is --qubits 16"),
        (RunConfig(shots=10**12), r"--shots 1000000000000 \(Aer's shot sampling\) needs ~119,\d+\.\d GiB .*the largest that fits is --shots 6\d{7}"),
        (RunConfig(ddp=64), r"--ddp 64 starts 64 training processes but this machine has 4 usable cores: the largest that fits is --ddp 4"),
        (RunConfig(ddp=4, digits=TEN, qubits=13, batch_size=16, backend="analytic"), r"--ddp 4 \(2\.\d GiB per process\) .*the largest that fits is --ddp 3"),
        (RunConfig(digits=TEN, qubits=2, batch_size=10**7, backend="analytic"), r"even --qubits 1 does not fit: lower --batch-size"),
    ],
)
def test_check_run_names_the_flag_and_the_largest_value(config, message):
    with pytest.raises(ResourceError, match=message):
        check_run(config, available=8 * GIB, cores=4)


def test_check_run_passes_what_fits():
    check_run(RunConfig(), available=8 * GIB, cores=1)
    check_run(RunConfig(shots=10**12, backend="emulator"), available=8 * GIB, cores=1)  # binomial draws: no per-shot memory
    check_run(RunConfig(digits=TEN, qubits=4, batch_size=16, backend="emulator", ddp=2), available=8 * GIB, cores=2)
