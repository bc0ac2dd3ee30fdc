#!/usr/bin/env bash
# `make test`: build the wheel from this tree, install it (not editable) into a fresh virtual environment outside
# the tree, and run the whole test suite against that install from a folder where the source is not importable.
#
# The fresh environment reuses the dependencies already installed in .venv through a .pth file listing .venv's
# package folders (added as plain paths: .venv's own .pth files, such as the editable hqnn's finder, do not run),
# so the step costs seconds, not a reinstall of torch. Usage: tests/wheel_check.sh [PYTHON] [pytest args (default: tests)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${1:-$ROOT/.venv/bin/python}"
shift || true
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hqnn-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

echo "wheel_check: building the wheel from $ROOT"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$ROOT"
WHEEL="$(ls "$WORK"/dist/hqnn-*.whl)"

echo "wheel_check: every module of the tree is in $(basename "$WHEEL")"
"$PYTHON" - "$ROOT" "$WHEEL" <<'EOF'
import sys, zipfile
from pathlib import Path
root, wheel = Path(sys.argv[1]), sys.argv[2]
names = set(zipfile.ZipFile(wheel).namelist())
source = [p.relative_to(root).as_posix() for p in (root / "hqnn").rglob("*.py")]
source += ["hqnn/" + p.relative_to(root).as_posix() for p in (root / "kernels").rglob("*.py")]
missing = sorted(s for s in source if s not in names)
if missing:
    sys.exit(f"the wheel lacks {len(missing)} module(s) of the tree: {missing}")
print(f"  {len(source)} modules present")
EOF

echo "wheel_check: fresh environment in $WORK/venv"
"$PYTHON" -m venv --without-pip "$WORK/venv"
"$PYTHON" -m pip --python "$WORK/venv/bin/python" install --quiet --no-deps --no-index "$WHEEL"
SITE="$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# Innermost folder first: a .venv layered over another through a .pth of its own (as in the worktrees) keeps
# only its bootstrap tools (an old setuptools) in its own folder, while the full dependency set is the one below.
"$PYTHON" -c 'import sys; print("\n".join(reversed([p for p in sys.path if p.endswith("-packages")])))' \
    > "$SITE/hqnn_deps.pth"

echo "wheel_check: the extra [devices] resolves against the installed dependencies"
"$PYTHON" -m pip --python "$WORK/venv/bin/python" install --dry-run --quiet --no-index "$WHEEL[devices]"
"$WORK/venv/bin/python" - <<'EOF'
from importlib.metadata import metadata
meta = metadata("hqnn")
assert "devices" in meta.get_all("Provides-Extra"), meta.get_all("Provides-Extra")
assert any("qiskit-ibm-runtime" in r and 'extra == "devices"' in r for r in meta.get_all("Requires-Dist"))
EOF

# The suite runs from a copy of tests/ (and bench/, which one test runs) in a folder without the source.
mkdir "$WORK/run"
cp -r "$ROOT/tests" "$ROOT/bench" "$ROOT/pyproject.toml" "$WORK/run/"
find "$WORK/run" -name __pycache__ -prune -exec rm -rf {} +
echo "wheel_check: ready in $((SECONDS - start)) s; running the suite against the installed wheel"
cd "$WORK/run"
HQNN_SOURCE_TREE="$ROOT" "$WORK/venv/bin/python" -c '
import os, sys, hqnn
root = os.environ["HQNN_SOURCE_TREE"]
assert not hqnn.__file__.startswith(root), f"hqnn imported from the source tree: {hqnn.__file__}"
print("  hqnn from", hqnn.__file__)'
HQNN_SOURCE_TREE="$ROOT" "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests}"
echo "wheel_check: done in $((SECONDS - start)) s"
