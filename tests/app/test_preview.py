"""``hqnn train --dry-run`` and ``Hybrid.cost``: the jobs, circuits and executions a recipe will submit, printed
in well under a second after the imports, without running or writing anything, and equal to what training then
submits."""

from __future__ import annotations

import json

import time

import pytest

from hqnn.app.cli import main
from hqnn.app.config import RunConfig
from hqnn.app.preview import SHOWN, batches, run_cost
from hqnn.cost import JobCost
from hqnn.executors import AerExecutor, EmulatorExecutor

TEN = ["--digits", *"0123456789", "--qubits", "4", "--batch-size", "16", "--shots", "100", "--backend", "emulator"]


def test_dry_run_prints_per_step_and_per_epoch_fast_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dry-run"]) == 0  # loads the imports
    capsys.readouterr()
    start = time.perf_counter()
    assert main(["train", "--dry-run", *TEN, "--epochs", "10"]) == 0
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert seconds < 0.5, seconds
    lines = out.splitlines()
    assert lines[0].startswith("dry run: the hybrid head (4 qubits, 2 reps, emulator, 100 shots")
    assert "nothing runs, nothing is written" in lines[0]
    step = next(line for line in lines if line.startswith("per step (batch 16)")).split()
    epoch = next(line for line in lines if line.startswith("per epoch (63 steps)")).split()
    assert step[-3:] == ["1", "912", "91,200"]  # 16 samples × 57 rows, 100 shots
    assert epoch[-3:] == ["63", "57,000", "5,700,000"]  # 1,000 samples: 62 batches of 16 and one of 8
    assert any(line.startswith("whole run (10 epochs)") and line.split()[-1] == "57,000,000" for line in lines)
    assert list(tmp_path.iterdir()) == []  # no runs/ folder, nothing written


def test_dry_run_refuses_resume_and_what_does_not_fit(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path), "--dry-run"]) == 2
    assert "drop --dry-run" in capsys.readouterr().err
    assert main(["train", "--dry-run", "--ddp", "10000"]) == 2
    assert "usable cores" in capsys.readouterr().err


def test_batches_match_the_data_loader():
    assert batches(200, 1) == [(1, 200)]
    assert batches(1000, 16) == [(16, 62), (8, 1)]
    assert batches(5, 8) == [(5, 1)]


@pytest.mark.parametrize(
    "flags, executor",
    [
        (["--backend", "aer", "--batch-size", "3"], AerExecutor),
        (["--backend", "emulator", "--digits", "0", "1", "2", "--qubits", "2", "--reps", "1", "--batch-size", "4"], EmulatorExecutor),
    ],
)
def test_dry_run_counts_exactly_what_training_submits(tmp_path, monkeypatch, capsys, flags, executor):
    recipe = [*flags, "--epochs", "2", "--train-per-class", "5", "--test-per-class", "3", "--shots", "20"]
    submitted = []
    real_submit = executor.submit

    real_plan = executor.run_shift_plan

    def counting(self, angles, seed, shots=None):
        circuits = len(angles) * self.circuits_per_row
        submitted.append(JobCost(1, circuits, circuits * self.shots))
        return real_submit(self, angles, seed, shots)

    def counting_plan(self, gamma, shifted, shift):  # the emulator's shift-rule job (half the states simulated)
        circuits = len(gamma) * (1 + 2 * len(shifted)) * self.circuits_per_row
        submitted.append(JobCost(1, circuits, circuits * self.shots))
        return real_plan(self, gamma, shifted, shift)

    monkeypatch.setattr(executor, "submit", counting)
    monkeypatch.setattr(executor, "run_shift_plan", counting_plan)
    assert main(["train", *recipe, "--dry-run"]) == 0
    assert submitted == []  # the dry run submitted nothing
    preview = capsys.readouterr().out
    assert main(["train", *recipe, "--out", str(tmp_path / "run")]) == 0
    total = sum(submitted, JobCost(0, 0, 0))
    args = dict(zip(recipe[::2], recipe[1::2]))
    config = RunConfig(
        backend=args["--backend"],
        batch_size=int(args["--batch-size"]),
        epochs=2,
        train_per_class=5,
        test_per_class=3,
        shots=20,
        **({"digits": (0, 1, 2), "qubits": 2, "reps": 1} if executor is EmulatorExecutor else {}),
    )
    cost = run_cost(config)
    assert cost.run + cost.evaluation == total
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train_executions"] == cost.run.executions  # what the run records is what the preview said
    assert f"{cost.run.executions:,}" in preview and cost.run.jobs == 2 * cost.steps_per_epoch


def test_dry_run_counts_estimators_and_eval_shots_as_the_run_records_them(tmp_path, capsys):
    recipe = ["--backend", "emulator", "--digits", "0", "1", "2", "--qubits", "2", "--reps", "1", "--batch-size", "4"]
    recipe += ["--epochs", "1", "--train-per-class", "5", "--test-per-class", "3", "--shots", "20"]
    recipe += ["--diff-method", "sampled-shift", "--k", "1", "--shift-shots", "2", "--eval-shots", "7"]
    assert main(["train", *recipe, "--dry-run"]) == 0
    preview = capsys.readouterr().out
    assert main(["train", *recipe, "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    config = RunConfig(
        backend="emulator", digits=(0, 1, 2), qubits=2, reps=1, batch_size=4, epochs=1, train_per_class=5,
        test_per_class=3, shots=20, diff_method="sampled-shift", k=1, shift_shots=2, eval_shots=7,
    )
    cost = run_cost(config)
    assert metrics["train_executions"] == cost.run.executions > 0
    assert f"{cost.run.executions:,}" in preview
    shown = min(SHOWN, 9) * 20  # the shown predictions: one Z setting per row, the trained layer's 20 shots
    assert metrics["eval_executions"] == cost.evaluation.executions - shown == 9 * 7  # 9 test digits, 7 shots
