"""Group ``threads``: hqnn's exact forward + backward (the layered family) on 1 and 2 threads at 12 and 16 qubits
(``torch.set_num_threads``; the kernels take torch's count), on 1 thread beside a twin process running the same call
(:mod:`twin`: the machine's own ceiling for the 2-thread ratio), and 20 qubits with B = 8 on 1 thread, admitted by
the memory guard.

The machine's speed drifts between tests a minute apart (one run timed 12 qubits B = 256 at 28.8 ms on one thread
here and 20.3 ms in group ``scale``), so each 2-thread round and each round beside the twin follows a timed
1-thread call alone; the report divides the medians of these interleaved pairs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import pytest
import torch

from pairs import OtherSide
from test_scale import as_user_calls, forward_backward, hqnn_layer, inputs, rounds_within
from twin import SYSTEM as TWIN
from twin import twin

SIZES = [(12, 32), (12, 256), (16, 32), (16, 256)]
ONE_THREAD = "hqnn-exact-1-threads"


def _time(benchmark, qubits: int, batch: int, threads: int, smoke: bool, system: str | None = None,
          alone: Callable[[], contextlib.AbstractContextManager] | None = None) -> None:
    """Times the call on ``threads`` threads. With ``alone`` (the context a call alone runs in: nothing, or the
    twin paused), each round follows a timed 1-thread call alone, the pair's other half."""
    f, weights = as_user_calls(hqnn_layer(qubits, "analytic", None))
    x = inputs(qubits, batch)
    benchmark.group = "threads"
    system = system or f"hqnn-exact-{threads}-threads"
    benchmark.extra_info.update(system=system, batch=batch, samples=batch, qubits=qubits)
    single = OtherSide(ONE_THREAD)

    def one_thread_first():
        with alone():
            if threads != 1:  # the first call after a change of thread count is slower: not timed
                torch.set_num_threads(1)
                forward_backward(f, x, weights)
            single.time(forward_backward, f, x, weights)
        if threads != 1:
            torch.set_num_threads(threads)
            forward_backward(f, x, weights)

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rounds = rounds_within(forward_backward, (f, x, weights), 1 if smoke else 3, smoke)
        benchmark.pedantic(forward_backward, (f, x, weights), rounds=rounds, warmup_rounds=0 if smoke else 1,
                           setup=one_thread_first if alone else None)
    finally:
        torch.set_num_threads(previous)
    assert torch.isfinite(weights.grad).all()
    single.record(benchmark)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("qubits, batch", SIZES)
def test_threads(benchmark, qubits, batch, threads, smoke):
    if threads > (os.cpu_count() or 1):
        pytest.skip(f"{threads} threads need {threads} cores")
    if smoke:
        if (qubits, batch) != SIZES[0]:
            pytest.skip("smoke run: one size")
        qubits, batch = 4, 32
    _time(benchmark, qubits, batch, threads, smoke, alone=contextlib.nullcontext if threads > 1 else None)


@pytest.mark.parametrize("qubits, batch", SIZES)
def test_beside_a_twin(benchmark, qubits, batch, smoke):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("a twin process needs a second core")
    if smoke:
        if (qubits, batch) != SIZES[0]:
            pytest.skip("smoke run: one size")
        qubits, batch = 4, 32
    with twin(qubits, batch) as running:
        _time(benchmark, qubits, batch, 1, smoke, system=TWIN, alone=running.paused)


def test_twenty_qubits(benchmark, smoke):
    _time(benchmark, 6 if smoke else 20, 8, 1, smoke)
