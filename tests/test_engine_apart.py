"""The engine (``hqnn/`` outside ``hqnn/app/``) never imports the training application, and using the layer loads
none of the application's dependencies (matplotlib, torchvision, mlxtend)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import hqnn

PACKAGE = Path(hqnn.__file__).resolve().parent
APP_ONLY = ("matplotlib", "torchvision", "mlxtend", "hqnn.app")

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import hqnn

    torch.set_num_threads(1)
    model = hqnn.angle_encoder(2).then(hqnn.entangling_ansatz(2, 1)).hybrid_kwargs()
    for backend, shots, kwargs in [
        ("aer", 100, {}), ("aer", None, {}), ("analytic", None, {}), ("analytic", None, model),
        ("emulator", 100, {}), ("emulator", 100, model),
    ]:
        layer = hqnn.Hybrid(backend, shots, **kwargs, seed=1)
        x = torch.rand(3, layer.spec.n_inputs, dtype=torch.float64, requires_grad=True)
        layer(x).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
    print(" ".join(name for name in %r if name in sys.modules))
    """
    % (APP_ONLY,)
)


def test_using_the_layer_loads_no_application_dependency():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [], f"using hqnn.Hybrid imported {run.stdout.split()}"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved against its package)."""
    package = ".".join(("hqnn", *path.relative_to(PACKAGE).parent.parts))
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_engine_module_imports_the_application():
    engine = [p for p in PACKAGE.rglob("*.py") if "app" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(engine) > 30 and PACKAGE / "layer.py" in engine
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(n for n in imported_modules(p) if n == "hqnn.app" or n.startswith("hqnn.app."))
        for p in engine
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_the_import_check_sees_relative_imports_of_the_application():
    app_module = PACKAGE / "app" / "admission.py"
    assert "hqnn.app.config" in imported_modules(app_module)  # `from .config import RunConfig`
    assert "hqnn.memory" in imported_modules(app_module)  # `from ..memory import ...`
