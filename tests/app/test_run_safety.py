"""Runs that cannot collide or hang: the run lock (a second train, --resume or --force refused with the
holder's pid; a stale lock taken over; released on exit and on SIGTERM), any size up to 10^18 answered within
1 s without a traceback, resume keeps the run's thread count, SIGTERM behaves like SIGINT, messages that name
the real problem, and evaluate that never downloads or creates folders a checkpoint chose."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import hqnn.app.admission
import hqnn.app.train
from hqnn.app.checkpoint import load_checkpoint
from hqnn.app.cli import build_parser
from hqnn.app.lock import LOCK_NAME
from hqnn.memory import format_bytes
from test_cli import run
from test_resume import interrupt_at_checkpoint

TINY = ["--epochs", "1", "--train-per-class", "4", "--test-per-class", "2", "--backend", "classical"]
SLOW = ["--backend", "analytic", "--epochs", "40", "--batch-size", "4", "--train-per-class", "100"]


def hqnn_script() -> str:
    return shutil.which("hqnn", path=str(Path(sys.executable).parent))


def write_lock(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since": "then"}))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_train_on_a_running_runs_folder_is_refused_and_sigterm_is_like_sigint(tmp_path, capsys):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [hqnn_script(), "train", *SLOW, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "model.pt").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.01)
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == first.pid
        for extra in ([], ["--force"]):
            code, stdout, stderr = run(capsys, "train", *TINY, "--out", out, *extra)
            assert code == 2 and stdout == ""
            assert f"--out {out} is in use by another hqnn run (pid {first.pid} on {socket.gethostname()}" in stderr
        code, _, stderr = run(capsys, "train", "--resume", out)
        assert code == 2 and f"--resume {out} is in use by another hqnn run (pid {first.pid}" in stderr
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # The same as Ctrl-C: exit status 130 and where the checkpoint is.
    assert first.returncode == 130, stderr
    assert f"interrupted: {out / 'model.pt'} holds the last finished epoch; continue with `hqnn train --resume {out}`" in stderr
    assert "Traceback" not in stderr
    assert not (out / LOCK_NAME).exists()  # released on the way out
    assert 1 <= load_checkpoint(out / "model.pt").epoch < 40


def test_a_live_lock_refuses_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    write_lock(out, os.getpid())  # a live holder
    code, _, stderr = run(capsys, "train", *TINY, "--out", out, "--force")
    assert code == 2 and f"(pid {os.getpid()} on" in stderr and not (out / "model.pt").exists()
    stale = dead_pid()
    write_lock(out, stale)
    code, _, stderr = run(capsys, "train", *TINY, "--out", out)  # only the stale lock in it: not "not empty"
    assert code == 0, stderr
    assert f"taking over the lock of hqnn pid {stale} on {socket.gethostname()}, which is no longer running" in stderr
    assert (out / "model.pt").is_file() and not (out / LOCK_NAME).exists()


def test_the_lock_is_released_when_training_fails(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("the quantum layer's device went away")

    monkeypatch.setattr(hqnn.app.train, "train_model", broken)
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "train", *TINY, "--out", out)
    assert code == 2 and "device went away" in stderr
    assert out.is_dir() and not (out / LOCK_NAME).exists()


@pytest.mark.parametrize("flag", ["--qubits", "--shots", "--ddp", "--batch-size"])
@pytest.mark.parametrize("backend", ["aer", "emulator", "analytic", "classical"])
def test_any_size_up_to_10_18_is_answered_within_a_second(capsys, tmp_path, monkeypatch, flag, backend):
    monkeypatch.setattr(hqnn.app.admission, "available_bytes", lambda: 8 * 2**30)
    run(capsys, "train", "--dry-run", "--backend", backend)  # imports loaded: the timing is the answer alone
    out = tmp_path / "run"
    for value in (10**6, 5000, 10**18):
        start = time.perf_counter()
        code, stdout, stderr = run(capsys, "train", flag, value, "--backend", backend, "--out", out, "--dry-run")
        seconds = time.perf_counter() - start
        assert seconds < 1.0, (flag, value, seconds)
        assert code in (0, 2) and "Traceback" not in stderr, stderr
        assert code == 0 or stderr.startswith("hqnn train: error: "), stderr
        assert not out.exists()


def test_huge_qubit_counts_name_the_limit_and_format_bytes_never_overflows(capsys):
    code, _, stderr = run(capsys, "train", "--qubits", "5000")
    assert code == 2 and "--qubits 5000 is more than 62" in stderr
    code, _, stderr = run(capsys, "train", "--qubits", "30", "--backend", "emulator")
    assert code == 2 and "more than the 24 that the torch simulator of backend 'emulator' holds" in stderr
    assert format_bytes(16 * 2**5000) == "2^5004.0 bytes"
    assert format_bytes(3 * 2**30) == "3.0 GiB"


def interrupted_run(tmp_path, monkeypatch, capsys, *flags) -> Path:
    """A run stopped by Ctrl-C just before epoch 2's checkpoint."""
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_checkpoint(patch, 2)
        code, _, _ = run(capsys, "train", "--backend", "analytic", "--epochs", "3", "--batch-size", "8", *flags, "--out", out)
    assert code == 130
    return out


