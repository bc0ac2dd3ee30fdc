"""Two gloo processes on loopback: gradients are averaged over replicas and the replicas stay identical; a
worker's error reaches the launcher; SIGINT/SIGTERM stop the workers after an epoch's checkpoint, a killed
launcher takes its workers with it, and the temp folders are always removed."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hqnn import Hybrid
from hqnn.app.checkpoint import load_checkpoint
from hqnn.app.cli import main
from hqnn.app.distributed import launch, sweep_stale_folders


def _model(backend, shots, seed):
    torch.manual_seed(100 + seed)  # different initial weights per rank: DDP must broadcast rank 0's
    return nn.Sequential(nn.Linear(4, 1), Hybrid(backend, shots, seed=seed))


def _batch(rank):
    g = torch.Generator().manual_seed(rank)
    return torch.randn(8, 4, generator=g), torch.rand(8, 1, generator=g)


def _worker(rank, world_size, steps):
    x, y = _batch(rank)
    # Exact backend: the local gradient (no_sync) is deterministic, so the averaged one can be checked.
    exact = DistributedDataParallel(_model("analytic", None, rank))
    with exact.no_sync():
        nn.functional.mse_loss(exact(x), y).backward()
    local = exact.module[0].weight.grad.clone()
    exact.zero_grad()
    nn.functional.mse_loss(exact(x), y).backward()
    averaged = exact.module[0].weight.grad.clone()

    # Shot backend with a distinct seed per rank: train a few steps.
    model = DistributedDataParallel(_model("aer", 100, seed=rank))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        noise = model.module(torch.zeros(64, 4))
    state = {k: v.clone() for k, v in model.module.state_dict().items()}
    return local, averaged, state, noise


def test_two_process_gradients_averaged_and_replicas_identical():
    results = launch(2, _worker, 4, timeout_s=120)
    (local0, avg0, state0, noise0), (local1, avg1, state1, noise1) = results
    assert not torch.allclose(local0, local1)
    torch.testing.assert_close(avg0, (local0 + local1) / 2, atol=1e-6, rtol=0)
    torch.testing.assert_close(avg0, avg1, atol=0, rtol=0)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), key
    assert not torch.equal(noise0, noise1), "each rank must draw its own shot noise"


def _failing_worker(rank, world_size):
    if rank == 1:
        raise OSError(errno.ENOSPC, "No space left on device", "model.pt")
    dist.barrier()  # rank 0 waits for rank 1, which never comes: the launcher must end it


def test_a_workers_exception_is_raised_in_the_launcher_with_its_type():
    with pytest.raises(OSError, match="No space left on device") as caught:
        launch(2, _failing_worker, timeout_s=60)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "model.pt"


# A run long enough to be stopped part-way; each epoch is a few steps per process.
DDP_RUN = ["--ddp", "2", "--backend", "emulator", "--epochs", "30", "--train-per-class", "20", "--test-per-class", "2", "--batch-size", "4"]


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path, list[int]]:
    """``hqnn train DDP_RUN`` in a subprocess with its own temp root, once its first checkpoint exists:
    the process, the run folder and the two workers' ids."""
    script = shutil.which("hqnn", path=str(Path(sys.executable).parent))
    out, temp = tmp_path / "run", tmp_path / "tmp"
    temp.mkdir()
    parent = subprocess.Popen(
        [script, "train", *DDP_RUN, "--out", str(out)],
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not (out / "model.pt").exists():
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()
        time.sleep(0.01)
    workers = [pid for pid in _children(parent.pid) if "spawn_main" in _cmdline(pid)]
    assert len(workers) == 2
    return parent, out, workers


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _wait_gone(pids: list[int], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while any(_running(pid) for pid in pids):
        assert time.monotonic() < deadline, f"workers {[p for p in pids if _running(p)]} outlived their launcher"
        time.sleep(0.05)


def _metrics(out: Path) -> dict:
    data = json.loads((out / "metrics.json").read_text())
    data.pop("train_seconds")
    return data


def test_sigint_stops_the_workers_after_an_epochs_checkpoint_and_the_run_resumes_exactly(tmp_path):
    parent, out, workers = _start(tmp_path)
    parent.send_signal(signal.SIGINT)
    _, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 130, stderr
    assert "hqnn: SIGINT: stopping after the current epoch's checkpoint" in stderr
    assert f"interrupted: {out / 'model.pt'} holds the last finished epoch; continue with `hqnn train --resume {out}`" in stderr
    _wait_gone(workers, seconds=5)
    stopped = load_checkpoint(out / "model.pt")
    assert 1 <= stopped.epoch < 30 and len(stopped.training.ranks) == 2
    assert not list((tmp_path / "tmp").glob("hqnn-ddp-*"))
    mtime = (out / "model.pt").stat().st_mtime_ns
    time.sleep(0.3)
    assert (out / "model.pt").stat().st_mtime_ns == mtime, "a worker still writes the checkpoint"

    assert main(["train", "--resume", str(out)]) == 0
    assert main(["train", *DDP_RUN, "--out", str(tmp_path / "whole")]) == 0
    assert _metrics(out) == _metrics(tmp_path / "whole")


def test_sigterm_stops_the_workers_and_removes_the_temp_folder(tmp_path):
    parent, out, workers = _start(tmp_path)
    parent.send_signal(signal.SIGTERM)
    _, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 130 and "hqnn: SIGTERM: stopping after the current epoch's checkpoint" in stderr
    _wait_gone(workers, seconds=5)
    assert 1 <= load_checkpoint(out / "model.pt").epoch < 30
    assert not list((tmp_path / "tmp").glob("hqnn-ddp-*"))


def test_workers_die_with_a_killed_launcher_and_its_folder_is_swept_later(tmp_path):
    parent, out, workers = _start(tmp_path)
    parent.kill()
    parent.communicate()
    _wait_gone(workers)
    (left,) = (tmp_path / "tmp").glob(f"hqnn-ddp-{parent.pid}-*")
    alive = tmp_path / "tmp" / f"hqnn-ddp-{os.getpid()}-live"  # a running launcher's folder stays
    alive.mkdir()
    assert sweep_stale_folders(tmp_path / "tmp") == [left]
    assert not left.exists() and alive.exists()
    assert load_checkpoint(out / "model.pt").epoch >= 1
