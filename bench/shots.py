"""The ``shots`` table: training executions (circuits × shots) to first reach 85 % test accuracy (exact
evaluation every 25 steps) on the README's ten-digit recipe, per seed, for each gradient estimator and shot
count. Every run is one ``hqnn train`` process (one thread), at most ``parallel`` at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RECIPE = [
    "--digits", *map(str, range(10)), "--qubits", "4", "--train-per-class", "400", "--test-per-class", "100",
    "--batch-size", "16", "--backend", "emulator", "--eval-shots", "0", "--eval-every", "25",
    "--target-accuracy", "0.85", "--stop-at-target",
]  # fmt: skip
#: name → extra flags: plain shift and each estimator, alone and with shot allocation (2 shots on every
#: shifted row, the base rows keep --shots).
ESTIMATORS = {
    "shift": [],
    "sampled-shift k=1": ["--diff-method", "sampled-shift", "--k", "1"],
    "spsa": ["--diff-method", "spsa"],
    "sampled-shift k=1, shift-shots 2": ["--diff-method", "sampled-shift", "--k", "1", "--shift-shots", "2"],
    "spsa, shift-shots 2": ["--diff-method", "spsa", "--shift-shots", "2"],
}
SHOTS = (10, 100, 1000)
SEEDS = (0, 1, 2, 3, 4)


def run_one(out: Path, flags: list[str], shots: int, seed: int, epochs: int, extra: list[str] = ()) -> dict:
    """One training run (``extra`` flags last: they win); its metrics.json."""
    command = [str(Path(sys.executable).parent / "hqnn"), "train", *RECIPE, "--shots", str(shots), "--seed", str(seed)]
    command += ["--epochs", str(epochs), "--out", str(out), "--force", "--threads", "1", *flags, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((out / "metrics.json").read_text())


def directory(root: Path, name: str, shots: int, seed: int) -> Path:
    return root / f"{name.replace(' ', '_').replace(',', '').replace('=', '')}-{shots}-{seed}"


def measure(
    root: Path,
    estimators: dict = ESTIMATORS,
    shots=SHOTS,
    seeds=SEEDS,
    epochs: int = 20,
    parallel: int = 2,
    extra: list[str] = (),
) -> list[dict]:
    """Every (estimator, shots, seed) run under ``root``; rows of the table (cached runs are read back)."""
    jobs = [(name, n, seed) for name in estimators for n in shots for seed in seeds]

    def one(job):
        name, n, seed = job
        out = directory(root, name, n, seed)
        metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else None
        if metrics is None:
            metrics = run_one(out, estimators[name], n, seed, epochs, list(extra))
        return {
            "estimator": name, "shots": n, "seed": seed, "accuracy": metrics["test_accuracy"],
            "target_executions": metrics["target_executions"], "train_executions": metrics["train_executions"],
            "steps": metrics["steps"],
        }  # fmt: skip

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, jobs))


def table(rows: list[dict]) -> str:
    """Markdown: per estimator and shots, executions to 85 % per seed (— never) and the exact accuracy when the
    run ended (at the target, or after its last epoch)."""
    lines = [
        "| estimator | shots | executions to 85 % (seeds 0–4) | reached | accuracy at the end (min–max) |",
        "|---|---:|---|---:|---|",
    ]
    order = list(ESTIMATORS)
    keys = sorted({(r["estimator"], r["shots"]) for r in rows}, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    for name, n in keys:
        runs = sorted((r for r in rows if (r["estimator"], r["shots"]) == (name, n)), key=lambda r: r["seed"])
        spent = " / ".join(_millions(r["target_executions"]) for r in runs)
        reached = sum(r["target_executions"] is not None for r in runs)
        accuracy = [r["accuracy"] for r in runs]
        lines.append(f"| {name} | {n} | {spent} | {reached}/{len(runs)} | {min(accuracy):.1%}–{max(accuracy):.1%} |")
    return "\n".join(lines)


def _millions(executions: int | None) -> str:
    return "—" if executions is None else f"{executions / 1e6:.2f} M"


if __name__ == "__main__":
    rows = measure(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/shots"))
    print(table(rows))
