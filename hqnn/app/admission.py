"""Admission checks of a training run: estimate from its recipe alone what it will need (memory of its layer's
jobs, processes, cores), compare with what this machine has, and refuse with the largest value that fits before
any work starts."""

from __future__ import annotations

import os

from ..memory import (
    AER_SHOT_COPIES,
    MIB,
    ResourceError,
    aer_shot_job_bytes,
    available_bytes,
    format_bytes,
    largest_fitting,
    reverse_mode_bytes,
    rows_job_bytes,
    shift_rows,
    statevector_bytes,
)
from .config import RunConfig

#: Anonymous memory of one training process (torch, qiskit, numba loaded; model, optimizer and the ten-digit
#: data): measured 360 MiB; the shared libraries' pages are shared between processes.
PROCESS_BYTES = 400 * MIB
#: Rows of an evaluation or prediction job (``hqnn.app.train.evaluate``'s batch, no shifted rows).
EVALUATION_ROWS = 256


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_fits(what: str, needed: int, limit: int, largest_hint: str) -> None:
    """Raise :class:`ResourceError` if ``needed`` bytes exceed ``limit``; the message says what needed them
    (``what``) and what would fit (``largest_hint``, e.g. ``"the largest that fits is --qubits 25"``)."""
    if needed > limit:
        raise ResourceError(
            f"{what} needs ~{format_bytes(needed)} of memory, this machine has {format_bytes(limit)} available: "
            f"{largest_hint}"
        )


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
        else:  # bisect: the statevector cost is the larger one, and doubles with each qubit
            cost = lambda v: process_bytes(_with(config, qubits=v))  # noqa: E731
            # 2**v bytes alone exceed what is available from v = its bit length on: search below that.
            below = min(config.qubits, max(2, available.bit_length() + 1))
            flag, largest = "qubits", largest_fitting(cost, available, below)
            what = "the statevector simulation"
        hint = f"the largest that fits is --{flag} {largest}" if largest else f"even --{flag} 1 does not fit: lower --batch-size"
        if not largest and config.batch_size > 1:  # the batch's rows are what does not fit: say how far to lower it
            cost = lambda v: process_bytes(_with(config, batch_size=v))  # noqa: E731
            batch = largest_fitting(cost, available, config.batch_size)
            hint += f" (the largest that fits is --batch-size {batch})" if batch else " (even 1 does not fit)"
        check_fits(f"--{flag} {getattr(config, flag)} ({what})", need, available, hint)
    check_fits(
        f"--ddp {config.ddp} ({format_bytes(need)} per process)",
        need * config.ddp,
        available,
        f"the largest that fits is --ddp {available // need}",
    )


def _with(config: RunConfig, **changes) -> RunConfig:
    return RunConfig(**{**config.to_dict(), **changes})
