"""What a training run pays: train_executions equals the layer's cost() × steps for every estimator, evaluation
(exact, shots, or as trained) is counted apart and moves neither training's shot noise nor its result, the
first step reaching a target accuracy is recorded, and the command reports it all; the multi-qubit model keeps
dropout away from its periodic encoder."""

import dataclasses
import json

import pytest
import torch

from hqnn.app.checkpoint import load_checkpoint
from hqnn.app.cli import main
from hqnn.app.config import ConfigError, RunConfig
from hqnn.app.data import load_mnist
from hqnn.app.models import build_model
from hqnn.app.train import evaluate, fit

SMALL = RunConfig(digits=(0, 1, 2), qubits=2, reps=1, backend="emulator", shots=20, epochs=1, batch_size=4,
                  train_per_class=8, test_per_class=4)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return load_mnist(SMALL.digits, SMALL.train_per_class, SMALL.test_per_class)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"diff_method": "sampled-shift", "k": 2},
        {"diff_method": "sampled-shift", "k": 1, "shift_shots": 3},
        {"diff_method": "spsa", "directions": 2, "shift_shots": 1},
        {"digits": (0, 1), "qubits": 1},  # the chapter's model: closed form with shots
    ],
)
def test_train_executions_equal_cost_times_steps(data, changes):
    config = dataclasses.replace(SMALL, **changes)
    train, _ = load_mnist(config.digits, config.train_per_class, config.test_per_class)
    model = build_model(config)
    result = fit(model, train, config, progress=False)
    assert result.steps == len(train) // config.batch_size
    assert result.executions == model.head.cost(config.batch_size).executions * result.steps > 0


