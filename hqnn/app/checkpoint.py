"""Checkpoints: a model's state_dict with the config that rebuilds it, its layers' shot-noise streams, and
(format 2) the optimizer and RNG states that let ``hqnn train --resume`` continue the run exactly.

Written atomically (see :mod:`hqnn.app.atomic`): a run interrupted while saving leaves the previous one whole.
Everything is stored in a form ``torch.load(weights_only=True)`` accepts: numpy arrays become byte tensors.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .atomic import atomic_write
from .config import RunConfig
from ..layer import Hybrid
from .models import Net, build_model

FORMAT = "hqnn-checkpoint/2"
#: Format 1 (no shot-noise or training state) still loads for evaluate and predict, but cannot be resumed.
FORMATS = ("hqnn-checkpoint/1", FORMAT)
_ARRAY = "__numpy_array__"


@dataclass
class TrainingState:
    """What :func:`hqnn.app.train.fit` needs besides the weights to continue after an epoch exactly as if it had
    not stopped: Adam's state, the counters, the data order's generator (one process) and, per data-parallel
    process, the torch and numpy global RNG states and each quantum layer's shot-noise state."""

    optimizer: dict
    steps: int
    seconds: float
    shuffle: torch.Tensor | None
    ranks: list[dict]
    executions: int = 0
    checks: list = field(default_factory=list)


@dataclass
class Checkpoint:
    """A restored model (in eval mode, its shot noise where it was at the save), its config, how far its
    training got, and the state to resume it (``None`` for a format-1 checkpoint)."""

    model: Net
    config: RunConfig
    epoch: int
    train_loss: list[float] = field(default_factory=list)
    training: TrainingState | None = None
    threads: int | None = None  # torch threads of the process that trained it (None: an older checkpoint)


def save_checkpoint(
    path: str | os.PathLike,
    model: Net,
    config: RunConfig,
    epoch: int,
    train_loss: list[float],
    training: TrainingState | None = None,
) -> Path:
    """Write ``model``'s weights and shot-noise states, ``config``, the per-epoch losses and (to resume)
    ``training`` to ``path`` atomically."""
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "epoch": epoch,
        "train_loss": list(train_loss),
        "state_dict": model.state_dict(),
        "shot_noise": storable(shot_noise_state(model)),
        "training": None if training is None else storable(asdict(training)),
        "threads": torch.get_num_threads(),  # torch's sums depend on it: a resume keeps it
    }
    buffer = io.BytesIO()  # serialise first: a full disk then fails as a plain OSError in the write below
    torch.save(payload, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint at ``path``; FileNotFoundError if missing, ValueError if it is not a whole hqnn checkpoint."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} is a folder, not a checkpoint file: pass the model.pt in it "
            f"({os.fspath(path / 'model.pt')!r})"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {os.fspath(path)!r} does not exist: train one with `hqnn train` (it writes <out>/model.pt)"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {os.fspath(path)!r} is empty (0 bytes), a copy that did not finish? retrain, or pick another")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} is corrupt or not a torch file ({_reason(error)}); hqnn reads only the "
            "plain data its own checkpoints hold: retrain, or pick another"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") not in FORMATS:
        raise ValueError(f"{os.fspath(path)!r} is not an hqnn checkpoint (no {FORMAT!r} format tag)")
    try:
        config = RunConfig.from_dict(payload["config"])
        model = build_model(config)
        model.load_state_dict(payload["state_dict"])
        epoch, train_loss = int(payload["epoch"]), [float(v) for v in payload["train_loss"]]
        threads = payload.get("threads")
        threads = int(threads) if isinstance(threads, int) and threads > 0 else None
        training = None
        if payload["format"] == FORMAT:
            set_shot_noise_state(model, restored(payload["shot_noise"]))
            if payload["training"] is not None:
                training = TrainingState(**restored(payload["training"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not match this hqnn's model: {error}") from error
    return Checkpoint(model.eval(), config, epoch, train_loss, training, threads)


def _reason(error: Exception) -> str:
    """torch's error in a line, without its advice to load with ``weights_only=False``: that runs arbitrary code
    from the file, which a checkpoint that fails this check must never get."""
    text = str(error).strip()
    if not text or "weights_only" in text:
        return {"UnpicklingError": "not a pickle torch can read safely"}.get(type(error).__name__, type(error).__name__)
    return text.splitlines()[0]


def shot_noise_state(model: nn.Module) -> dict[str, Any]:
    """Each :class:`~hqnn.Hybrid` layer's shot-noise state (``rng_state()``), by module name."""
    return {name: module.rng_state() for name, module in model.named_modules() if isinstance(module, Hybrid)}


def set_shot_noise_state(model: nn.Module, states: dict[str, Any]) -> None:
    """Continue each :class:`~hqnn.Hybrid` layer's shot noise from ``states`` (from :func:`shot_noise_state`)."""
    layers = {name: module for name, module in model.named_modules() if isinstance(module, Hybrid)}
    if set(layers) != set(states):
        raise ValueError(f"shot-noise states for layers {sorted(states)}, but the model has {sorted(layers)}")
    for name, layer in layers.items():
        layer.set_rng_state(states[name])


def storable(value: Any) -> Any:
    """``value`` (dicts, lists, tuples, numbers, strings, tensors, numpy arrays and scalars) with every numpy
    array or scalar replaced by a byte tensor and its dtype and shape, which ``weights_only`` loading accepts."""
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(storable(item) for item in value)
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.array(value)
        if array.dtype.hasobject:
            raise TypeError(f"cannot store a numpy array of Python objects ({array.dtype}) in a checkpoint")
        raw = torch.from_numpy(np.frombuffer(array.tobytes(), dtype=np.uint8).copy())
        return {_ARRAY: raw, "dtype": array.dtype.str, "shape": list(array.shape), "scalar": isinstance(value, np.generic)}
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint: use numbers, strings, tensors or arrays")


def restored(value: Any) -> Any:
    """The inverse of :func:`storable`."""
    if isinstance(value, dict):
        if _ARRAY in value:
            array = np.frombuffer(value[_ARRAY].numpy().tobytes(), dtype=np.dtype(value["dtype"]))
            array = array.reshape(value["shape"]).copy()
            return array[()] if value["scalar"] else array
        return {key: restored(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(restored(item) for item in value)
    return value
