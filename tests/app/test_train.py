"""Training: fit/evaluate, the losses, seeded reproducibility, and checkpoints that survive interrupted writes."""

from __future__ import annotations

import json

import pytest
import torch

from hqnn.app.atomic import atomic_write, write_json
from hqnn.app.checkpoint import load_checkpoint, save_checkpoint
from hqnn.app.config import MULTICLASS_LR, ConfigError, RunConfig
from hqnn.app.data import load_mnist
from hqnn.app.losses import loss_function
from hqnn.app.models import build_model
from hqnn.app.train import evaluate, fit

SHORT = RunConfig(backend="analytic", epochs=2, batch_size=8)


def test_short_recipe_learns_and_checkpoints(tmp_path):
    train, test = load_mnist()
    model = build_model(SHORT)
    result = fit(model, train, SHORT, checkpoint=tmp_path / "model.pt", progress=False)
    assert result.steps == 2 * 25 and len(result.train_loss) == 2
    assert -1 <= result.train_loss[1] < result.train_loss[0] <= 0
    scores = evaluate(model, test, SHORT.loss)
    assert scores.accuracy >= 0.95 and -1 <= scores.loss < -0.8
    restored = load_checkpoint(tmp_path / "model.pt")
    assert restored.epoch == 2 and restored.train_loss == result.train_loss and restored.config == SHORT
    assert evaluate(restored.model, test, SHORT.loss) == scores


def test_same_seed_same_run_other_seed_other_run():
    train, _ = load_mnist(train_per_class=20, test_per_class=1)
    config = RunConfig(backend="emulator", epochs=1, batch_size=4)
    runs = [fit(build_model(c), train, c, progress=False).train_loss for c in (config, config, RunConfig(**{**config.to_dict(), "seed": 1}))]
    assert runs[0] == runs[1] != runs[2]


def test_chapter_loss_is_minus_p_correct_and_nll_is_finite_at_zero():
    probs = torch.tensor([[0.9, 0.1], [0.0, 1.0]])
    target = torch.tensor([0, 0])
    assert float(loss_function("chapter")(probs, target)) == pytest.approx(-(0.9 + 0.0) / 2)
    nll = float(loss_function("nll")(probs, target))
    assert nll == pytest.approx((-torch.log(torch.tensor(0.9)) - torch.log(torch.tensor(1e-12))).item() / 2, rel=1e-5)
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        loss_function("mse")


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    """torch.save dies half-way through epoch 2's checkpoint: epoch 1's stays loadable, no temp file is left."""
    path = tmp_path / "model.pt"
    real_save = torch.save
    calls = []

    def dying_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            return real_save(obj, f, *args, **kwargs)
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("simulated Ctrl-C while saving")

    monkeypatch.setattr(torch, "save", dying_save)
    train, _ = load_mnist(train_per_class=8, test_per_class=1)
    with pytest.raises(KeyboardInterrupt):
        fit(build_model(SHORT), train, SHORT, checkpoint=path, progress=False)
    monkeypatch.undo()
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    assert load_checkpoint(path).epoch == 1


def test_atomic_write_failure_leaves_old_content(tmp_path):
    path = write_json(tmp_path / "metrics.json", {"a": 1})

    def half(f):
        f.write(b'{"a": 2')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_bad_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: train one with `hqnn train`"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(ValueError, match="torn.pt' is corrupt or not a torch file"):
        load_checkpoint(tmp_path / "torn.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an hqnn checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    model = build_model(SHORT)
    save_checkpoint(tmp_path / "classical.pt", model, RunConfig(backend="classical"), 1, [-0.5])
    with pytest.raises(ValueError, match="does not match this hqnn's model"):
        load_checkpoint(tmp_path / "classical.pt")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "epochs must be a whole number ≥ 1, got 0"),
        ("batch_size", -1, "batch size must be a whole number ≥ 1, got -1"),
        ("backend", "ibm", "unknown backend 'ibm'"),
        ("lr", float("nan"), "learning rate must be a finite number > 0"),
        ("shift", 0.0, "sin\\(shift\\) != 0"),
        ("shots", 0, "shots must be a whole number ≥ 1"),
    ],
)
def test_config_rejects(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: value})


def test_config_round_trips_and_rejects_foreign_keys():
    config = RunConfig(digits=(3, 8), backend="emulator", loss="nll")
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"unknown config keys \['width'\]"):
        RunConfig.from_dict({**config.to_dict(), "width": 4})


def test_loss_and_rate_default_by_class_count_and_explicit_values_win():
    assert (RunConfig().loss, RunConfig().lr) == ("chapter", 1e-3)  # the chapter's two digits, unchanged
    assert (RunConfig(qubits=4).loss, RunConfig(qubits=4).lr) == ("chapter", 1e-3)
    ten = RunConfig(digits=tuple(range(10)))
    assert (ten.loss, ten.lr) == ("nll", MULTICLASS_LR) and ten.to_dict()["lr"] == MULTICLASS_LR
    explicit = RunConfig(digits=(1, 2, 3), loss="chapter", lr=0.01)
    assert (explicit.loss, explicit.lr) == ("chapter", 0.01)
    assert RunConfig.from_dict(ten.to_dict()) == ten


def test_config_errors_name_their_field():
    with pytest.raises(ConfigError, match="seed must be a whole number ≥ 0") as caught:
        RunConfig(seed=-1)
    assert caught.value.flag == "--seed"
    with pytest.raises(ConfigError, match="unknown digit 12") as caught:
        RunConfig(digits=(0, 12))
    assert caught.value.flag == "--digits"
    with pytest.raises(ConfigError, match="shots must be a whole number ≥ 1 and ≤ 2\\^62"):
        RunConfig(shots=2**70)
