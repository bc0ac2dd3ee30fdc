"""Run admission (``hqnn.app.admission``): a run that cannot fit this machine is refused before it starts, naming
the flag and the largest value that fits; the layer's memory comes from the engine's strategies."""

from __future__ import annotations

import pytest

from hqnn.app.admission import check_fits, check_run, layer_bytes
from hqnn.app.config import RunConfig
from hqnn.app.models import head_spec
from hqnn.memory import GIB, ResourceError
from hqnn.strategies import layer_memory

TEN = tuple(range(10))


def test_check_fits():
    check_fits("a layer", 10, 10, "fine")
    with pytest.raises(
        ResourceError, match=r"a layer needs ~2\.0 GiB of memory, this machine has 1\.0 GiB available: try 3"
    ):
        check_fits("a layer", 2 * GIB, GIB, "try 3")


@pytest.mark.parametrize(
    "config, message, available",
    [
        (
            RunConfig(qubits=30),
            r"--qubits 30 \(the statevector simulation\) needs ~32\.\d GiB .* 8\.0 GiB available: the largest that fits is --qubits 27",
            8 * GIB,
        ),
        (  # the emulator samples 2**19 amplitudes of rows at a time: one row of 24 qubits needs ~1 GiB
            RunConfig(digits=TEN, qubits=24, batch_size=16, backend="emulator"),
            r"--qubits 24 .*512 MiB available: the largest that fits is --qubits 20",
            GIB // 2,
        ),
        (
            RunConfig(shots=10**12),
            r"--shots 1000000000000 \(Aer's shot sampling\) needs ~119,\d+\.\d GiB .*the largest that fits is --shots 6\d{7}",
            8 * GIB,
        ),
        (
            RunConfig(ddp=64),
            r"--ddp 64 starts 64 training processes but this machine has 4 usable cores: the largest that fits is --ddp 4",
            8 * GIB,
        ),
        (  # 12 blocks of CX chains: too many crossings for a Schmidt cut, the full statevector
            RunConfig(ddp=4, digits=TEN, qubits=17, batch_size=16, backend="analytic", reps=12),
            r"--ddp 4 \(3\.\d GiB per process\) .*the largest that fits is --ddp 2",
            8 * GIB,
        ),
        (
            RunConfig(digits=TEN, qubits=2, batch_size=10**8, backend="analytic"),
            r"even --qubits 1 does not fit: lower --batch-size",
            8 * GIB,
        ),
    ],
)
def test_check_run_names_the_flag_and_the_largest_value(config, message, available):
    with pytest.raises(ResourceError, match=message):
        check_run(config, available=available, cores=4)


def test_check_run_passes_what_fits():
    check_run(RunConfig(), available=8 * GIB, cores=1)
    check_run(
        RunConfig(shots=10**12, backend="emulator"), available=8 * GIB, cores=1
    )  # binomial draws: no per-shot memory
    check_run(RunConfig(digits=TEN, qubits=4, batch_size=16, backend="emulator", ddp=2), available=8 * GIB, cores=2)


@pytest.mark.parametrize("backend, shots", [("aer", 100), ("emulator", 100), ("analytic", None)])
def test_the_layers_memory_is_the_engines_estimate(backend, shots):
    config = RunConfig(digits=TEN, qubits=4, reps=1, batch_size=8, backend=backend, shots=shots or 100)
    spec = head_spec(config.chapter_model, config.qubits, config.reps)
    states, per_shot = layer_bytes(config)
    engine = max(layer_memory(backend, spec, shots, 8), layer_memory(backend, spec, shots, 256, gradient=False))
    assert states + per_shot == engine > 0
