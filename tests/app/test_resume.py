"""``hqnn train --resume``: a run interrupted after epoch 2 of 4 (Ctrl-C, or SIGKILL) and resumed ends with the
same metrics.json and weights as an uninterrupted run, shot noise included; ``hqnn evaluate`` repeats the
run's test loss; checkpoints store every RNG state in a form ``torch.load(weights_only=True)`` reads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import hqnn.app.train
from hqnn.app.checkpoint import load_checkpoint, restored, save_checkpoint, storable
from hqnn.app.cli import main
from hqnn.app.config import RunConfig
from hqnn.app.data import load_mnist
from hqnn.layer import Hybrid
from hqnn.app.models import build_model
from hqnn.app.train import evaluate

# A shot backend, so a resumed run only matches if the shot-noise stream continues where it stopped.
RECIPE = ["--backend", "emulator", "--epochs", "4", "--train-per-class", "100", "--test-per-class", "10", "--batch-size", "2"]


def train(*argv) -> int:
    return main(["train", *map(str, argv)])


def metrics(out: Path) -> dict:
    data = json.loads((out / "metrics.json").read_text())
    data.pop("train_seconds")  # wall-clock time, the one field that may differ
    return data


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    assert train(*RECIPE, "--out", out) == 0
    return out


def assert_same_run(resumed: Path, whole: Path) -> None:
    assert metrics(resumed) == metrics(whole)
    a, b = load_checkpoint(resumed / "model.pt"), load_checkpoint(whole / "model.pt")
    assert a.epoch == b.epoch == 4 and a.training.steps == b.training.steps == 400
    for key, value in b.model.state_dict().items():
        assert torch.equal(a.model.state_dict()[key], value), key


def interrupt_at_checkpoint(patch, number: int) -> None:
    """Ctrl-C at the ``number``-th checkpoint, before it is written (``patch``: a monkeypatch context)."""
    real_save, saves = hqnn.app.train.save_checkpoint, []

    def interrupt(*args, **kwargs):
        saves.append(1)
        if len(saves) == number:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    patch.setattr(hqnn.app.train, "save_checkpoint", interrupt)


def test_interrupted_in_epoch_3_then_resumed_equals_uninterrupted(uninterrupted, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at_checkpoint(patch, 3)  # at the end of epoch 3, before its checkpoint
        assert train(*RECIPE, "--out", out) == 130
    assert load_checkpoint(out / "model.pt").epoch == 2 and not (out / "metrics.json").exists()
    stale = out / ".model.pt.k1ll3d_x.tmp"  # what a write killed half-way leaves
    stale.write_bytes(b"PK\x03\x04 half a zip")
    capsys.readouterr()
    assert train("--resume", out) == 0
    stdout = capsys.readouterr().out
    assert f"after epoch 2/4 → {out} (removed 1 temp file of a killed write)" in stdout
    assert not stale.exists()
    assert_same_run(out, uninterrupted)


def test_killed_process_then_resumed_equals_uninterrupted(uninterrupted, tmp_path):
    script = shutil.which("hqnn", path=str(Path(sys.executable).parent))
    out = tmp_path / "run"
    child = subprocess.Popen([script, "train", *RECIPE, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "model.pt").exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(out / "model.pt").epoch
    assert 1 <= killed_at < 4 and not (out / "metrics.json").exists()
    assert train("--resume", out) == 0
    assert_same_run(out, uninterrupted)


def test_evaluate_repeats_the_runs_test_loss_on_a_shot_backend(uninterrupted, capsys):
    recorded = json.loads((uninterrupted / "metrics.json").read_text())
    checkpoint = load_checkpoint(uninterrupted / "model.pt")
    _, test = load_mnist(train_per_class=100, test_per_class=10)
    assert evaluate(checkpoint.model, test, checkpoint.config.loss).loss == recorded["test_loss"]
    assert main(["evaluate", "--checkpoint", str(uninterrupted / "model.pt")]) == 0
    assert f"test loss {recorded['test_loss']:.4f}" in capsys.readouterr().out
    fresh = build_model(checkpoint.config)  # the same weights with a freshly seeded shot stream
    fresh.load_state_dict(checkpoint.model.state_dict())
    assert evaluate(fresh, test, checkpoint.config.loss).loss != recorded["test_loss"]


def test_resume_refuses_other_flags_missing_runs_and_old_checkpoints(uninterrupted, tmp_path, capsys):
    assert train("--resume", uninterrupted, "--lr", "0.1", "--force") == 2
    assert "--resume continues the run's own recipe: drop --lr, --force" in capsys.readouterr().err
    assert train("--resume", tmp_path / "nothing") == 2
    assert "--resume" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert train("--resume", tmp_path / "empty") == 2
    assert "no model.pt in it (no epoch of that run finished)" in capsys.readouterr().err

    old = tmp_path / "old"
    old.mkdir()
    payload = torch.load(uninterrupted / "model.pt", weights_only=True)
    format_1 = {key: payload[key] for key in ("config", "epoch", "train_loss", "state_dict")}
    torch.save({**format_1, "format": "hqnn-checkpoint/1"}, old / "model.pt")
    assert load_checkpoint(old / "model.pt").training is None  # evaluate and predict still read it
    assert main(["evaluate", "--checkpoint", str(old / "model.pt")]) == 0
    capsys.readouterr()
    assert train("--resume", old) == 2
    assert "written by an older hqnn (format 1), without optimizer and RNG state" in capsys.readouterr().err
    assert not (old / "metrics.json").exists()


def test_resume_of_a_finished_run_only_reevaluates(uninterrupted, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(uninterrupted, out)
    (out / "metrics.json").unlink()
    assert train("--resume", out) == 0
    assert metrics(out) == metrics(uninterrupted)


def test_opaque_rng_states_survive_weights_only_loading(tmp_path, monkeypatch):
    """The layer's rng_state is opaque: numpy bit-generator dicts (arrays inside), torch uint8 tensors, tuples."""
    state = {
        "executor": np.random.MT19937(5).state,
        "pcg": np.random.default_rng(7).bit_generator.state,
        "torch": torch.Generator().manual_seed(3).get_state(),
        "counts": (np.int64(2**40), np.float32(0.5), np.zeros((2, 0))),
    }
    given = []
    monkeypatch.setattr(Hybrid, "rng_state", lambda self: state)
    monkeypatch.setattr(Hybrid, "set_rng_state", lambda self, s: given.append(s))
    config = RunConfig(backend="emulator")
    save_checkpoint(tmp_path / "model.pt", build_model(config), config, 1, [-0.5])
    torch.load(tmp_path / "model.pt", weights_only=True)
    load_checkpoint(tmp_path / "model.pt")
    (back,) = given
    assert back["executor"]["state"]["key"].dtype == np.uint32
    np.testing.assert_array_equal(back["executor"]["state"]["key"], state["executor"]["state"]["key"])
    assert back["pcg"] == state["pcg"] and torch.equal(back["torch"], state["torch"])
    assert back["counts"][0] == 2**40 and type(back["counts"][0]) is np.int64 and back["counts"][2].shape == (2, 0)
    continued = np.random.MT19937()
    continued.state = restored(storable(state))["executor"]
    assert np.random.Generator(continued).random() == np.random.Generator(np.random.MT19937(5)).random()
    with pytest.raises(TypeError, match="cannot store a set in a checkpoint"):
        storable({"bad": {1, 2}})
