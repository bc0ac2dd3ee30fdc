"""The multi-qubit model on ten digits and data-parallel training, end to end through the ``hqnn`` command."""

import json

from hqnn.app.checkpoint import load_checkpoint
from hqnn.app.cli import main

TEN_DIGITS = ["--digits", *map(str, range(10))]


def test_ten_digits_learn_well_above_chance(tmp_path):
    out = tmp_path / "ten"
    recipe = ["--qubits", "4", "--reps", "1", "--backend", "analytic", "--train-per-class", "100"]
    recipe += ["--test-per-class", "20", "--epochs", "4", "--batch-size", "16", "--lr", "0.005", "--loss", "nll"]
    assert main(["train", *TEN_DIGITS, *recipe, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.3, metrics  # chance is 0.1
    checkpoint = load_checkpoint(out / "model.pt")
    assert checkpoint.model.head.spec.n_outputs == 4 and checkpoint.config.qubits == 4


def test_two_process_training_writes_one_run(tmp_path):
    out = tmp_path / "ddp"
    assert main(["train", "--ddp", "2", "--backend", "emulator", "--epochs", "2", "--batch-size", "8", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["ddp"] == 2
    assert metrics["steps"] == 2 * 13  # each process: 100 of the 200 images, batches of 8
    assert metrics["test_accuracy"] >= 0.9
    assert load_checkpoint(out / "model.pt").epoch == 2
