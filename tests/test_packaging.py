"""The installed package holds every module of the tree. Under ``make test`` (``tests/wheel_check.sh``) the suite
runs against the built wheel installed in a fresh environment, and ``HQNN_SOURCE_TREE`` names the tree: every
module must import from the installed copy, never from the tree. Run from the tree itself, the test builds the
wheel and reads its file list."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import hqnn

INSTALLED_RUN = "HQNN_SOURCE_TREE" in os.environ
ROOT = Path(os.environ.get("HQNN_SOURCE_TREE", Path(__file__).resolve().parents[1]))


def tree_modules(root: Path) -> list[str]:
    """Dotted names of every module the product ships: hqnn/** and kernels/** (installed as hqnn.kernels)."""
    names = []
    for folder, prefix in ((root / "hqnn", "hqnn"), (root / "kernels", "hqnn.kernels")):
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            names.append(".".join((prefix, *parts)))
    return names


def test_tree_lists_the_engine_and_the_application():
    names = tree_modules(ROOT)
    for expected in ("hqnn.strategies.shift_rule", "hqnn.executors.aer", "hqnn.app.cli", "hqnn.kernels.statevector"):
        assert expected in names


def test_every_module_of_the_tree_is_installed(tmp_path):
    names = tree_modules(ROOT)
    if INSTALLED_RUN:  # make test: the suite runs against the installed wheel
        assert not Path(hqnn.__file__).resolve().is_relative_to(ROOT), hqnn.__file__
        installed = Path(hqnn.__file__).resolve().parent
        missing = [n for n in names if importlib.util.find_spec(n) is None]
        assert not missing, f"the installed wheel lacks {missing}"
        for name in names:
            origin = Path(importlib.util.find_spec(name).origin).resolve()
            assert origin.is_relative_to(installed), f"{name} imports from {origin}, not the installed copy"
    else:  # from the tree: build the wheel and read its file list
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
            check=True, capture_output=True,
        )
        (wheel,) = tmp_path.glob("hqnn-*.whl")
        files = set(zipfile.ZipFile(wheel).namelist())
        for name in names:
            path = name.replace(".", "/")
            assert f"{path}.py" in files or f"{path}/__init__.py" in files, f"the wheel lacks {name}"
