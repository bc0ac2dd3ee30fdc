"""Rows of a :class:`~hqnn.kernels.statevector.Program` on every core: chunks of rows in parallel (numba ``prange``).

The rows are cut into chunks of ``chunk`` rows (at most :data:`~hqnn.kernels.statevector.CHUNK`); thread t takes
chunks t, t + T, t + 2T … (T threads) and reuses one workspace for all of them. A row's arithmetic does not depend
on its chunk, on the chunk's width or on the thread that runs it (rows never meet in the kernels: each row's
state, adjoint and angle gradients are its own), so the results are bit-identical whatever the thread count and
the chunk size. How many threads run is numba's setting at the call (``numba.set_num_threads``); the glue in
:mod:`hqnn.simulator` sets it from ``torch.get_num_threads()``.
"""

import threading
import weakref

import numba
import numpy as np

from . import fused
from .statevector import CHUNK, PARALLEL_MIN, _add_columns, _backward_chunk, _forward_chunk, _workspace

#: Fewest rows in a chunk (the kernels vectorize over a chunk's rows: 8 float64 per AVX-512 register).
MIN_CHUNK = 8


def chunk_rows(n_qubits: int, rows: int, threads: int) -> int:
    """Rows per chunk: as wide as :func:`widest_chunk` allows, but narrow enough that every thread gets a chunk. A
    multiple of MIN_CHUNK."""
    per_thread = -(-rows // max(threads, 1))
    return min(widest_chunk(n_qubits), -(-per_thread // MIN_CHUNK) * MIN_CHUNK)


def widest_chunk(n_qubits: int) -> int:
    """CHUNK rows up to 12 qubits, then half as many every two qubits (MIN_CHUNK from 18). Wide chunks vectorize
    (8 and 12 qubits, 256 rows: widths 8, 16, 32 took 2.5×, 1.6×, 1.2× the time of 64 forward); past 12 qubits
    the state streams from memory, and a narrower chunk gets larger tile groups (:func:`fused.group_size`), so
    fewer passes. Measured forward + backward, 1 thread, the bench's layered circuit: 14 qubits B=64 widths 16,
    32, 64: 82, 69, 118 ms; 16 qubits B=32 widths 8, 16, 32: 252, 220, 300 ms; B=256 widths 16, 32, 64: 1.46,
    1.67, 2.12 s."""
    return min(CHUNK, max(MIN_CHUNK, 1 << max(0, 12 - n_qubits // 2)))


@numba.njit(cache=True, parallel=True)
def forward_rows(ops, factors, out, n, max_run, chunk, threads):
    """Final states of every row into ``out`` (R, 2**n) complex128."""
    count = (len(out) + chunk - 1) // chunk
    for t in numba.prange(threads):
        work = _workspace(n, max_run, chunk)
        for k in range(t, count, threads):
            r0 = k * chunk
            _forward_chunk(r0, min(chunk, len(out) - r0), ops, factors, out, work)


@numba.njit(cache=True, parallel=True)
def backward_rows(ops, factors, states, grads, out, n, max_run, chunk, threads):
    """Each row's gradient by each rotation factor into ``out`` (R, rotations), from the final ``states`` and the
    incoming ``grads``."""
    count = (len(out) + chunk - 1) // chunk
    for t in numba.prange(threads):
        work = _workspace(n, max_run, chunk)
        for k in range(t, count, threads):
            r0 = k * chunk
            _backward_chunk(r0, min(chunk, len(out) - r0), ops, factors, states, grads, out, work)


def _max_run(ops) -> int:
    """The longest run's factor count from the kernels' ``ops`` bundle (by name when it has names)."""
    return int(getattr(ops, "max_run", None) or ops[12])


def states(program, angles: np.ndarray, threads: int, fuse: bool = True, factors=None) -> np.ndarray:
    """:meth:`Program.states` on ``threads`` threads (bit-identical for any count); ``fuse``: runs on distinct
    qubits in one pass each group (:mod:`hqnn.kernels.fused`, bit-identical states); ``factors``: the program's
    ``_factor_tables(angles)`` when the caller has them."""
    ops = program.arrays()[0]
    out = np.empty((len(angles), 1 << program.n_qubits), dtype=np.complex128)
    if len(out):
        threads, chunk, k, plan = _launch(program, len(out), threads, fuse)
        n, max_run = program.n_qubits, _max_run(ops)
        factors = program._factor_tables(angles) if factors is None else factors
        if fuse:
            fused.forward_rows(ops, plan.fields, plan.arrays, factors, out, n, max_run, chunk, k, threads)
        else:
            forward_rows(ops, factors, out, n, max_run, chunk, threads)
    return out


def angle_gradients(
    program, angles: np.ndarray, states: np.ndarray, grads: np.ndarray, threads: int, fuse: bool = True, factors=None
) -> np.ndarray:
    """:meth:`Program.angle_gradients` on ``threads`` threads (bit-identical for any count); ``fuse``: each group
    of runs undone in one pass (equal to the run-by-run sweep to rounding); ``factors`` as for :func:`states`."""
    ops, _, columns, _ = program.arrays()
    per_rotation = np.zeros((len(angles), len(columns)))
    if len(angles):
        threads, chunk, k, plan = _launch(program, len(angles), threads, fuse)
        n, max_run = program.n_qubits, _max_run(ops)
        factors = program._factor_tables(angles) if factors is None else factors
        states = np.ascontiguousarray(states, dtype=np.complex128)
        grads = np.ascontiguousarray(grads, dtype=np.complex128)
        if fuse:
            fused.backward_rows(
                ops, plan.fields, plan.arrays, factors, states, grads, per_rotation, n, max_run, chunk, k, threads
            )
        else:
            backward_rows(ops, factors, states, grads, per_rotation, n, max_run, chunk, threads)
    out = np.zeros(np.shape(angles))
    _add_columns(per_rotation, columns, out)
    return out


def states_of_two(programs: tuple, angles: np.ndarray, threads: int, factors: tuple) -> list[np.ndarray]:
    """:func:`states` of two programs on the same rows (a Schmidt cut's sides) in one parallel region (fused;
    bit-identical to :func:`states` of each); ``factors``: each program's ``_factor_tables(angles)``."""
    outs = [np.empty((len(angles), 1 << p.n_qubits), dtype=np.complex128) for p in programs]
    if len(angles):
        threads, launches = _launches_of_two(programs, len(angles), threads)
        arguments = [_program_arguments(*each, (out,)) for each, out in zip(zip(programs, factors, launches), outs)]
        fused.forward_two(*arguments[0], *arguments[1], threads)
    return outs


def angle_gradients_of_two(
    programs: tuple, angles: np.ndarray, states: list, grads: list, threads: int, factors: tuple
) -> np.ndarray:
    """The sum of :func:`angle_gradients` (fused) of two programs on the same rows, in one parallel region."""
    per_rotation = [np.zeros((len(angles), len(p.arrays()[2]))) for p in programs]
    if len(angles):
        threads, launches = _launches_of_two(programs, len(angles), threads)
        arrays = [
            (np.ascontiguousarray(s, dtype=np.complex128), np.ascontiguousarray(g, dtype=np.complex128), out)
            for s, g, out in zip(states, grads, per_rotation)
        ]
        arguments = [_program_arguments(*each, rows) for each, rows in zip(zip(programs, factors, launches), arrays)]
        fused.backward_two(*arguments[0], *arguments[1], threads)
    out = np.zeros(np.shape(angles))
    for program, gradients in zip(programs, per_rotation):
        _add_columns(gradients, program.arrays()[2], out)
    return out


def _launches_of_two(programs: tuple, rows: int, requested: int) -> tuple[int, list]:
    """(threads, each program's launch): the two programs' chunks are shared out over the threads, so each
    program's chunks are sized for half of them (a program per thread on two threads and few rows). No
    PARALLEL_MIN here: a cut is taken where it is work enough, and its sides ran on two Python threads before."""
    threads = max(1, min(int(requested), numba.config.NUMBA_NUM_THREADS))
    launches = [_shape(program, rows, max(1, threads // 2), True) for program in programs]
    use_threads(threads)
    return threads, launches


def _program_arguments(program, factors, launch: tuple, rows: tuple) -> tuple:
    """One program's arguments of :func:`fused.forward_two` or :func:`fused.backward_two`: its arrays, plan and
    factors, then ``rows`` (its per-row arrays), then its sizes."""
    _, chunk, k, plan = launch
    ops = program.arrays()[0]
    return (ops, plan.fields, plan.arrays, factors, *rows, program.n_qubits, _max_run(ops), chunk, k)


_LAUNCHES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _launch(program, rows: int, requested: int, fuse: bool) -> tuple:
    """:func:`_shape` of a call, numba's thread count set to its threads."""
    launch = _shape(program, rows, requested, fuse)
    use_threads(launch[0])
    return launch


def _shape(program, rows: int, requested: int, fuse: bool) -> tuple:
    """(threads, chunk, k, plan) of a call on ``rows`` rows with ``requested`` threads, worked out once per program
    and shape (4 qubits, 32 rows: ~10 µs of a ~60 µs kernel call)."""
    threads = _threads(requested, rows, program.n_qubits)
    launches = _LAUNCHES.setdefault(program, {})
    key = (rows, threads, fuse)
    if key not in launches:
        chunk = chunk_rows(program.n_qubits, rows, threads)
        k = fused.group_size(chunk)
        launches[key] = (threads, chunk, k, fused.plan(program, k) if fuse else None)
    return launches[key]


def _threads(requested: int, rows: int, n_qubits: int) -> int:
    """Threads that get work: at most numba's pool, one per MIN_CHUNK rows, and one below PARALLEL_MIN rows ×
    amplitudes (waking the pool costs more there, and on a busy machine a parallel region waits for its slowest
    thread)."""
    if rows << n_qubits < PARALLEL_MIN:
        requested = 1
    return max(1, min(int(requested), numba.config.NUMBA_NUM_THREADS, -(-rows // MIN_CHUNK)))


_THREADS_SET = threading.local()


def use_threads(threads: int) -> None:
    """numba's thread count for this Python thread's next parallel kernels, set only when it changes (2 µs a
    call). Results never depend on it (see the module docstring), only which threads run."""
    if getattr(_THREADS_SET, "threads", None) != threads:
        numba.set_num_threads(threads)
        _THREADS_SET.threads = threads