def test_resume_keeps_the_runs_thread_count(tmp_path, monkeypatch, capsys):
    out = interrupted_run(tmp_path, monkeypatch, capsys, "--threads", "2")
    assert load_checkpoint(out / "model.pt").threads == 2
    code, _, stderr = run(capsys, "train", "--resume", out, "--threads", "1")
    assert code == 2 and f"--resume {out}: the run trained with --threads 2; 1 threads would change" in stderr
    assert "drop --threads 1" in stderr and not (out / "metrics.json").exists()
    seen = []
    real_fit = hqnn.app.train.fit
    monkeypatch.setattr(hqnn.app.train, "fit", lambda *a, **k: seen.append(torch.get_num_threads()) or real_fit(*a, **k))
    code, stdout, _ = run(capsys, "train", "--resume", out)
    assert code == 0 and "with the run's own 2 threads" in stdout
    assert seen == [2] and json.loads((out / "metrics.json").read_text())["threads"] == 2


def test_misleading_messages_name_the_real_problem(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, "train", *TINY, "--out", out)[0] == 0
    code, _, stderr = run(capsys, "train", "--resume", out / "model.pt")
    assert code == 2 and f"--resume {out / 'model.pt'} is a file, not a run folder" in stderr
    assert f"pass its folder, --resume {out}" in stderr and "no such run folder" not in stderr

    code, _, stderr = run(capsys, "predict", "--checkpoint", out / "model.pt", tmp_path)
    assert code == 2 and "is a folder: pass the image files in it" in stderr and "does not exist" not in stderr
    code, _, stderr = run(capsys, "evaluate", "--checkpoint", out)
    assert code == 2 and "is a folder, not a checkpoint file: pass the model.pt in it" in stderr

    (tmp_path / "empty.pt").write_bytes(b"")
    code, _, stderr = run(capsys, "evaluate", "--checkpoint", tmp_path / "empty.pt")
    assert code == 2 and "is empty (0 bytes)" in stderr and "()" not in stderr
    (tmp_path / "noise.pt").write_bytes(os.urandom(4096))
    code, _, stderr = run(capsys, "evaluate", "--checkpoint", tmp_path / "noise.pt")
    assert code == 2 and "is corrupt or not a torch file" in stderr
    assert "weights_only" not in stderr  # never the advice to unpickle an untrusted file


def test_a_failed_download_does_not_ask_for_download(tmp_path, capsys, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    code, _, stderr = run(capsys, "train", "--data", "torchvision", "--data-root", tmp_path / "m", "--download", "--out", tmp_path / "o")
    assert code == 2 and "downloading MNIST into" in stderr and "failed (Error downloading" in stderr
    assert "pass --download" not in stderr
    code, _, stderr = run(capsys, "train", "--data", "torchvision", "--data-root", tmp_path / "m", "--out", tmp_path / "o")
    assert code == 2 and "pass --download" in stderr


def test_help_describes_the_command_in_whole_sentences():
    description = build_parser().description
    assert "``" not in description and description.endswith(".")
    assert "evaluate a checkpoint on its test split, predict the digit in image files" in description


def test_evaluate_never_downloads_or_creates_what_a_checkpoint_asks_for(tmp_path, capsys, monkeypatch):
    import torchvision.datasets

    out = tmp_path / "run"
    assert run(capsys, "train", *TINY, "--out", out)[0] == 0
    payload = torch.load(out / "model.pt", weights_only=True)
    chosen = tmp_path / "chosen" / "by" / "the checkpoint"
    payload["config"].update(data="torchvision", download=True, data_root=str(chosen))
    torch.save(payload, tmp_path / "crafted.pt")
    calls = []
    real = torchvision.datasets.MNIST

    def spy(root, train, download):
        calls.append(download)
        return real(root=root, train=train, download=download)

    monkeypatch.setattr(torchvision.datasets, "MNIST", spy)
    code, _, stderr = run(capsys, "evaluate", "--checkpoint", tmp_path / "crafted.pt")
    assert code == 2 and "MNIST files not found" in stderr
    assert calls == [False] and not (tmp_path / "chosen").exists()


def test_under_ddp_only_the_launcher_holds_the_lock(tmp_path, capsys, monkeypatch):
    holders = []
    real_launch = hqnn.app.train.launch

    def launch(*args, **kwargs):
        holders.append(json.loads((out / LOCK_NAME).read_text())["pid"])
        return real_launch(*args, **kwargs)

    monkeypatch.setattr(hqnn.app.train, "launch", launch)
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "train", *TINY, "--ddp", "2", "--out", out)
    assert code == 0, stderr
    assert holders == [os.getpid()]  # this process launched the workers and holds the lock for them
    assert not (out / LOCK_NAME).exists() and (out / "model.pt").is_file()
