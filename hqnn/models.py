"""The chapter's hybrid CNN: two conv layers and two linear layers squeeze a digit to one angle θ, the
quantum layer turns θ into p = P(measure 1), and the output is the class probabilities (p, 1 − p).
``head="classical"`` puts a sigmoid where the circuit was: the control the chapter's "What now?" asks for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig
from .layer import Hybrid

HEADS = ("hybrid", "classical")


class Net(nn.Module):
    """``Net()`` is the chapter's network for any batch: (B, 1, 28, 28) → (B, n_classes) probabilities.

    ``backend``, ``shots``, ``shift`` and ``seed`` go to :class:`hqnn.Hybrid` (ignored by the classical head).
    """

    def __init__(
        self,
        head: str = "hybrid",
        backend="aer",
        shots: int | None = 100,
        shift: float = math.pi / 2,
        *,
        n_classes: int = 2,
        seed: int | None = None,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}: use one of {HEADS}")
        if n_classes != 2:
            raise ValueError(
                f"the chapter's Net tells exactly 2 digits apart (it outputs p, 1 − p), got {n_classes} classes: "
                "pass 2 digits"
            )
        self.n_classes = n_classes
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.dropout = nn.Dropout2d()
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 1)
        self.head = Hybrid(backend, shots, shift, seed=seed) if head == "hybrid" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(x)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = self.head(self.fc2(x))
        return torch.cat((x, 1 - x), -1)


def build_model(config: RunConfig) -> Net:
    """The network ``config`` describes, its classical weights drawn from ``config.seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return Net(
            config.head, config.backend, config.shots, config.shift, n_classes=config.n_classes, seed=config.seed
        )
