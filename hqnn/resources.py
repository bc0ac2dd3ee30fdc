"""Resource guards: estimate from a run's numbers alone what it will need (memory for statevectors and shots,
processes), compare with what this machine has, and refuse with the largest value that fits before any
work starts. The constants are measurements of hqnn's executors on CPython 3.11, numpy 2, Aer 0.17."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .config import RunConfig

MIB, GIB = 2**20, 2**30
#: Widest circuit the batched numpy statevector simulates; wider exact circuits go to Aer.
#: Mirrors ``hqnn.executors.batched.MAX_QUBITS`` (a test keeps them equal).
BATCHED_MAX_QUBITS = 14
#: Peak of a batched numpy statevector job over its ``rows × 2**n`` complex amplitudes: the state, a gate's
#: temporaries and the emulator's multinomial draw (measured 5.0–6.1×, 4 to 12 qubits).
BATCHED_COPIES = 6
#: Peak of an exact Aer job (``save_probabilities``): a fixed ~21× one statevector (results held as Python
#: objects) plus ~1.3–1.6× per bound row (measured at 18 to 24 qubits).
AER_EXACT_COPIES, AER_EXACT_ROW_COPIES = 24, 2
#: Aer shots: about one statevector per running experiment (measured 1.0–1.1× at 20–22 qubits, 2× allowed
#: for two experiments in flight), 120 bytes per shot while an experiment samples (measured at 10**6–10**7
#: shots), and ~210 bytes per distinct outcome kept in a job's counts.
AER_SHOT_COPIES, AER_SHOT_BYTES, AER_OUTCOME_BYTES = 2, 128, 256
#: Anonymous memory of one training process (torch, qiskit, numba loaded; model, optimizer and the ten-digit
#: data): measured 360 MiB; the shared libraries' pages are shared between processes.
PROCESS_BYTES = 400 * MIB
#: Rows of an evaluation or prediction job (``hqnn.train.evaluate``'s batch, no shifted rows).
EVALUATION_ROWS = 256


class ResourceError(ValueError):
    """A run or layer needs more than this machine has; the message names the largest value that fits."""


def statevector_bytes(n_qubits: int, rows: int = 1, complex_bytes: int = 16) -> int:
    """Bytes of ``rows`` statevectors of ``n_qubits`` qubits (``2**n_qubits`` amplitudes each)."""
    return rows * 2**n_qubits * complex_bytes


def shift_rows(batch: int, n_angles: int) -> int:
    """Circuit rows of one training step: each sample's base row and two shifted rows per angle."""
    return batch * (1 + 2 * n_angles)


def exact_job_bytes(n_qubits: int, rows: int) -> int:
    """Peak memory of an exact job: batched numpy up to :data:`BATCHED_MAX_QUBITS` qubits, Aer above."""
    if n_qubits <= BATCHED_MAX_QUBITS:
        return BATCHED_COPIES * statevector_bytes(n_qubits, rows)
    return (AER_EXACT_COPIES + AER_EXACT_ROW_COPIES * rows) * statevector_bytes(n_qubits)


def aer_shot_job_bytes(n_qubits: int, rows: int, shots: int, readout_bits: int) -> int:
    """Peak memory of an Aer shot job of ``rows`` experiments on ``n_qubits`` (all copies packed)."""
    outcomes = min(shots, 2**readout_bits)
    return AER_SHOT_COPIES * statevector_bytes(n_qubits) + AER_SHOT_BYTES * shots + AER_OUTCOME_BYTES * rows * outcomes


