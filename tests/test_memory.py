"""The engine's memory estimates (``hqnn.memory``) against what the executors really allocate, and a layer that
refuses a batch that cannot fit (run admission: ``tests/app/test_admission.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hqnn.memory import GIB, ResourceError, available_bytes, largest_fitting, shift_rows, statevector_bytes


def test_statevector_and_rows_arithmetic():
    assert statevector_bytes(30) == 16 * 2**30 and statevector_bytes(4, rows=57, complex_bytes=8) == 57 * 16 * 8
    assert shift_rows(16, 28) == 16 * 57  # the README's ten-digit model: 4 inputs + 24 weights


PEAK = textwrap.dedent(
    """
    import json, sys, torch
    import hqnn
    torch.set_num_threads(1)
    backend, shots, n, batch = sys.argv[1], (None if sys.argv[2] == "-" else int(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
    readout = json.loads(sys.argv[5])  # {"readout": ...}, or {"observables": letters, each repeated on every qubit}
    def layer(n):
        model = hqnn.angle_encoder(n).then(hqnn.entangling_ansatz(n, 2))
        kwargs = {"observables": [p * n for p in readout["observables"]]} if "observables" in readout else readout
        return hqnn.Hybrid(backend, shots, **model.hybrid_kwargs(), **kwargs, seed=0)
    small = torch.rand(70000 if shots is None else 10000, 2, dtype=torch.float64, requires_grad=True)
    layer(2)(small).sum().backward()  # compiles the kernels on a 2-qubit circuit: their memory is not the batch's
    layer, x = layer(n), torch.rand(batch, n, dtype=torch.float64, requires_grad=True)
    layer(x[:2]).sum().backward()  # and the paths only n qubits take (a Schmidt cut's kernels), on 2 rows
    def statm(field):
        return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(field))
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark
    before = statm("VmRSS")
    layer(x).sum().backward()
    print(statm("VmHWM") - before, layer.strategy.memory(batch, torch.device("cpu")))
    """
)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable VmHWM")
@pytest.mark.parametrize(
    "backend, shots, n_qubits, batch, readout",
    [
        ("analytic", "-", 12, 256, '{"readout": "z"}'),
        ("analytic", "-", 15, 128, '{"readout": "z"}'),
        ("analytic", "-", 15, 128, '{"observables": ["Z", "X", "Y"]}'),  # was 20 % over the estimate
        ("analytic", "-", 11, 128, '{"readout": "probabilities"}'),  # the readout's 4**n matrix: was 10× over
        ("emulator", "1000", 8, 64, '{"readout": "z"}'),
    ],
    ids=["reverse mode", "reverse mode 15 qubits", "reverse mode 3 settings", "reverse mode distribution", "emulator rows"],
)
def test_estimate_covers_the_measured_peak(backend, shots, n_qubits, batch, readout):
    """The estimate is the layer's real peak (RSS high-water mark of a fresh process), within a factor of 3."""
    # Large blocks straight from (and back to) the kernel, so the high-water mark is what the batch holds at once.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    run = subprocess.run(
        [sys.executable, "-c", PEAK, backend, shots, str(n_qubits), str(batch), readout],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    peak, estimate = map(int, run.stdout.split())
    assert peak <= estimate <= 3 * peak, (peak, estimate)


def test_available_memory_is_positive_and_at_most_meminfo():
    available = available_bytes()
    assert available is not None and available > 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1)) * 1024
        assert available <= total


def test_largest_fitting():
    assert largest_fitting(lambda v: 10 * v, 95, below=1000) == 9
    assert largest_fitting(lambda v: 10 * v, 5, below=1000) is None


def test_layer_refuses_a_job_that_cannot_fit_and_names_the_largest_batch():
    import torch

    from hqnn import Hybrid, angle_encoder, entangling_ansatz

    with pytest.raises(ResourceError, match=r"a batch of 1 needs ~119\.\d GiB.*even one sample does not fit"):
        Hybrid("aer", 10**9)
    entangled = angle_encoder(16).then(entangling_ansatz(16, 1, entanglement="full"))  # no Schmidt cut pays
    layer = Hybrid("analytic", None, **entangled.hybrid_kwargs(), max_memory=GIB)
    assert layer.strategy.cut is None
    with pytest.raises(
        ResourceError,
        match=r"a batch of 4096 needs ~24\.0 GiB, max_memory is 1\.0 GiB: split it into "
        r"batches of at most 170, or raise max_memory",
    ):
        layer(torch.zeros(4096, 16))
    assert layer(torch.zeros(170, 16)).shape == (170, 16)
    layer.max_memory = 32 * GIB  # raised: the check passes (the batch itself is not run here)
    layer.check_memory(4096, torch.device("cpu"))
    with pytest.raises(ValueError, match="max_memory must be a positive number of bytes"):
        Hybrid("analytic", max_memory=0)
    product = Hybrid("analytic", None, **angle_encoder(16).hybrid_kwargs(), max_memory=GIB)  # cut: two 8-qubit halves
    assert product.strategy.cut is not None and product.strategy.cut.bond_qubits == 0
    product.check_memory(4096, torch.device("cpu"))
