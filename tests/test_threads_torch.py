"""hqnn's kernels keep torch's thread count: numba's OpenMP threads, started by hqnn's first kernel, once turned a
``torch.set_num_threads(1)`` into NUMBA_NUM_THREADS (a fresh process: the start happens once per process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numba
    import torch
    import hqnn

    torch.set_num_threads(1)
    assert torch.get_num_threads() == 1  # torch has read its count: the start of numba's threads used to change it
    model = hqnn.angle_encoder(8).then(hqnn.entangling_ansatz(8, 2)).hybrid_kwargs()
    for backend, shots, kwargs in [
        ("analytic", None, model), ("emulator", 100, model), ("analytic", None, {"diff_method": "shift"}),
    ]:
        layer = hqnn.Hybrid(backend, shots, **kwargs, seed=1)
        x = torch.rand(512, layer.spec.n_inputs, dtype=torch.float64, requires_grad=True)
        layer(x).sum().backward()
        print(backend, torch.get_num_threads(), numba.get_num_threads())
    """
)


def test_kernels_keep_torchs_thread_count_and_run_on_it():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.split("\n")[:-1]
    assert len(lines) == 3
    for line in lines:
        backend, torch_count, numba_count = line.split()
        assert (torch_count, numba_count) == ("1", "1"), f"{backend}: torch {torch_count}, numba {numba_count} threads"
