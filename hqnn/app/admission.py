"""Admission checks of a training run: estimate from its recipe alone what it will need (memory of its layer's
jobs, processes, cores), compare with what this machine has, and refuse with the largest value that fits before
any work starts."""

from __future__ import annotations

import os

from ..memory import MIB, ResourceError, available_bytes, format_bytes, largest_fitting
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
    a training step (forward + backward of a batch) and an evaluation job, as the engine's strategy for the
    run's backend estimates it (:func:`hqnn.strategies.layer_memory`; nothing is built)."""
    if config.head == "classical":
        return 0, 0
    shots = None if config.backend == "analytic" else config.shots
    total = _layer_peak(config, shots)
    if shots is None:
        return total, 0
    states = _layer_peak(config, 1)  # what does not grow with the shots
    return states, total - states


def _layer_peak(config: RunConfig, shots: int | None) -> int:
    from ..strategies import layer_memory
    from .models import head_spec

    spec = head_spec(config.chapter_model, config.qubits, config.reps)
    train = layer_memory(config.backend, spec, shots, config.batch_size)
    evaluation = layer_memory(config.backend, spec, shots, EVALUATION_ROWS, gradient=False)
    return max(train, evaluation)



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