def test_evaluation_during_training_is_apart_and_records_the_target(data):
    train, test = data
    plain = dataclasses.replace(SMALL, epochs=2)
    watched = dataclasses.replace(plain, eval_every=3, target_accuracy=0.3, eval_shots=None)
    first = fit(model_a := build_model(plain), train, plain, progress=False)
    second = fit(model_b := build_model(watched), train, watched, progress=False, test_set=test)
    assert second.train_loss == first.train_loss and second.executions == first.executions
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)
    assert [c["step"] for c in second.checks] == [3, 6, 9, 12]
    assert [c["executions"] for c in second.checks] == [first.executions * s // 12 for s in (3, 6, 9, 12)]
    reached = second.first_reaching(0.3)
    assert reached == next(c for c in second.checks if c["accuracy"] >= 0.3)
    assert second.first_reaching(1.01) is None and second.first_reaching(None) is None


def test_eval_shots_exact_emulated_or_as_trained(data):
    _, test = data
    model = build_model(SMALL)
    exact = evaluate(model, test, SMALL.loss, shots=0)
    exact_again = evaluate(model, test, SMALL.loss, shots=0)
    assert exact == exact_again and exact.executions == 0
    analytic = build_model(dataclasses.replace(SMALL, backend="analytic"))
    analytic.load_state_dict(model.state_dict())
    assert evaluate(analytic, test, SMALL.loss).loss == pytest.approx(exact.loss, abs=1e-12)
    shots = evaluate(model, test, SMALL.loss, shots=50, seed=1)
    assert shots == evaluate(model, test, SMALL.loss, shots=50, seed=1) and shots.loss != exact.loss
    assert shots.executions == len(test) * 50
    assert evaluate(model, test, SMALL.loss).executions == len(test) * SMALL.shots  # as trained: the layer's own
    assert model.head.strategy.ledger.executions == len(test) * SMALL.shots  # swapped strategies left no trace


def test_the_command_reports_executions_and_the_target(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--digits", "0", "1", "2", "--qubits", "2", "--reps", "1", "--backend", "emulator", "--shots", "10",
            "--train-per-class", "8", "--test-per-class", "4", "--batch-size", "4", "--epochs", "1",
            "--diff-method", "sampled-shift", "--k", "1", "--shift-shots", "2", "--eval-shots", "0",
            "--eval-every", "2", "--target-accuracy", "0.2", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = 1 + 2 * 2 + 2 * 1  # base, ±s on the 2 input angles, ± one sampled weight angle
    assert metrics["train_executions"] == 6 * 4 * (10 + (rows - 1) * 2)
    assert metrics["eval_shots"] == 0 and metrics["eval_executions"] == 0
    assert [c["step"] for c in metrics["checks"]] == [2, 4, 6]
    stdout = capsys.readouterr().out
    assert f"{metrics['train_executions']:,} training executions" in stdout
    if metrics["target_step"] is None:
        assert "target 20.0%: not reached" in stdout
    else:
        assert f"first reached at step {metrics['target_step']}, {metrics['target_executions']:,} executions" in stdout


@pytest.mark.parametrize(
    "changes, flag, words",
    [
        ({"k": 2}, "--k", "applies to --diff-method sampled-shift"),
        ({"diff_method": "spsa", "backend": "analytic"}, "--diff-method", "needs a shot backend"),
        ({"diff_method": "spsa", "shift_shots": 1, "backend": "aer"}, "--shift-shots", "need --backend emulator"),
        ({"diff_method": "spsa", "spsa_c": 4.0}, "--spsa-c", "(0, π]"),
        ({"diff_method": "sampled-shift", "k": 0}, "--k", "whole number ≥ 1"),
        ({"target_accuracy": 0.9}, "--target-accuracy", "give N > 0"),
        ({"eval_every": 5, "target_accuracy": 1.5}, "--target-accuracy", "in (0, 1]"),
        ({"eval_shots": -1}, "--eval-shots", "0 = exact"),
        ({"eval_every": 5, "ddp": 2}, "--eval-every", "one process"),
        ({"diff_method": "magic"}, "--diff-method", "unknown diff method"),
    ],
)
def test_bad_estimator_and_evaluation_flags_are_named(changes, flag, words):
    with pytest.raises(ConfigError) as error:
        dataclasses.replace(SMALL, **changes)
    assert error.value.flag == flag and words in str(error.value)


def test_k_beyond_the_weight_angles_is_refused_by_the_command(tmp_path, capsys):
    args = ["train", "--digits", "0", "1", "2", "--qubits", "2", "--reps", "1", "--backend", "emulator",
            "--diff-method", "sampled-shift", "--k", "9", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 2
    assert "argument --k: sampled-shift k (weight angles shifted per sample) must be a whole number in 1..8" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written
    assert main(["train", "--backend", "emulator", "--diff-method", "spsa", "--out", str(tmp_path / "run")]) == 2
    assert "the chapter's one-qubit model has none" in capsys.readouterr().err


def test_multi_qubit_model_has_no_dropout_before_its_angles():
    model = build_model(SMALL).train()
    images = torch.rand(8, 1, 28, 28)
    seen = []
    hook = model.fc2.register_forward_hook(lambda module, args, out: seen.append(out.detach().clone()))
    model(images)
    model.eval()
    model(images)
    hook.remove()
    assert torch.equal(seen[0], seen[1])  # the encoder sees the same angles in training and evaluation
    chapter = build_model(RunConfig()).train()
    assert isinstance(chapter.dropout, torch.nn.Dropout2d)  # the chapter's model keeps its dropout


def test_stop_at_target_ends_training_at_the_first_check_reaching_it(data, tmp_path):
    train, test = data
    config = dataclasses.replace(SMALL, epochs=3, eval_every=2, eval_shots=0, target_accuracy=0.01, stop_at_target=True)
    result = fit(build_model(config), train, config, checkpoint=tmp_path / "model.pt", progress=False, test_set=test)
    assert result.steps == 2 and len(result.checks) == 1 and len(result.train_loss) == 1
    assert result.executions == build_model(config).head.cost(4).executions * 2
    resumed = fit(build_model(config), train, config, progress=False, test_set=test, resume=load_checkpoint(tmp_path / "model.pt"))
    assert resumed.steps == 2 and resumed.checks == result.checks  # a run that reached its target is finished
    with pytest.raises(ConfigError, match="needs --target-accuracy"):
        dataclasses.replace(SMALL, stop_at_target=True)
