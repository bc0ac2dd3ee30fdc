"""The chapter's two figures: training convergence (mean loss per epoch) and test digits titled with their
predicted label. Drawn with matplotlib's Agg backend (no display needed), saved atomically as PNG.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402
import torch  # noqa: E402

from .atomic import atomic_write  # noqa: E402

LOSS_LABELS = {"chapter": "NLLLoss on probabilities (−p correct)", "nll": "Neg Log Likelihood Loss"}


def plot_loss(path: str | os.PathLike, train_loss: Sequence[float], loss: str = "chapter", title: str = "") -> Path:
    """Mean training loss per epoch, like the chapter's 'Hybrid NN Training Convergence'."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(train_loss) + 1), train_loss, marker="o", markersize=3)
    ax.set_title(title or "Hybrid NN Training Convergence")
    ax.set_xlabel("Training Iterations (epochs)")
    ax.set_ylabel(LOSS_LABELS.get(loss, loss))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_predictions(
    path: str | os.PathLike, images: torch.Tensor, predicted: Sequence[int], columns: int = 6
) -> Path:
    """A grid of digits (N, 1, 28, 28), each titled 'Predicted d', like the chapter's last figure."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(10, 3 * rows / 1.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(images[k].squeeze(0).cpu().numpy(), cmap="gray")
            ax.set_title(f"Predicted {predicted[k]}")
        else:
            ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
