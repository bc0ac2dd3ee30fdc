"""``hqnn --help`` and argument errors answer in well under a second: the package and the command load torch,
qiskit, numba and matplotlib only when a command runs; every public name still resolves."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hqnn

HEAVY = ("torch", "qiskit", "qiskit_aer", "numba", "matplotlib")


@pytest.mark.parametrize("argv, status", [(["--help"], 0), (["train", "--epochs", "0"], 2), (["train", "--seed", "-1"], 2)])
def test_help_and_argument_errors_take_well_under_a_second(argv, status):
    script = shutil.which("hqnn", path=str(Path(sys.executable).parent))
    start = time.perf_counter()
    done = subprocess.run([script, *argv], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == status, done.stderr
    assert elapsed < 1.0, f"hqnn {' '.join(argv)} took {elapsed:.2f} s"


def test_importing_the_command_loads_no_heavy_library():
    probe = f"import hqnn, hqnn.app.cli, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves_lazily():
    assert set(hqnn.__all__) <= set(dir(hqnn))
    for name in hqnn.__all__:
        assert getattr(hqnn, name).__name__ == name
    assert hqnn.stats.fit_pvalue and hqnn.kernels.ry_p1  # submodules load on first use too
    with pytest.raises(AttributeError, match="module 'hqnn' has no attribute 'Hybird'"):
        hqnn.Hybird
