"""The ``hqnn`` command end to end: train a short recipe, read it back with evaluate and predict, reject bad input."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hqnn.cli
from hqnn.cli import main
from hqnn.data import load_mnist
from hqnn.train import Evaluation

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
        (["--train-per-class", "480"], "500 images of each digit"),
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
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hqnn.cli, "train_model", interrupted)
    code, _, stderr = run(capsys, "train", *SHORT, "--out", tmp_path / "run")
    assert code == 130 and f"interrupted: {tmp_path / 'run' / 'model.pt'} holds the last finished epoch" in stderr


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


def test_argparse_errors_name_the_choices(capsys):
    code, _, stderr = run(capsys, "train", "--backend", "ibm")
    assert code == 2 and "invalid choice: 'ibm'" in stderr
    code, _, stderr = run(capsys, "train", "--digits", "0", "one")
    assert code == 2 and "invalid int value: 'one'" in stderr
    code, _, stderr = run(capsys, "evaluate", "--threads", "0", "--checkpoint", "model.pt")
    assert code == 2 and "argument --threads: must be ≥ 1, got 0" in stderr


def test_threads_are_set_for_the_command_and_restored(capsys, trained, monkeypatch):
    seen = []
    monkeypatch.setattr(hqnn.cli, "evaluate", lambda *args: seen.append(torch.get_num_threads()) or Evaluation(1.0, -1.0))
    before = torch.get_num_threads()
    code, _, _ = run(capsys, "evaluate", "--threads", "3", "--checkpoint", trained[0] / "model.pt")
    assert code == 0 and seen == [3] and torch.get_num_threads() == before
