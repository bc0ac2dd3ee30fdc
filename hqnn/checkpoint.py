"""Checkpoints: a model's state_dict with the config that rebuilds it, written atomically.

A run interrupted while saving leaves the previous checkpoint whole (see :mod:`hqnn.atomic`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .atomic import atomic_write
from .config import RunConfig
from .models import Net, build_model

FORMAT = "hqnn-checkpoint/1"


@dataclass
class Checkpoint:
    """A restored model (in eval mode), its config, and how far its training got."""

    model: Net
    config: RunConfig
    epoch: int
    train_loss: list[float] = field(default_factory=list)


def save_checkpoint(path: str | os.PathLike, model: Net, config: RunConfig, epoch: int, train_loss: list[float]) -> Path:
    """Write ``model``'s weights, ``config`` and the per-epoch losses to ``path`` atomically."""
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "epoch": epoch,
        "train_loss": list(train_loss),
        "state_dict": model.state_dict(),
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint at ``path``; FileNotFoundError if missing, ValueError if it is not a whole hqnn checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {os.fspath(path)!r} does not exist: train one with `hqnn train` (it writes <out>/model.pt)"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} is corrupt or not a torch file ({error}); retrain, or pick another"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not an hqnn checkpoint (no {FORMAT!r} format tag)")
    try:
        config = RunConfig.from_dict(payload["config"])
        model = build_model(config)
        model.load_state_dict(payload["state_dict"])
        epoch, train_loss = int(payload["epoch"]), [float(v) for v in payload["train_loss"]]
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not match this hqnn's model: {error}") from error
    return Checkpoint(model.eval(), config, epoch, train_loss)
