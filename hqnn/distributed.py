"""Data-parallel training on torch.distributed: N local processes joined by the gloo backend on loopback.

Each process owns a model replica and its own executor (seeded ``seed + rank``); DistributedDataParallel
averages gradients after every backward, so the replicas stay identical.
"""

from __future__ import annotations

import pickle
import socket
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def launch(world_size: int, worker: Callable, *args, timeout_s: float = 300.0) -> list:
    """Run ``worker(rank, world_size, *args)`` in ``world_size`` processes; return their results by rank.

    ``worker`` must be importable (a module-level function). The process group is set up before it runs and
    torn down after; any worker's exception ends the run with an error naming the rank.
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    with tempfile.TemporaryDirectory(prefix="hqnn-ddp-") as folder:
        mp.spawn(
            _run,
            args=(world_size, _free_port(), timeout_s, worker, args, folder),
            nprocs=world_size,
            join=True,
        )
        return [pickle.loads(_result_file(folder, rank).read_bytes()) for rank in range(world_size)]


def _result_file(folder: str, rank: int) -> Path:
    # Files, not a pipe: a result larger than the pipe's buffer would block its process before join.
    return Path(folder) / f"rank{rank}.pickle"


def _run(rank, world_size, port, timeout_s, worker, args, folder) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        # Plain pickle: tensors travel by value, not as shared memory that dies with the process.
        _result_file(folder, rank).write_bytes(pickle.dumps(worker(rank, world_size, *args)))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
