"""Resource guards: estimate from a run's numbers alone what it will need (memory for statevectors and shots,
processes), compare with what this machine has, and refuse with the largest value that fits before any
work starts. The constants are measurements of hqnn's executors on CPython 3.11, numpy 2, torch 2.14, Aer 0.18."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .config import RunConfig

MIB, GIB = 2**20, 2**30
#: Peak of a reverse-mode forward + backward over its ``batch × 2**n`` complex amplitudes on the CPU: the final
#: states, their gradient and the readout's probabilities and their gradients (high-water mark of a fresh
#: process with large blocks mapped straight from the kernel: 4.1× at 12 and 14 qubits, 5.2× at 16). On a GPU
#: autograd also keeps every step's state: one more copy per simulation step.
REVERSE_COPIES = 6
#: Peak of an exact or emulated job over its rows' ``rows × 2**n`` amplitudes: the states, probabilities and the
#: multinomial's partial sums (measured the same way: 3.0–3.3× at 6–10 qubits, 7,000–22,000 rows).
ROWS_COPIES = 4
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


def reverse_mode_bytes(n_qubits: int, batch: int, steps_kept: int = 0) -> int:
    """Peak memory of a reverse-mode forward + backward of ``batch`` samples (``steps_kept``: states autograd
    keeps, the torch simulator's steps on a GPU; none with the CPU kernels)."""
    return (REVERSE_COPIES + steps_kept) * statevector_bytes(n_qubits, batch)


def rows_job_bytes(n_qubits: int, rows: int) -> int:
    """Peak memory of an exact or emulated job of ``rows`` statevector rows (shift-rule rows included)."""
    return ROWS_COPIES * statevector_bytes(n_qubits, rows)


def aer_exact_job_bytes(n_qubits: int, rows: int) -> int:
    """Peak memory of an exact Aer job (``save_probabilities``) of ``rows`` bound rows."""
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
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
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
    if config.backend == "emulator" and config.shots is not None:
        return rows_job_bytes(n, rows), 0
    return reverse_mode_bytes(n, max(config.batch_size, EVALUATION_ROWS)), 0  # exact: no shifted rows


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
        else:  # scan down: the statevector cost is the larger one
            fits = lambda v: process_bytes(_with(config, qubits=v)) <= available  # noqa: E731
            flag, largest = "qubits", next((v for v in range(config.qubits - 1, 0, -1) if fits(v)), None)
            what = "the statevector simulation"
        hint = (
            f"the largest that fits is --{flag} {largest}"
            if largest
            else f"even --{flag} 1 does not fit: lower --batch-size"
        )
        check_fits(f"--{flag} {getattr(config, flag)} ({what})", need, available, hint)
    check_fits(
        f"--ddp {config.ddp} ({format_bytes(need)} per process)",
        need * config.ddp,
        available,
        f"the largest that fits is --ddp {available // need}",
    )


def _with(config: RunConfig, **changes) -> RunConfig:
    return RunConfig(**{**config.to_dict(), **changes})
