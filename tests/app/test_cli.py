"""The ``hqnn`` command end to end: train a short recipe, read it back with evaluate and predict, reject bad input."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hqnn.app.cli
import hqnn.app.admission
import hqnn.app.train
from hqnn.app.checkpoint import load_checkpoint
from hqnn.app.cli import main
from hqnn.app.data import load_mnist
from hqnn.app.train import Evaluation

from test_data import png_header

SHORT = ["--backend", "analytic", "--epochs", "2", "--batch-size", "8"]
FILES = ["loss.png", "metrics.json", "model.pt", "predictions.png"]


def run(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``hqnn argv…`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", *SHORT, "--out", str(out), "--force"]) == 0
    return out, stdout.getvalue()


def test_train_writes_the_run_folder(trained):
    out, stdout = trained
    assert sorted(p.name for p in out.iterdir()) == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95
    assert len(metrics["train_loss"]) == 2 and metrics["steps"] == 50 and metrics["train_seconds"] > 0
    assert -1 <= metrics["test_loss"] <= 0
    assert metrics["config"]["backend"] == "analytic" and metrics["config"]["digits"] == [0, 1]
    assert metrics["threads"] == 1
    for name in ("loss.png", "predictions.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.width > 300
    lines = stdout.strip().splitlines()
    assert lines[-2] == str(out)
    assert lines[-1].startswith(f"test accuracy {metrics['test_accuracy']:.1%}")


def test_evaluate_reads_the_checkpoint_back(trained, capsys):
    out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    code, stdout, _ = run(capsys, "evaluate", "--checkpoint", out / "model.pt")
    assert code == 0
    assert f"test accuracy {metrics['test_accuracy']:.1%} on 100 digits [0, 1]" in stdout
    assert f"test loss {metrics['test_loss']:.4f}" in stdout


def test_predict_names_the_digit(trained, capsys, tmp_path):
    out, _ = trained
    _, test = load_mnist()
    zero, one = test.tensors[0][0, 0].numpy(), test.tensors[0][-1, 0].numpy()
    np.save(tmp_path / "zero.npy", zero)
    Image.fromarray((one * 255).astype(np.uint8)).resize((40, 40)).save(tmp_path / "one.png")
    code, stdout, _ = run(capsys, "predict", "--checkpoint", out / "model.pt", tmp_path / "zero.npy", tmp_path / "one.png")
    assert code == 0
    first, second = stdout.strip().splitlines()
    assert first.startswith(f"{tmp_path / 'zero.npy'}: 0 (p = ") and second.startswith(f"{tmp_path / 'one.png'}: 1 (p = ")
    assert float(first.split("p = ")[1].rstrip(")")) > 0.5


def test_console_script(trained):
    out, _ = trained
    script = shutil.which("hqnn", path=str(Path(sys.executable).parent))
    assert script, "the hqnn console script is not installed next to this python"
    done = subprocess.run([script, "evaluate", "--checkpoint", str(out / "model.pt")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test accuracy" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--digits", "0", "12"], "unknown digit 12: MNIST digits are 0 to 9"),
        (["--digits", "0", "0"], "repeat a digit: name each class once"),
        (["--qubits", "0"], "qubits must be a whole number ≥ 1, got 0"),
        (["--ddp", "0"], "ddp must be a whole number ≥ 1, got 0"),
        (["--batch-size", "0"], "batch size must be a whole number ≥ 1, got 0"),
        (["--epochs", "0"], "epochs must be a whole number ≥ 1, got 0"),
        (["--seed", "-1"], "argument --seed: seed must be a whole number ≥ 0 and ≤ 2\\^62, got -1"),
        (["--digits", "0", "1", "--shift", "0"], "argument --shift: shift must be finite with sin\\(shift\\) != 0"),
        (["--train-per-class", "480"], "500 images of each digit"),
        (["--backend", "analytic", "--shots", "100"], "argument --shots: --backend analytic is exact and has no shots"),
        (["--data", "torchvision", "--data-root", "{tmp}/mnist"], "MNIST files not found under '{tmp}/mnist'.*--download"),
    ],
)
def test_train_rejects_bad_input_before_writing(capsys, tmp_path, args, message):
    out = tmp_path / "out"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, stdout, stderr = run(capsys, "train", *args, "--out", out)
    assert code == 2
    assert stderr.startswith("hqnn train: error: ")
    assert re.search(message.replace("{tmp}", str(tmp_path)), stderr)
    assert not out.exists() and stdout == ""


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--qubits", "30"], "--qubits 30 (the statevector simulation) needs"),
        (["--shots", str(10**12)], "the largest that fits is --shots "),
        (["--ddp", "64"], "but this machine has 2 usable cores: the largest that fits is --ddp 2"),
    ],
)
def test_train_refuses_what_does_not_fit_before_making_the_run_folder(capsys, tmp_path, monkeypatch, flags, message):
    monkeypatch.setattr(hqnn.app.admission, "available_bytes", lambda: 8 * 2**30)
    monkeypatch.setattr(hqnn.app.admission, "usable_cores", lambda: 2)
    out = tmp_path / "run"
    assert main(["train", *flags, "--out", str(out)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("hqnn train: error: ") and message in stderr
    assert not out.exists()


def test_train_refuses_an_out_inside_a_file(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / "run"
    code, stdout, stderr = run(capsys, "train", *SHORT, "--out", out)
    assert code == 2 and stdout == ""
    assert stderr == f"hqnn train: error: --out {out} is inside {tmp_path / 'notes.txt'}, which is a file, not a folder: pick another --out\n"
    code, _, stderr = run(capsys, "train", *SHORT, "--out", tmp_path / "notes.txt")
    assert code == 2 and f"--out {tmp_path / 'notes.txt'} is a file, not a folder" in stderr


def test_train_refuses_a_read_only_out_before_training(capsys, tmp_path, monkeypatch):
    """What a read-only mount answers (chmod does not stop root, so the file system's answer is simulated)."""
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if Path(dir) == tmp_path:
            raise OSError(errno.EROFS, "Read-only file system", str(tmp_path))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(hqnn.app.train, "train_model", lambda *a, **k: pytest.fail("trained before checking --out"))
    code, stdout, stderr = run(capsys, "train", *SHORT, "--out", tmp_path / "run")
    assert code == 2 and stdout == ""
    assert f"--out {tmp_path / 'run'} is not writable (Read-only file system in {tmp_path}): pick another --out" in stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("failing_write, survivor_epoch", [(2, 1), (3, 2)])  # epoch 2's checkpoint; metrics.json
def test_disk_full_is_named_and_the_last_checkpoint_survives(capsys, tmp_path, monkeypatch, failing_write, survivor_epoch):
    real_fsync, writes = os.fsync, []

    def full_disk(fd):
        writes.append(fd)
        if len(writes) == failing_write:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "train", *SHORT, "--out", out)
    monkeypatch.undo()
    assert code == 2 and f"hqnn train: error: no space left on device while writing {out / ('model.pt' if failing_write == 2 else 'metrics.json')}: " in stderr
    assert f"free some space, then `hqnn train --resume {out}` continues" in stderr and "Traceback" not in stderr
    assert load_checkpoint(out / "model.pt").epoch == survivor_epoch
    assert not list(out.glob(".*.tmp"))


