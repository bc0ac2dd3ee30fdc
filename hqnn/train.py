"""Fit and evaluate with torch's own Adam and DataLoader: seeded shuffling, a progress bar, a checkpoint per epoch.

The quantum layer is just another module: its parameter-shift gradients arrive through autograd. Inside a
torch.distributed process group (see :mod:`hqnn.distributed`) each process trains on its shard of every epoch.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from .checkpoint import save_checkpoint
from .config import RunConfig
from .distributed import launch
from .losses import loss_function
from .models import Net, build_model


@dataclass
class FitResult:
    """Mean training loss of each epoch, optimizer steps taken, and wall-clock seconds."""

    train_loss: list[float]
    steps: int
    seconds: float


@dataclass
class Evaluation:
    accuracy: float
    loss: float


def fit(
    model: nn.Module,
    train_set: Dataset,
    config: RunConfig,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> FitResult:
    """Train ``model`` for ``config.epochs`` epochs; after each, write ``checkpoint`` (when given) atomically.

    Shuffling and dropout are drawn from ``config.seed``; the global torch RNG is left as it was. In a process
    group ``model`` is a ``DistributedDataParallel``; rank 0 writes the checkpoint and shows the progress bar,
    and each epoch's loss is the mean over all processes.
    """
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    if distributed:
        sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed)
        loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler)
    else:
        shuffle = torch.Generator().manual_seed(config.seed)
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=shuffle)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = loss_function(config.loss)
    history: list[float] = []
    steps = 0
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + rank)
        for epoch in range(1, config.epochs + 1):
            if distributed:
                sampler.set_epoch(epoch)
            model.train()
            total, seen = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress or rank)
            for images, target in bar:
                optimizer.zero_grad()
                loss = loss_fn(model(images), target)
                loss.backward()
                optimizer.step()
                steps += 1
                total += loss.item() * len(target)
                seen += len(target)
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
            history.append(_mean_over_processes(total, seen) if distributed else total / seen)
            if checkpoint is not None and rank == 0:
                save_checkpoint(checkpoint, getattr(model, "module", model), config, epoch, history)
    return FitResult(history, steps, time.perf_counter() - start)


def train_model(
    config: RunConfig, train_set: Dataset, checkpoint: str | os.PathLike | None = None, progress: bool = True
) -> tuple[Net, FitResult]:
    """Build the model ``config`` describes and fit it, in ``config.ddp`` data-parallel processes if > 1."""
    if config.ddp == 1:
        model = build_model(config)
        return model, fit(model, train_set, config, checkpoint, progress)
    state, result = launch(config.ddp, _fit_replica, config, train_set, checkpoint, progress)[0]
    model = build_model(config)
    model.load_state_dict(state)
    return model, result


def _fit_replica(rank: int, world_size: int, config: RunConfig, train_set: Dataset, checkpoint, progress: bool):
    """One data-parallel process: its own executor seed, gradients averaged by DistributedDataParallel."""
    replica = nn.parallel.DistributedDataParallel(build_model(config, rank))
    result = fit(replica, train_set, config, checkpoint, progress)
    return (replica.module.state_dict(), result) if rank == 0 else None


def _mean_over_processes(total: float, seen: int) -> float:
    sums = torch.tensor([total, seen], dtype=torch.float64)
    dist.all_reduce(sums)
    return float(sums[0] / sums[1])


@torch.no_grad()
def predict_proba(model: Net, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities (N, n_classes) for images (N, 1, 28, 28), in eval mode (no dropout)."""
    model.eval()
    return torch.cat([model(chunk) for chunk in images.split(batch_size)])


@torch.no_grad()
def evaluate(model: Net, test_set: Dataset, loss: str = "chapter", batch_size: int = 256) -> Evaluation:
    """Accuracy and mean loss of ``model`` on ``test_set``, in eval mode."""
    model.eval()
    loss_fn = loss_function(loss, reduction="sum")
    correct, total, seen = 0, 0.0, 0
    for images, target in DataLoader(test_set, batch_size=batch_size):
        probs = model(images)
        correct += int((probs.argmax(-1) == target).sum())
        total += float(loss_fn(probs, target))
        seen += len(target)
    return Evaluation(correct / seen, total / seen)
