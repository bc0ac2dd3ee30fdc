"""Numpy constants as torch tensors, converted once per (key, dtype, device): a layer that moves to a GPU
or changes precision pays for the copy once, not per call."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import torch


class TensorCache:
    """``get(key, array, dtype, device)``: ``array`` as a tensor, cached under (key, dtype, device). ``array`` may
    be a function that makes it, called only when the tensor is not cached yet."""

    def __init__(self):
        self._tensors: dict = {}

    def get(
        self, key: Hashable, array: np.ndarray | Callable[[], np.ndarray], dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        slot = (key, dtype, torch.device(device))
        tensor = self._tensors.get(slot)
        if tensor is None:
            value = array() if callable(array) else array
            tensor = self._tensors[slot] = torch.tensor(np.asarray(value), dtype=dtype, device=device)
        return tensor