def available_bytes() -> int | None:
    """Memory a new allocation can get: /proc/meminfo's MemAvailable, capped by a cgroup memory limit (a
    container's); else the free physical pages that ``os.sysconf`` reports; ``None`` if the system tells neither."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    for limit_file, usage_file in (("memory.max", "memory.current"), ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = int(Path("/sys/fs/cgroup", limit_file).read_text())
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text())
        except (OSError, ValueError):  # no such cgroup file, or "max" (no limit)
            continue
        available = min(available, max(0, limit - usage))
    return available


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def format_bytes(n: float) -> str:
    """``n`` bytes in MiB below a GiB, else GiB (``'512 MiB'``, ``'16.0 GiB'``)."""
    return f"{n / MIB:.0f} MiB" if n < GIB else f"{n / GIB:,.1f} GiB"


def check_fits(what: str, needed: int, limit: int, largest_hint: str) -> None:
    """Raise :class:`ResourceError` if ``needed`` bytes exceed ``limit``; the message says what needed them
    (``what``) and what would fit (``largest_hint``, e.g. ``"the largest that fits is --qubits 25"``)."""
    if needed > limit:
        raise ResourceError(
            f"{what} needs ~{format_bytes(needed)} of memory, this machine has {format_bytes(limit)} available: "
            f"{largest_hint}"
        )


def largest_fitting(cost: Callable[[int], int], limit: int, below: int) -> int | None:
    """The largest ``v`` in ``1 .. below - 1`` with ``cost(v) <= limit`` (``cost`` rising with ``v``), or None."""
    low, high = 0, below  # cost(low) fits (or low is 0), cost(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if cost(middle) <= limit else (low, middle)
    return low or None


def layer_bytes(config: RunConfig) -> tuple[int, int]:
    """Peak memory of the run's quantum layer in one process, split as (statevectors, shots): the larger of
    a training step's job (every shifted row) and an evaluation job."""
    if config.head == "classical":
        return 0, 0
    n = config.qubits
    angles = 1 if config.chapter_model else n * (1 + 2 * (config.reps + 1))  # encoder + (ry, rz) per block
    rows = max(shift_rows(config.batch_size, angles), EVALUATION_ROWS)
    if config.chapter_model and config.backend != "aer":
        return 64 * rows, 0  # closed-form kernels: a few floats per row
    if config.backend == "aer" and config.shots is not None:
        copies = max(1, 6 // n)  # AerExecutor packs copies up to 6 qubits
        shots = aer_shot_job_bytes(n * copies, rows, config.shots, n * copies)
        states = AER_SHOT_COPIES * statevector_bytes(n * copies)
        return states, shots - states
    return exact_job_bytes(n, rows), 0


def process_bytes(config: RunConfig) -> int:
    """Memory of one training process of ``config``: the process itself and its layer's largest job."""
    return PROCESS_BYTES + sum(layer_bytes(config))


def check_run(config: RunConfig, available: int | None = None, cores: int | None = None) -> None:
    """Refuse a run that cannot fit this machine before it starts: ``ddp`` above the usable cores, or more
    memory than is available for ``qubits``, ``shots`` or ``ddp`` processes. The message names the flag and
    the largest value that fits. ``available`` and ``cores`` default to this machine's."""
    cores = usable_cores() if cores is None else cores
    if config.ddp > cores:
        raise ResourceError(
            f"--ddp {config.ddp} starts {config.ddp} training processes but this machine has {cores} usable cores: "
            f"the largest that fits is --ddp {cores}"
        )
    available = available_bytes() if available is None else available
    if available is None:
        return
    need = process_bytes(config)
    if need > available:  # not even one process fits: blame the layer's larger cost
        states, shots = layer_bytes(config)
        if shots > states:
            cost = lambda v: process_bytes(_with(config, shots=v))  # noqa: E731
            flag, largest = "shots", largest_fitting(cost, available, config.shots)
            what = "Aer's shot sampling"
        else:  # statevector cost is not monotonic in qubits (numpy up to 14, Aer above): scan down
            fits = lambda v: process_bytes(_with(config, qubits=v)) <= available  # noqa: E731
            flag, largest = "qubits", next((v for v in range(config.qubits - 1, 0, -1) if fits(v)), None)
            what = "the statevector simulation"
        hint = f"the largest that fits is --{flag} {largest}" if largest else f"even --{flag} 1 does not fit: lower --batch-size"
        check_fits(f"--{flag} {getattr(config, flag)} ({what})", need, available, hint)
    check_fits(
        f"--ddp {config.ddp} ({format_bytes(need)} per process)",
        need * config.ddp,
        available,
        f"the largest that fits is --ddp {available // need}",
    )


def _with(config: RunConfig, **changes) -> RunConfig:
    return RunConfig(**{**config.to_dict(), **changes})
