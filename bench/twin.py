"""A twin for group ``threads``: ``python bench/twin.py QUBITS BATCH`` runs the same single-thread forward + backward
as the timed test, over and over until killed, after printing ``ready`` once warm. A test timed beside it shows what
the second core gives when both run the same work: two single-thread processes at once get 2 × (time alone /
time beside the twin) of one's throughput, the most a second thread could add to that call here (the cores share
caches, memory bandwidth and, on a virtual machine, a host)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

#: The threads group's system timed beside a twin.
SYSTEM = "hqnn-exact-1-thread-beside-a-twin"


class Twin:
    """A running twin process; :meth:`paused` stops it for a call timed alone between the calls timed beside it."""

    def __init__(self, process: subprocess.Popen):
        self._process = process

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def twin(qubits: int, batch: int) -> Iterator[Twin]:
    """A twin process running the layered family's call at (qubits, batch) while the block runs."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(qubits), str(batch)], stdout=subprocess.PIPE, text=True
    )
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the twin process at {qubits} qubits, B = {batch} stopped before it was ready")
        yield Twin(process)
        if process.poll() is not None:  # the timing ran (partly) beside an idle core
            raise RuntimeError(f"the twin process at {qubits} qubits, B = {batch} stopped (exit {process.returncode})")
    finally:
        process.kill()
        process.wait()


def _run(qubits: int, batch: int) -> None:
    import numba
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from test_scale import as_user_calls, forward_backward, hqnn_layer, inputs

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    f, weights = as_user_calls(hqnn_layer(qubits, "analytic", None))
    x = inputs(qubits, batch)
    forward_backward(f, x, weights)
    print("ready", flush=True)
    while True:
        forward_backward(f, x, weights)


if __name__ == "__main__":
    _run(int(sys.argv[1]), int(sys.argv[2]))
