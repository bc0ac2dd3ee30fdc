"""Group ``training``: one epoch of the chapter's recipe (200 MNIST images, batch 1, Adam) per head/backend."""

from __future__ import annotations

import dataclasses
import pytest
from torch.utils.data import Subset

from hqnn.app.config import RunConfig
from hqnn.app.data import load_mnist
from hqnn.app.models import build_model
from hqnn.app.train import fit

from pairs import OtherSide


#: Epochs timed per backend (each hybrid one after a timed classical epoch). With 5 rounds and the classical epochs
#: timed minutes apart, the hybrid / classical ratio moved from 1.06× to 1.22× between two runs of the same code.
ROUNDS = 15


@pytest.mark.parametrize("backend", ["classical", "aer", "emulator", "analytic"])
def test_epoch(benchmark, backend, smoke):
    config = dataclasses.replace(RunConfig(backend=backend), epochs=1)
    train, _ = load_mnist(config.digits, config.train_per_class, config.test_per_class, source=config.data)
    if smoke:
        train = Subset(train, range(4))
    benchmark.group = "training"
    benchmark.extra_info.update(system=backend, batch=config.batch_size, samples=len(train))
    classical = dataclasses.replace(config, backend="classical")
    classical_epochs = OtherSide("classical")

    def setup():
        """A hybrid head's round follows a timed classical epoch: the report divides the pairs' medians."""
        if backend != "classical":
            classical_epochs.time(fit, build_model(classical), train, classical, progress=False)
        return (build_model(config),), {}

    result = benchmark.pedantic(
        lambda model: fit(model, train, config, progress=False),
        setup=setup,
        rounds=1 if smoke else ROUNDS,
        warmup_rounds=0 if smoke else 1,
    )
    assert result.steps == len(train)
    classical_epochs.record(benchmark)
