"""The benchmark suite and its report run end to end at tiny sizes (``--smoke``), in a subprocess."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_run_and_report(tmp_path):
    results = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "bench"), "-q", "-p", "no:cacheprovider", "--smoke",
         "-k", "not chapter and not epoch[aer]", "--benchmark-min-rounds=1", "--benchmark-max-time=0",
         "--benchmark-warmup=off", f"--benchmark-json={results}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py"), str(results), str(tmp_path / "RESULTS.md")],
        capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets" in text and "| aer | 1 |" in text and "| analytic | 4 samples |" in text
    assert "| 4 | 32 |" in text and "### zz-real-amplitudes" in text  # the scale group, every family
    assert "| shift | 10 |" in text and "| spsa | 10 |" in text  # the shots group
