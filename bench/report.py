"""Turn one pytest-benchmark JSON into ``bench/RESULTS.md``: per-sample times, ratios to hqnn, the targets.

Usage: ``python bench/report.py results.json [RESULTS.md]``. Every figure is a median over rounds of one run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/shots.py

#: (what, numerator, denominator, bound, "≥" or "≤"); keys are (group, system, batch[, dtype or qubits]).
TARGETS = [
    ("B=256 per sample: qiskit-machine-learning / hqnn Aer", ("baselines", "qiskit-machine-learning", 256),
     ("layer", "aer", 256), 20, "≥"),
    ("B=256 per sample: chapter's algorithm / hqnn Aer", ("baselines", "chapter", 1), ("layer", "aer", 256), 2000, "≥"),
    ("B=1 step: qiskit-machine-learning / hqnn Aer", ("baselines", "qiskit-machine-learning", 1), ("layer", "aer", 1), 5, "≥"),
    ("B=4096: hqnn Aer / hqnn emulator", ("layer", "aer", 4096), ("layer", "emulator", 4096), 100, "≥"),
    ("B=10^6 float64: analytic fwd+bwd / torch.sin(x)+torch.cos(x)", ("million", "analytic", 1_000_000, "float64"),
     ("million", "torch-sin-cos", 1_000_000, "float64"), 1.5, "≤"),
    ("4 qubits B=256 exact: PennyLane default.qubit / hqnn", ("scale", "pennylane", 256, 4),
     ("scale", "hqnn-exact", 256, 4), 2, "≥"),
    ("8 qubits B=256 exact: PennyLane default.qubit / hqnn", ("scale", "pennylane", 256, 8),
     ("scale", "hqnn-exact", 256, 8), 2, "≥"),
    ("8 qubits B=256: hqnn emulator (1000 shots) / hqnn exact", ("scale", "hqnn-emulator", 256, 8),
     ("scale", "hqnn-exact", 256, 8), 3, "≤"),
    ("chapter recipe epoch: Aer / classical head", ("training", "aer", 1), ("training", "classical", 1), 2.5, "≤"),
    ("chapter recipe epoch: analytic / classical head", ("training", "analytic", 1), ("training", "classical", 1), 1.2, "≤"),
    ("chapter recipe epoch: emulator / classical head", ("training", "emulator", 1), ("training", "classical", 1), 1.2, "≤"),
]


def load(path: str | Path) -> tuple[dict, dict]:
    """(machine info, {key: benchmark}) with key (group, system, batch) plus dtype when recorded."""
    data = json.loads(Path(path).read_text())
    runs = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        key = (bench["group"], info["system"], info["batch"]) + tuple(info[k] for k in ("dtype", "qubits") if k in info)
        runs[key] = bench
    return {**data["machine_info"], "datetime": data.get("datetime")}, runs


def per_sample(bench: dict) -> float:
    return bench["stats"]["median"] / bench["extra_info"]["samples"]


def seconds(value: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def layer_table(runs: dict) -> list[str]:
    reference = {k[2]: per_sample(b) for k, b in runs.items() if k[:2] == ("layer", "aer")}
    lines = [
        "| system | batch | per round | per sample | per sample / hqnn Aer at that batch (256 for B=1 baselines) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in sorted((k for k in runs if k[0] in ("layer", "baselines")), key=lambda k: (k[0] != "layer", k[1], k[2])):
        bench = runs[key]
        ref = reference.get(key[2] if key[0] == "layer" or key[2] != 1 else 256)
        ratio = f"{per_sample(bench) / ref:.3g}×" if ref else "–"
        lines.append(f"| {key[1]} | {key[2]} | {seconds(bench['stats']['median'])} | {seconds(per_sample(bench))} | {ratio} |")
    return lines


def simple_table(runs: dict, group: str, reference: tuple) -> list[str]:
    ref = runs.get(reference)
    lines = [f"| system | size | per round | ratio to {reference[1]} |", "|---|---|---:|---:|"]
    for key in sorted(k for k in runs if k[0] == group):
        median = runs[key]["stats"]["median"]
        ratio = f"{median / ref['stats']['median']:.3g}×" if ref else "–"
        size = f"{runs[key]['extra_info']['samples']} samples" + (f", {key[3]}" if len(key) > 3 else "")
        lines.append(f"| {key[1]} | {size} | {seconds(median)} | {ratio} |")
    return lines


def scale_table(runs: dict) -> list[str]:
    """Per (qubits, batch): each system's time and PennyLane's time over it."""
    lines = ["| qubits | batch | hqnn exact | hqnn emulator (1000 shots) | PennyLane default.qubit | PennyLane / hqnn exact |",
             "|---:|---:|---:|---:|---:|---:|"]
    for qubits, batch in sorted({(k[3], k[2]) for k in runs if k[0] == "scale"}):
        median = {s: runs[("scale", s, batch, qubits)]["stats"]["median"]
                  for s in ("hqnn-exact", "hqnn-emulator", "pennylane") if ("scale", s, batch, qubits) in runs}
        cells = [seconds(median[s]) if s in median else "–" for s in ("hqnn-exact", "hqnn-emulator", "pennylane")]
        ratio = f"{median['pennylane'] / median['hqnn-exact']:.3g}×" if {"pennylane", "hqnn-exact"} <= set(median) else "–"
        lines.append(f"| {qubits} | {batch} | {' | '.join(cells)} | {ratio} |")
    return lines


def target_table(runs: dict) -> list[str]:
    lines = ["| target | measured | bound | result |", "|---|---:|---:|---|"]
    for what, top, bottom, bound, sense in TARGETS:
        if top not in runs or bottom not in runs:
            lines.append(f"| {what} | not run | {sense} {bound} | – |")
            continue
        ratio = per_sample(runs[top]) / per_sample(runs[bottom])
        ok = ratio >= bound if sense == "≥" else ratio <= bound
        lines.append(f"| {what} | {ratio:.3g}× | {sense} {bound}× | {'pass' if ok else 'MISS'} |")
    twelve = runs.get(("scale", "hqnn-exact", 32, 12))
    if twelve:
        step = twelve["stats"]["median"]
        lines.append(f"| 12 qubits B=32 exact forward+backward | {seconds(step)} | ≤ 2 s | {'pass' if step <= 2 else 'MISS'} |")
    aer1 = runs.get(("layer", "aer", 1))
    if aer1:
        step = aer1["stats"]["median"]
        lines.append(f"| B=1 Aer layer forward+backward (one job) | {seconds(step)} | ≤ 1.5 ms | {'pass' if step <= 1.5e-3 else 'MISS'} |")
    check = next((b for k, b in runs.items() if k[1] == "emulator-vs-aer-chi2"), None)
    if check:
        p = check["extra_info"]["p_value"]
        lines.append(f"| two-sample χ² emulator vs Aer, B={check['extra_info']['batch']} | p = {p:.3g} | > 1e-3 | {'pass' if p > 1e-3 else 'MISS'} |")
    return lines


def shots_lines(runs: dict) -> list[str]:
    """The README's shots table from the ``shots`` group's recorded rows (empty when that group did not run)."""
    bench = next((b for k, b in runs.items() if k[0] == "shots"), None)
    if bench is None:
        return ["(group `shots` did not run)"]
    from shots import table

    return [table(bench["extra_info"]["rows"]), "", f"(the whole table: {seconds(bench['stats']['median'])})"]


def machine_lines(machine: dict) -> list[str]:
    cpu = machine.get("cpu", {})
    return [
        f"- run: {machine.get('datetime')}",
        f"- CPU: {cpu.get('brand_raw', machine.get('processor'))}, {machine.get('cores')} cores, "
        f"load average at start {tuple(round(x, 2) for x in machine.get('load_average', ()))}",
        f"- Python {machine.get('python_version')} on {machine.get('platform')}",
        f"- libraries: {', '.join(f'{k} {v}' for k, v in machine.get('libraries', {}).items())}",
        f"- threads: torch {machine.get('torch_threads')}, numba {machine.get('numba_threads')}, Aer 1 (all systems)",
    ]


def report(path: str | Path) -> str:
    machine, runs = load(path)
    parts = [
        "# Benchmark results",
        "",
        "From ONE `make bench` run (pytest-benchmark, medians over rounds): ratios come from the same run and",
        "the same machine, so they are comparable; absolute times move with the machine's load.",
        "Groups `layer`, `baselines`, `million`, `training`: the chapter circuit H·RY(θ), 100 shots, forward + backward.",
        "",
        "## Targets",
        "",
        *target_table(runs),
        "",
        "## Layer and baselines (group `layer`, `baselines`)",
        "",
        *layer_table(runs),
        "",
        "## Multi-qubit circuits (group `scale`: RY encoder + 3 × (RY, RZ, CX chain), ⟨Z⟩ per qubit, forward + "
        "backward by inputs and weights)",
        "",
        *scale_table(runs),
        "",
        "## qiskit-machine-learning's zz_feature_map + real_amplitudes model, B = 64, 1000 shots (group `qml-model`)",
        "",
        "TorchConnector + EstimatorQNN on Aer's EstimatorV2 (precision 1/√1000), against the same QNN moved to hqnn "
        "with `from_qnn` on an AerSimulator (1000 real shots, one job per forward + backward).",
        "",
        *simple_table(runs, "qml-model", ("qml-model", "qiskit-machine-learning", 64)),
        "",
        "## Analytic at B = 10^6 (group `million`)",
        "",
        *simple_table(runs, "million", ("million", "torch-sin-cos", 1_000_000, "float64")),
        "",
        "## One epoch of the chapter's recipe (group `training`: 200 images, batch 1, Adam)",
        "",
        *simple_table(runs, "training", ("training", "classical", 1)),
        "",
        "## Training executions to 85 % on the ten-digit recipe (group `shots`, bench/shots.py)",
        "",
        *shots_lines(runs),
        "",
        "## Machine",
        "",
        *machine_lines(machine),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str]) -> None:
    if not 1 <= len(argv) <= 2:
        sys.exit("usage: python bench/report.py results.json [RESULTS.md]")
    text = report(argv[0])
    print(text)
    if len(argv) == 2:
        Path(argv[1]).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
