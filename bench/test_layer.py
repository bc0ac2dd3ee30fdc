"""Group ``layer``: the chapter's Hybrid layer, forward + backward, per backend and batch (100 shots)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqnn import AerExecutor, Hybrid, chapter_circuit
from hqnn.stats import two_sample_pvalue

from aer_step import raw_job
from pairs import OtherSide

SHOTS = 100
BATCHES = [1, 32, 256, 4096]
SYSTEMS = ["aer", "aer-unpacked", "emulator", "analytic"]
TOO_SLOW = {("aer-unpacked", 4096)}  # ~2.5 s a round
#: Rounds of the raw Aer job, each after one timed B = 1 step.
INTERLEAVED_ROUNDS = 2000
#: Rounds of the analytic layer at B = 10^6 (~10 ms each), each after one timed torch.sin + torch.cos.
MILLION_ROUNDS = 100


def make_layer(system: str, seed: int = 0) -> Hybrid:
    if system == "aer-unpacked":
        return Hybrid(AerExecutor(chapter_circuit(), shots=SHOTS, seed=seed, pack=1))
    return Hybrid(system, None if system == "analytic" else SHOTS, seed=seed)  # "analytic" has no shots


def forward_backward(layer: Hybrid, x: torch.Tensor) -> None:
    x.grad = None
    layer(x).sum().backward()


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("system", SYSTEMS)
def test_layer(benchmark, system, batch, smoke):
    if (system, batch) in TOO_SLOW or (smoke and batch > 1):
        pytest.skip("slower than a few seconds a round" if not smoke else "smoke run: batch 1 only")
    benchmark.group = "layer"
    benchmark.extra_info.update(system=system, batch=batch, samples=batch)
    layer = make_layer(system)
    x = torch.rand(batch, 1, generator=torch.Generator().manual_seed(batch), requires_grad=True)
    forward_backward(layer, x)  # Aer transpiles on the first call: not a round
    benchmark(forward_backward, layer, x)
    assert x.grad.shape == (batch, 1)


@pytest.mark.parametrize("inline", [False, True], ids=["run", "inline"])
def test_raw_aer_job(benchmark, inline, smoke):
    """System ``aer-raw-job``: the one Aer job of the B = 1 ``aer`` step above as ``backend.run(...).result()``;
    ``aer-inline-job``: the same job run in the calling thread by Aer's own job function (hqnn's step also reuses
    the template's assembled circuits; bench/aer_step.py). Before each round the step itself runs,
    timed: the report divides the step by the job from these interleaved pairs (the machine's load drifts)."""
    benchmark.group = "layer"
    benchmark.extra_info.update(system="aer-inline-job" if inline else "aer-raw-job", batch=1, samples=1)
    layer = make_layer("aer")
    x = torch.rand(1, 1, generator=torch.Generator().manual_seed(1), requires_grad=True)
    forward_backward(layer, x)  # transpiles the template the raw job runs
    steps = OtherSide("aer")
    rounds = 1 if smoke else INTERLEAVED_ROUNDS
    benchmark.pedantic(raw_job(layer, x.item(), inline), setup=lambda: steps.time(forward_backward, layer, x),
                       rounds=rounds, warmup_rounds=0 if smoke else 50)
    steps.record(benchmark)


def test_emulator_agrees_with_aer_at_4096(benchmark, smoke):
    """Not a timing: the two-sample χ² of emulator against Aer values at B = 4096, recorded with the run."""
    batch = 64 if smoke else 4096
    theta = np.linspace(-1.2, 1.2, batch)[:, None]
    with torch.no_grad():
        emulated = Hybrid("emulator", SHOTS, seed=1)(torch.from_numpy(theta)).numpy()[:, 0]
        aer = Hybrid("aer", SHOTS, seed=2)(torch.from_numpy(theta)).numpy()[:, 0]
    p_value = two_sample_pvalue(emulated, aer, SHOTS)
    benchmark.group = "checks"
    benchmark.extra_info.update(system="emulator-vs-aer-chi2", batch=batch, samples=batch, p_value=p_value)
    benchmark.pedantic(lambda: None, rounds=1)
    assert p_value > 1e-3


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("system", ["analytic", "torch-sin-cos"])
def test_analytic_million(benchmark, system, dtype, smoke):
    """Group ``million``: analytic forward + backward at B = 10^6 against torch.sin(x) + torch.cos(x). Each analytic
    round follows a timed torch round: the report divides the pairs' medians (both are passes over 8-16 MB, and one
    run's torch cell moved 2.4x between runs half an hour apart)."""
    batch = 10_000 if smoke else 1_000_000
    benchmark.group = "million"
    benchmark.extra_info.update(system=system, batch=batch, samples=batch, dtype=dtype)
    x = torch.rand(batch, 1, dtype=getattr(torch, dtype), generator=torch.Generator().manual_seed(0))

    def sin_cos():
        return torch.sin(x) + torch.cos(x)

    if system == "torch-sin-cos":
        benchmark(sin_cos)
        return
    torch_rounds = OtherSide("torch-sin-cos")
    layer, angles = Hybrid("analytic"), x.detach().requires_grad_()  # x itself stays out of autograd: sin_cos
    forward_backward(layer, angles)
    benchmark.pedantic(forward_backward, (layer, angles), setup=lambda: torch_rounds.time(sin_cos),
                       rounds=1 if smoke else MILLION_ROUNDS, warmup_rounds=0 if smoke else 3)
    torch_rounds.record(benchmark)
