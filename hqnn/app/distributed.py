"""Data-parallel training on torch.distributed: N local processes joined by the gloo backend on loopback.

Each process owns a model replica and its own executor (seeded ``seed + rank``); DistributedDataParallel
averages gradients after every backward, so the replicas stay identical. The launching process owns the
workers: SIGINT or SIGTERM asks them to stop after their current epoch's checkpoint, they die with it even
when it is SIGKILLed, and its temp folder is removed (a SIGKILLed launcher's, at the next launch).
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

#: Temp folders are ``hqnn-ddp-<launcher pid>-<random>`` under the temp root.
FOLDER_PREFIX = "hqnn-ddp-"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_stop_event = None  # the launcher's stop request, in a worker process


def launch(world_size: int, worker: Callable, *args, timeout_s: float = 300.0) -> list:
    """Run ``worker(rank, world_size, *args)`` in ``world_size`` processes; return their results by rank.

    ``worker`` must be importable (a module-level function). The process group is set up before it runs and
    torn down after. A worker's exception is raised here again (the first to fail; the others are ended).
    SIGINT or SIGTERM sets :func:`stop_requested` in the workers (a second one ends them at once); if a
    worker then stops with ``KeyboardInterrupt`` (as :func:`hqnn.app.train.fit` does after the epoch's
    checkpoint), ``launch`` raises ``KeyboardInterrupt`` once all have exited.
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    sweep_stale_folders()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    with tempfile.TemporaryDirectory(prefix=f"{FOLDER_PREFIX}{os.getpid()}-") as folder, _stop_on_signals(stop):
        port = _free_port()
        processes = [
            context.Process(
                target=_run,
                args=(rank, world_size, port, timeout_s, worker, args, folder, stop, os.getpid()),
                name=f"hqnn-ddp-rank{rank}",
                daemon=True,
            )
            for rank in range(world_size)
        ]
        try:
            for process in processes:
                process.start()
            _join(processes, folder)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                    process.join()
        outcomes = [pickle.loads(_result_file(folder, rank).read_bytes()) for rank in range(world_size)]
    if any(kind == "stopped" for kind, _ in outcomes):
        raise KeyboardInterrupt("data-parallel training stopped on request")
    return [value for _, value in outcomes]


def stop_requested() -> bool:
    """Whether the launching process asked its workers to stop after the current epoch (SIGINT/SIGTERM)."""
    return _stop_event is not None and _stop_event.is_set()


def sweep_stale_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove this user's ``hqnn-ddp-<pid>-*`` folders under ``root`` (the temp root by default) whose
    launching process is gone, as after a SIGKILL; returns them."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX) :].split("-", 1)[0]
        try:
            mine = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _run(rank, world_size, port, timeout_s, worker, args, folder, stop, parent) -> None:
    """A worker process: dies with its launcher, leaves SIGINT to it, reports its outcome in a file."""
    global _stop_event
    _exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches the whole group: the parent decides
    _stop_event = stop
    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
        )
        try:
            outcome = ("done", worker(rank, world_size, *args))
        except KeyboardInterrupt:  # hqnn.app.train.fit stops every process after the same epoch
            outcome = ("stopped", None)
        gc.collect()  # a traceback's frames hold the worker's DDP model in cycles: free it while the group lives
        dist.destroy_process_group()
    except BaseException as error:  # handed to the parent, which raises it: no traceback printed here
        outcome = ("failed", (error, traceback.format_exc(), time.time()))
    try:
        data = pickle.dumps(outcome)  # plain pickle: tensors travel by value, not as shared memory
    except Exception as error:
        failure = RuntimeError(f"{outcome[1]!r} (it cannot be pickled: {error})")
        data = pickle.dumps(("failed", (failure, traceback.format_exc(), time.time())))
    # Files, not a pipe: a result larger than the pipe's buffer would block its process before join.
    _result_file(folder, rank).write_bytes(data)
    if outcome[0] == "failed":
        sys.exit(1)


def _join(processes: list, folder: str) -> None:
    """Wait for every worker; raise the first failure (the caller ends the others)."""
    waiting = list(processes)
    while waiting:
        for sentinel in multiprocessing.connection.wait([p.sentinel for p in waiting]):
            process = next(p for p in waiting if p.sentinel == sentinel)
            process.join()
            waiting.remove(process)
        if any(p.exitcode for p in processes):
            # Its peers fail in turn when it vanishes ("connection closed"): let them report, then raise the root cause.
            multiprocessing.connection.wait([p.sentinel for p in waiting], timeout=2)
            raise _first_failure(processes, folder)


def _first_failure(processes: list, folder: str) -> BaseException:
    """The earliest error a worker reported, with its traceback as a note; or how a worker died silently."""
    reported = []
    for rank, process in enumerate(processes):
        result = _result_file(folder, rank)
        if process.exitcode and result.is_file():
            kind, value = pickle.loads(result.read_bytes())
            if kind == "failed":
                reported.append((value[2], rank, value[0], value[1]))
    if reported:
        _, rank, error, trace = min(reported, key=lambda item: item[0])
        if hasattr(error, "add_note"):  # Python ≥ 3.11: shown with a traceback, not in str(error)
            error.add_note(f"in data-parallel process {rank}:\n{trace}")
        return error
    rank, process = next((r, p) for r, p in enumerate(processes) if p.exitcode)
    how = f"signal {signal.Signals(-process.exitcode).name}" if process.exitcode < 0 else f"status {process.exitcode}"
    return RuntimeError(f"data-parallel process {rank} died ({how}) before reporting a result")


@contextmanager
def _stop_on_signals(stop) -> Iterator[None]:
    """In the main thread: the first SIGINT or SIGTERM sets ``stop``; a second raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            f"hqnn: {signal.Signals(signum).name}: stopping after the current epoch's checkpoint "
            "(send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _exit_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, even by SIGKILL: prctl(PR_SET_PDEATHSIG) on Linux, else a
    thread that polls the parent id."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="hqnn-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _result_file(folder: str, rank: int) -> Path:
    return Path(folder) / f"rank{rank}.pickle"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
