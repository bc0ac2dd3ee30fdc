"""One layer's seeded randomness: a numpy Generator for host simulators' seeds and numba draws, and per device a
torch Generator seeded from it for draws on that device. Its state is a plain dict that checkpoints keep, so a
resumed run continues the same shot-noise stream."""

from __future__ import annotations

import numpy as np
import torch

from .validation import check_seed

SeedLike = int | np.random.Generator | None


class ShotStream:
    """Seeded shot noise: ``numpy`` (a ``numpy.random.Generator``) and ``torch(device)`` generators."""

    def __init__(self, seed: SeedLike = None):
        self.numpy = np.random.default_rng(check_seed(seed))
        self._torch: dict[str, torch.Generator] = {}

    def next_seed(self) -> int:
        """A fresh simulator seed from the numpy generator."""
        return int(self.numpy.integers(0, 2**31 - 1))

    def torch(self, device: torch.device) -> torch.Generator:
        """The torch generator for ``device``, seeded from this stream the first time it is asked for."""
        key = str(torch.device(device))
        if key not in self._torch:
            self._torch[key] = torch.Generator(device=device).manual_seed(self.next_seed())
        return self._torch[key]

    def state(self) -> dict:
        """The whole stream's state (numpy's, and each device generator's as a CPU uint8 tensor)."""
        return {
            "numpy": self.numpy.bit_generator.state,
            "torch": {key: generator.get_state() for key, generator in self._torch.items()},
        }

    def set_state(self, state: dict) -> None:
        """Continue from a state returned by :meth:`state`."""
        try:
            self.numpy.bit_generator.state = state["numpy"]
            generators = {}
            for key, saved in state["torch"].items():
                generators[key] = torch.Generator(device=key)
                generators[key].set_state(saved)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"not a shot-stream state from ShotStream.state(): {error}") from error
        self._torch = generators
