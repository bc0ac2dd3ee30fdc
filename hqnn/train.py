"""Fit and evaluate with torch's own Adam and DataLoader: seeded shuffling, a progress bar, a checkpoint per epoch.

The quantum layer is just another module: its parameter-shift gradients arrive through autograd.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .checkpoint import save_checkpoint
from .config import RunConfig
from .losses import loss_function
from .models import Net


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
    model: Net,
    train_set: Dataset,
    config: RunConfig,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> FitResult:
    """Train ``model`` for ``config.epochs`` epochs; after each, write ``checkpoint`` (when given) atomically.

    Shuffling and dropout are drawn from ``config.seed``; the global torch RNG is left as it was.
    """
    loader = DataLoader(
        train_set, batch_size=config.batch_size, shuffle=True, generator=torch.Generator().manual_seed(config.seed)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = loss_function(config.loss)
    history: list[float] = []
    steps = 0
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for epoch in range(1, config.epochs + 1):
            model.train()
            total, seen = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress)
            for images, target in bar:
                optimizer.zero_grad()
                loss = loss_fn(model(images), target)
                loss.backward()
                optimizer.step()
                steps += 1
                total += loss.item() * len(target)
                seen += len(target)
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
            history.append(total / seen)
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, config, epoch, history)
    return FitResult(history, steps, time.perf_counter() - start)


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
