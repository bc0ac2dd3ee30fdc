"""The chapter's batch-1 training step on Aer against the raw Aer job for the same rows.

The step is ``Hybrid("aer", 100, π/2)(x).sum().backward()`` for x of shape (1, 1): one Aer job of 3 rows (value,
+shift, −shift). The raw job is that job as a user would run it, ``backend.run(...).result()`` (the layer's own
transpiled, packed template, the same parameter binds, shots, options and a seed per job). ``inline=True`` runs
it as :class:`hqnn.executors.aer_job.InlineJob` without an assembly cache: Aer's own job function, without
``backend.run``'s worker thread. hqnn's step runs it inline too, on the template Aer assembled at its first job
(:mod:`hqnn.executors.aer_assembly`), so its job alone is faster than either.

Usage: ``python bench/aer_step.py [rounds] [reps]``: interleaved medians of each round, one torch thread; it
first checks that seeded runs give the numbers recorded before the step was made faster (``FINGERPRINT``).
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

import hqnn
from hqnn.executors.aer_job import InlineJob

SHOTS = 100
SHIFT = math.pi / 2
#: sha256 of seeded outputs and input gradients (see :func:`fingerprint`), recorded before the speed-up.
FINGERPRINT = "3597e625a739932985eb695193dd1ef36cb527cc2cf8e6f90a3a5f94ded5601a"


def chapter_layer(seed: int | None = 0) -> hqnn.Hybrid:
    """The chapter's layer, the default of ``hqnn train``: H·RY(θ) on Aer, 100 shots, shift π/2."""
    return hqnn.Hybrid("aer", SHOTS, SHIFT, seed=seed)


def step(layer: hqnn.Hybrid, x: torch.Tensor) -> None:
    """One training step's layer work: forward + backward."""
    x.grad = None
    layer(x).sum().backward()


def raw_job(layer: hqnn.Hybrid, theta: float, inline: bool = False) -> Callable[[], object]:
    """The Aer job ``layer`` submits for one sample θ, as a direct ``backend.run(...).result()`` (``inline``: the
    call hqnn makes, :class:`~hqnn.executors.aer_job.InlineJob`)."""
    executor = layer.strategy.executor
    rows = np.array([theta, theta + SHIFT, theta - SHIFT])
    circuit, columns = executor._template(0, len(rows))  # the packed template hqnn runs: 3 copies, one experiment
    binds = [{parameter: [rows[k]] for k, parameter in columns}]
    backend, seeds = executor.backend, np.random.default_rng(0)

    def run():
        options = dict(
            shots=SHOTS, seed_simulator=int(seeds.integers(0, 2**31 - 1)),
            runtime_parameter_bind_enable=True, max_parallel_threads=1,
        )
        if inline:
            return InlineJob(backend, [circuit], binds, options).result()
        return backend.run([circuit], parameter_binds=binds, **options).result()

    return run


def fingerprint() -> str:
    """sha256 of the outputs and input gradients of seeded chapter layers: 40 B=1 steps and B = 2, 5, 16."""
    digest = hashlib.sha256()
    thetas = torch.linspace(-3, 3, 40, dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        layer = chapter_layer(seed=7)
        for theta in thetas:
            x = theta.to(dtype).reshape(1, 1).requires_grad_()
            out = layer(x)
            out.sum().backward()
            digest.update(out.detach().double().numpy().tobytes() + x.grad.double().numpy().tobytes())
    for batch in (2, 5, 16):
        layer = chapter_layer(seed=batch)
        x = torch.linspace(-2, 2, batch, dtype=torch.float64)[:, None].requires_grad_()
        out = layer(x)
        (out * torch.arange(1.0, batch + 1, dtype=torch.float64)[:, None]).sum().backward()
        digest.update(out.detach().numpy().tobytes() + x.grad.numpy().tobytes())
    return digest.hexdigest()


def measure(rounds: int = 5, reps: int = 1000) -> list[tuple[float, float, float]]:
    """(raw job, inline job, step) median seconds of each round; the three calls alternate."""
    layer = chapter_layer()
    x = torch.tensor([[0.3]], requires_grad=True)
    step(layer, x)  # transpiles the template
    calls = (raw_job(layer, 0.3), raw_job(layer, 0.3, inline=True), lambda: step(layer, x))
    for _ in range(200):
        for call in calls:
            call()
    medians = []
    for _ in range(rounds):
        times = np.empty((reps, len(calls)))
        for i in range(reps):
            for k, call in enumerate(calls):
                start = time.perf_counter()
                call()
                times[i, k] = time.perf_counter() - start
        medians.append(tuple(np.median(times, axis=0)))
    return medians


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    rounds, reps = (int(a) for a in (argv + ["5", "1000"][len(argv):])[:2])
    found = fingerprint()
    print(f"seeded numbers: {'unchanged' if found == FINGERPRINT else 'CHANGED'} ({found[:16]}…)")
    for raw, inline, hybrid in measure(rounds, reps):
        print(
            f"raw Aer job {raw * 1e3:.3f} ms, inline {inline * 1e3:.3f} ms, step {hybrid * 1e3:.3f} ms, "
            f"step / raw {hybrid / raw:.3f}, step / inline {hybrid / inline:.3f}"
        )
    if found != FINGERPRINT:
        sys.exit("seeded outputs or gradients differ from the recorded FINGERPRINT")


if __name__ == "__main__":
    main(sys.argv[1:])