def test_garbage_mnist_files_are_named(capsys, tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"this is not an IDX file")
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "train", "--data", "torchvision", "--data-root", tmp_path / "mnist", "--out", out)
    assert code == 2
    assert f"error: {raw / 'train-images-idx3-ubyte'} is not a valid MNIST IDX file (AssertionError)" in stderr
    assert not out.exists()


def test_more_digits_default_to_nll_and_a_faster_rate(capsys, tmp_path):
    tiny = ["--digits", "0", "1", "2", "--train-per-class", "4", "--test-per-class", "2", "--backend", "classical", "--epochs", "1"]
    code, _, _ = run(capsys, "train", *tiny, "--out", tmp_path / "three")
    assert code == 0
    config = json.loads((tmp_path / "three" / "metrics.json").read_text())["config"]
    assert (config["loss"], config["lr"]) == ("nll", 0.005)


def test_train_refuses_a_non_empty_out_unless_forced(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, stderr = run(capsys, "train", *SHORT, "--out", tmp_path)
    assert code == 2 and f"--out {tmp_path} exists and is not empty: pass --force" in stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    tiny = ["--epochs", "1", "--train-per-class", "4", "--test-per-class", "2", "--backend", "classical"]
    code, stdout, _ = run(capsys, "train", *tiny, "--out", tmp_path, "--force")
    assert code == 0 and "classical head" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FILES, "notes.txt"])


