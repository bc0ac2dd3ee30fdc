"""Group ``training``: one epoch of the chapter's recipe (200 MNIST images, batch 1, Adam) per head/backend."""

from __future__ import annotations

import dataclasses

import pytest
from torch.utils.data import Subset

from hqnn.app.config import RunConfig
from hqnn.app.data import load_mnist
from hqnn.app.models import build_model
from hqnn.app.train import fit


#: Epochs timed per backend. The report divides each hybrid epoch by the classical one, timed minutes apart: with 5
#: rounds that ratio moved from 1.06× to 1.22× between two runs whose code for it had not changed.
ROUNDS = 15


@pytest.mark.parametrize("backend", ["classical", "aer", "emulator", "analytic"])
def test_epoch(benchmark, backend, smoke):
    config = dataclasses.replace(RunConfig(backend=backend), epochs=1)
    train, _ = load_mnist(config.digits, config.train_per_class, config.test_per_class, source=config.data)
    if smoke:
        train = Subset(train, range(4))
    benchmark.group = "training"
    benchmark.extra_info.update(system=backend, batch=config.batch_size, samples=len(train))
    result = benchmark.pedantic(
        lambda model: fit(model, train, config, progress=False),
        setup=lambda: ((build_model(config),), {}),
        rounds=1 if smoke else ROUNDS,
        warmup_rounds=0 if smoke else 1,
    )
    assert result.steps == len(train)
