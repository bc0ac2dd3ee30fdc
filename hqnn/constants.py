"""Numpy constants as torch tensors, converted once per (key, dtype, device): a layer that moves to a GPU
or changes precision pays for the copy once, not per call."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import torch


class TensorCache:
    """``get(key, array, dtype, device)``: ``array`` as a tensor, cached under (key, dtype, device)."""

    def __init__(self):
        self._tensors: dict = {}

    def get(self, key: Hashable, array: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        slot = (key, dtype, torch.device(device))
        tensor = self._tensors.get(slot)
        if tensor is None:
            tensor = self._tensors[slot] = torch.tensor(np.asarray(array), dtype=dtype, device=device)
        return tensor