def test_interrupted_training_exits_130_and_says_where_the_checkpoint_is(capsys, tmp_path, monkeypatch):
    real_save, saves = hqnn.app.train.save_checkpoint, []

    def interrupted_in_epoch_2(*args, **kwargs):  # Ctrl-C arrives just before epoch 2's checkpoint
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(hqnn.app.train, "save_checkpoint", interrupted_in_epoch_2)
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "train", *SHORT, "--out", out)
    assert code == 130 and f"interrupted: {out / 'model.pt'} holds the last finished epoch" in stderr
    assert f"continue with `hqnn train --resume {out}`" in stderr
    assert load_checkpoint(out / "model.pt").epoch == 1

    def interrupted_at_once(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hqnn.app.train, "train_model", interrupted_at_once)
    code, _, stderr = run(capsys, "train", *SHORT, "--out", tmp_path / "early")
    assert code == 130 and f"interrupted before the first epoch finished: nothing to resume in {tmp_path / 'early'}" in stderr


def test_bad_checkpoints_and_images(capsys, tmp_path, trained):
    out, _ = trained
    code, _, stderr = run(capsys, "evaluate", "--checkpoint", tmp_path / "missing.pt")
    assert code == 2 and "missing.pt' does not exist: train one with `hqnn train`" in stderr
    (tmp_path / "torn.pt").write_bytes((out / "model.pt").read_bytes()[:500])
    code, _, stderr = run(capsys, "predict", "--checkpoint", tmp_path / "torn.pt", tmp_path / "x.png")
    assert code == 2 and "torn.pt' is corrupt or not a torch file" in stderr
    (tmp_path / "x.png").write_text("not an image")
    code, stdout, stderr = run(capsys, "predict", "--checkpoint", out / "model.pt", tmp_path / "x.png")
    assert code == 2 and "cannot read image" in stderr and "x.png" in stderr and stdout == ""
    code, _, stderr = run(capsys, "predict", "--checkpoint", out / "model.pt")
    assert code == 2 and "the following arguments are required: FILE" in stderr
    (tmp_path / "bomb.png").write_bytes(png_header(15000, 15000))
    code, stdout, stderr = run(capsys, "predict", "--checkpoint", out / "model.pt", tmp_path / "bomb.png")
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    assert f"cannot read image '{tmp_path / 'bomb.png'}': Image size (225000000 pixels) exceeds limit" in stderr


def test_argparse_errors_name_the_choices(capsys):
    code, _, stderr = run(capsys, "train", "--backend", "ibm")
    assert code == 2 and "invalid choice: 'ibm'" in stderr
    code, _, stderr = run(capsys, "train", "--digits", "0", "one")
    assert code == 2 and "invalid int value: 'one'" in stderr
    code, _, stderr = run(capsys, "evaluate", "--threads", "0", "--checkpoint", "model.pt")
    assert code == 2 and "argument --threads: must be ≥ 1, got 0" in stderr


def test_threads_are_set_for_the_command_and_restored(capsys, trained, monkeypatch):
    seen = []
    monkeypatch.setattr(hqnn.app.train, "evaluate", lambda *args: seen.append(torch.get_num_threads()) or Evaluation(1.0, -1.0))
    before = torch.get_num_threads()
    code, _, _ = run(capsys, "evaluate", "--threads", "3", "--checkpoint", trained[0] / "model.pt")
    assert code == 0 and seen == [3] and torch.get_num_threads() == before
