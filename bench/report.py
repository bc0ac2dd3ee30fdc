"""Turn one pytest-benchmark JSON into ``bench/RESULTS.md``: per-sample times, ratios to hqnn, the targets.

Usage: ``python bench/report.py results.json [RESULTS.md]``. Every figure is a median over rounds of one run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/shots.py, bench/twin.py

from twin import SYSTEM as TWIN

#: (what, numerator, denominator, bound, "≥" or "≤"); keys are (group, system, batch[, dtype or qubits]).
TARGETS = [
    ("B=256 per sample: qiskit-machine-learning / hqnn Aer", ("baselines", "qiskit-machine-learning", 256),
     ("layer", "aer", 256), 20, "≥"),
    ("B=256 per sample: chapter's algorithm / hqnn Aer", ("baselines", "chapter", 1), ("layer", "aer", 256), 2000, "≥"),
    ("B=1 step: qiskit-machine-learning / hqnn Aer", ("baselines", "qiskit-machine-learning", 1), ("layer", "aer", 1), 5, "≥"),
    ("chapter B=1 Aer step / raw Aer job", ("layer", "aer", 1), ("layer", "aer-raw-job", 1), 1.2, "≤"),
    ("chapter B=1 Aer step / the same job run inline", ("layer", "aer", 1), ("layer", "aer-inline-job", 1), 1.2, "≤"),
    ("B=4096: hqnn Aer / hqnn emulator", ("layer", "aer", 4096), ("layer", "emulator", 4096), 100, "≥"),
    ("B=10^6 float64: analytic fwd+bwd / torch.sin(x)+torch.cos(x)", ("million", "analytic", 1_000_000, "float64"),
     ("million", "torch-sin-cos", 1_000_000, "float64"), 1.5, "≤"),
    ("4 qubits B=256 exact: PennyLane default.qubit / hqnn", ("scale", "pennylane", 256, 4, "layered"),
     ("scale", "hqnn-exact", 256, 4, "layered"), 2, "≥"),
    ("8 qubits B=256 exact: PennyLane default.qubit / hqnn", ("scale", "pennylane", 256, 8, "layered"),
     ("scale", "hqnn-exact", 256, 8, "layered"), 2, "≥"),
    ("8 qubits B=256: hqnn emulator (1000 shots) / hqnn exact", ("scale", "hqnn-emulator", 256, 8, "layered"),
     ("scale", "hqnn-exact", 256, 8, "layered"), 3, "≤"),
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
        key = (bench["group"], info["system"], info["batch"]) + tuple(
            info[k] for k in ("dtype", "qubits", "family") if k in info
        )
        runs[key] = bench
    return {**data["machine_info"], "datetime": data.get("datetime")}, runs


def per_sample(bench: dict) -> float:
    return bench["stats"]["median"] / bench["extra_info"]["samples"]


def paired_ratio(top: dict, bottom: dict) -> float:
    """top / bottom per sample; from the pairs interleaved in one test when either recorded the other's median
    (``extra_info["interleaved"]``: the machine's load drifts between tests)."""
    top_info, bottom_info = top["extra_info"], bottom["extra_info"]
    if bottom_info["system"] in top_info.get("interleaved", {}):
        return top["stats"]["median"] / top_info["interleaved"][bottom_info["system"]]
    if top_info["system"] in bottom_info.get("interleaved", {}):
        return bottom_info["interleaved"][top_info["system"]] / bottom["stats"]["median"]
    return per_sample(top) / per_sample(bottom)


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


SCALE_SYSTEMS = ("hqnn-exact", "hqnn-emulator", "tensorcircuit", "lightning", "pennylane")
#: Peers of the exact path, with the least ratio peer / hqnn exact the targets ask for.
PEER_BOUNDS = (("tensorcircuit", "tensorcircuit-ng (JAX)", 1.0), ("lightning", "lightning.qubit", 2.0),
               ("pennylane", "default.qubit", 2.0))


def scale_medians(runs: dict) -> dict:
    """{(family, qubits, batch): {system: median seconds}} of group ``scale``."""
    out: dict = {}
    for key, bench in runs.items():
        if key[0] == "scale":
            family = key[4] if len(key) > 4 else "layered"
            out.setdefault((family, key[3], key[2]), {})[key[1]] = bench["stats"]["median"]
    return out


def scale_table(runs: dict, family: str) -> list[str]:
    """Per (qubits, batch) of one circuit family: each system's time, each peer's time over hqnn exact's, and
    tensorcircuit-ng's compile time (its first call: paid once per shape)."""
    lines = ["| qubits | batch | hqnn exact | hqnn emulator (1000 shots) | tensorcircuit-ng (JAX) | lightning.qubit "
             "(adjoint) | default.qubit | tensorcircuit-ng / hqnn | lightning / hqnn | default.qubit / hqnn | "
             "tensorcircuit-ng compile |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    medians = scale_medians(runs)
    for (fam, qubits, batch) in sorted(k for k in medians if k[0] == family):
        median = medians[(fam, qubits, batch)]
        cells = [seconds(median[s]) if s in median else "–" for s in SCALE_SYSTEMS]
        ratios = [f"{median[s] / median['hqnn-exact']:.3g}×" if {s, "hqnn-exact"} <= set(median) else "–"
                  for s, _, _ in PEER_BOUNDS]
        compiled = runs.get(("scale", "tensorcircuit", batch, qubits, family), {}).get("extra_info", {})
        compile_cell = seconds(compiled["compile_s"]) if "compile_s" in compiled else "–"
        lines.append(f"| {qubits} | {batch} | {' | '.join(cells)} | {' | '.join(ratios)} | {compile_cell} |")
    return lines


def peer_targets(runs: dict) -> list[str]:
    """Per family and peer: the least peer / hqnn exact ratio over the sizes run, and where it is."""
    lines = []
    medians = scale_medians(runs)
    for family in sorted({k[0] for k in medians}):
        for system, name, bound in PEER_BOUNDS:
            pairs = [(m[system] / m["hqnn-exact"], f"{q}q B={b}") for (f, q, b), m in medians.items()
                     if f == family and {system, "hqnn-exact"} <= set(m)]
            if not pairs:
                continue
            ratio, where = min(pairs)
            misses = sum(r < bound for r, _ in pairs)
            result = "pass" if not misses else f"MISS ({misses} of {len(pairs)} sizes)"
            lines.append(f"| {family}: {name} / hqnn exact, least over {len(pairs)} sizes ({where}) | {ratio:.3g}× "
                         f"| ≥ {bound}× | {result} |")
    return lines


def target_table(runs: dict) -> list[str]:
    lines = ["| target | measured | bound | result |", "|---|---:|---:|---|"]
    for what, top, bottom, bound, sense in TARGETS:
        if top not in runs or bottom not in runs:
            lines.append(f"| {what} | not run | {sense} {bound} | – |")
            continue
        ratio = paired_ratio(runs[top], runs[bottom])
        ok = ratio >= bound if sense == "≥" else ratio <= bound
        lines.append(f"| {what} | {ratio:.3g}× | {sense} {bound}× | {'pass' if ok else 'MISS'} |")
    lines += peer_targets(runs)
    twelve = runs.get(("scale", "hqnn-exact", 32, 12, "layered"))
    if twelve:
        step = twelve["stats"]["median"]
        lines.append(f"| 12 qubits B=32 exact forward+backward | {seconds(step)} | ≤ 2 s | {'pass' if step <= 2 else 'MISS'} |")
    for (_, system, batch, qubits), bench in sorted((k, b) for k, b in runs.items() if k[0] == "threads"):
        two = runs.get(("threads", "hqnn-exact-2-threads", batch, qubits))
        if system == "hqnn-exact-1-threads" and two and qubits >= 12:
            ratio = paired_ratio(bench, two)
            lines.append(f"| {qubits} qubits B={batch} exact: 1 thread / 2 threads | {ratio:.3g}× | ≥ 1.6× | "
                         f"{'pass' if ratio >= 1.6 else 'MISS'} |")
            beside = runs.get(("threads", TWIN, batch, qubits))
            if beside:  # two processes' throughput: 2 × (alone / beside the twin)
                ceiling = 2 * paired_ratio(bench, beside)
                lines.append(f"| {qubits} qubits B={batch}: two 1-thread processes at once / one alone (this machine's "
                             f"ceiling for the row above, bench/twin.py) | {ceiling:.3g}× | reference | – |")
    big = next((b for k, b in runs.items() if k[:2] == ("threads", "hqnn-exact-1-threads") and k[3] >= 20), None)
    if big:
        lines.append(f"| 20 qubits B=8 exact forward+backward, 1 thread | {seconds(big['stats']['median'])} | runs | pass |")
    emulated = runs.get(("scale", "hqnn-emulator", 256, 8, "layered"))
    if emulated:
        step = emulated["stats"]["median"]
        lines.append(f"| 8 qubits B=256 emulator (1000 shots) forward+backward | {seconds(step)} | ≤ 300 ms | "
                     f"{'pass' if step <= 0.3 else 'MISS'} |")
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
        f"- threads: torch {machine.get('torch_threads')}, numba {machine.get('numba_threads')}, Aer 1, numpy's "
        f"OpenBLAS {machine.get('openblas_threads', '?')} (all systems)",
    ]


def report(path: str | Path) -> str:
    machine, runs = load(path)
    parts = [
        "# Benchmark results",
        "",
        "From ONE `make bench` run (pytest-benchmark, medians over rounds): ratios come from the same run and",
        "the same machine, so they are comparable; absolute times move with the machine's load. Some targets divide",
        "medians of pairs timed one after the other in one test: the B=1 Aer step and its raw job, each hybrid",
        "recipe epoch and a classical one, the analytic layer at B=10^6 and torch.sin + torch.cos, and each",
        "2-thread call (or call beside the twin) and a 1-thread call alone.",
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
        "## Multi-qubit circuits (group `scale`: exact forward + backward by inputs and weights; every peer checked "
        "equal to hqnn before timing)",
        "",
        "Families: `layered` (RY encoder + 3 × (RY, RZ on every qubit, CX chain), ⟨Z⟩ per qubit), "
        "`zz-real-amplitudes` (zz_feature_map(reps=2) + real_amplitudes(reps=3), ZZ on neighbours, X on every "
        "qubit, Y on the end qubits), `efficient-su2-full` (RY encoder + efficient_su2(reps=2, full "
        "entanglement), ⟨Z⟩ per qubit). tensorcircuit-ng: JAX, jit(value_and_grad(vmap)), complex128, its own "
        "gates, one `c.state()` then the outputs; its compile time is the first call's, not in the timing.",
        "",
        *[line for family in sorted({k[0] for k in scale_medians(runs)}) for line in
          (f"### {family}", "", *scale_table(runs, family), "")],
        "## Threads (group `threads`: exact forward + backward, layered family, torch.set_num_threads)",
        "",
        "Each 2-thread round and each round beside the twin follows a 1-thread call alone (the twin paused), timed: "
        "the Targets' thread rows divide the medians of these interleaved pairs, as the machine's speed drifts "
        "between tests. The table gives each test's own rounds.",
        "",
        *simple_table(runs, "threads", ("threads", "hqnn-exact-1-threads", 32, 12)),
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
