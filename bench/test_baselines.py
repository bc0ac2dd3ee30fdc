"""Group ``baselines``: the chapter's per-sample algorithm and qiskit-machine-learning, forward + backward."""

from __future__ import annotations

import pytest
import torch

from baselines import QML_HINT, chapter_layer

CHAPTER_SAMPLES = 3  # ~0.4 s each: time a handful, not a batch


def test_chapter(benchmark, smoke):
    samples = 1 if smoke else CHAPTER_SAMPLES
    benchmark.group = "baselines"
    benchmark.extra_info.update(system="chapter", batch=1, samples=samples)
    layer = chapter_layer()
    xs = [torch.rand(1, 1, generator=torch.Generator().manual_seed(i)).requires_grad_() for i in range(samples)]

    def run():
        for x in xs:
            layer(x).sum().backward()

    benchmark.pedantic(run, rounds=1 if smoke else 3, warmup_rounds=0 if smoke else 1)


@pytest.mark.parametrize("batch", [1, 256])
def test_qiskit_machine_learning(benchmark, batch, smoke):
    pytest.importorskip("qiskit_machine_learning", reason=QML_HINT)
    from baselines import qml_layer

    if smoke and batch > 1:
        pytest.skip("smoke run: batch 1 only")
    benchmark.group = "baselines"
    benchmark.extra_info.update(system="qiskit-machine-learning", batch=batch, samples=batch)
    layer = qml_layer()
    x = torch.rand(batch, 1, generator=torch.Generator().manual_seed(batch), requires_grad=True)

    def run():
        x.grad = None
        layer(x)[:, 1].sum().backward()  # column 1 is P(1)

    if batch == 1:
        benchmark(run)
    else:
        benchmark.pedantic(run, rounds=1 if smoke else 5, warmup_rounds=0 if smoke else 1)
    assert x.grad.shape == (batch, 1)
