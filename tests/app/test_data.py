"""MNIST loading: the embedded digits, the torchvision path on IDX files written here, and the image reader."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from hqnn.app.data import EMBEDDED_PER_CLASS, embedded_mnist, load_mnist, read_image


def write_idx(root, train_per_digit: int = 30, test_per_digit: int = 20) -> None:
    """Raw, uncompressed MNIST IDX files under root/MNIST/raw/, built from the embedded digits."""
    images, labels = embedded_mnist()
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, first, count in (("train", 0, train_per_digit), ("t10k", train_per_digit, test_per_digit)):
        index = np.concatenate([np.flatnonzero(labels == d)[first : first + count] for d in range(10)])
        index = rng.permutation(index)  # MNIST's files are not sorted by digit
        n = len(index)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images[index].tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels[index].tobytes())


def test_embedded_shapes_ranges_balance():
    train, test = load_mnist()
    x, y = train.tensors
    assert x.shape == (200, 1, 28, 28) and x.dtype == torch.float32
    assert test.tensors[0].shape == (100, 1, 28, 28)
    assert 0.0 <= float(x.min()) and float(x.max()) == 1.0
    assert torch.bincount(y).tolist() == [100, 100]
    assert torch.bincount(test.tensors[1]).tolist() == [50, 50]


def test_embedded_matches_to_tensor_scaling_and_labels_are_class_indices():
    images, labels = embedded_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [EMBEDDED_PER_CLASS] * 10
    train, _ = load_mnist(digits=(7, 3), train_per_class=5, test_per_class=5)
    x, y = train.tensors
    assert y.tolist() == [0] * 5 + [1] * 5  # position in digits, not the digit
    first_seven = images[np.flatnonzero(labels == 7)[0]]
    assert torch.equal(x[0, 0], torch.from_numpy(first_seven).float() / 255)


def test_embedded_train_and_test_are_disjoint():
    train, test = load_mnist(digits=range(10), train_per_class=300, test_per_class=200)
    rows = {t.numpy().tobytes() for t in train.tensors[0]}
    assert len(train) == 3000 and len(test) == 2000
    assert not rows & {t.numpy().tobytes() for t in test.tensors[0]}


def test_embedded_asking_for_too_many_is_a_clear_error():
    with pytest.raises(ValueError, match=r"500 images of each digit; 450 train \+ 100 test = 550.*torchvision"):
        load_mnist(train_per_class=450, test_per_class=100)


@pytest.mark.parametrize(
    "digits, message",
    [((0, 10), "unknown digit 10: MNIST digits are 0 to 9"), ((1, 1), "repeat a digit"), ((3,), "at least 2")],
)
def test_bad_digits(digits, message):
    with pytest.raises(ValueError, match=message):
        load_mnist(digits=digits)


def test_torchvision_reads_idx_files(tmp_path):
    write_idx(tmp_path)
    train, test = load_mnist((0, 1), 30, 20, source="torchvision", root=tmp_path)
    images, labels = embedded_mnist()
    assert torch.bincount(train.tensors[1]).tolist() == [30, 30]
    assert torch.bincount(test.tensors[1]).tolist() == [20, 20]
    assert float(train.tensors[0].max()) == 1.0
    # the same digits as the embedded set (written shuffled, read back per class in file order)
    expected = {images[i].tobytes() for d in (0, 1) for i in np.flatnonzero(labels == d)[:30]}
    got = {(t[0] * 255).round().to(torch.uint8).numpy().tobytes() for t in train.tensors[0]}
    assert got == expected


def test_torchvision_too_few_images(tmp_path):
    write_idx(tmp_path)
    with pytest.raises(ValueError, match="test split has only 20 images of digit 0, 21 were asked for"):
        load_mnist((0, 1), 30, 21, source="torchvision", root=tmp_path)


def test_torchvision_missing_files_names_the_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"MNIST files not found under '{tmp_path}'.*--download"):
        load_mnist(source="torchvision", root=tmp_path)


def test_unknown_source():
    with pytest.raises(ValueError, match="unknown data source 'kaggle'"):
        load_mnist(source="kaggle")


def test_read_image_png_resized_and_npy(tmp_path):
    digit = embedded_mnist()[0][0]
    Image.fromarray(digit).resize((56, 56)).save(tmp_path / "big.png")
    np.save(tmp_path / "digit.npy", digit)
    np.save(tmp_path / "float.npy", digit.astype(np.float32) / 255)
    big = read_image(tmp_path / "big.png")
    assert big.shape == (1, 28, 28) and 0 <= float(big.min()) and float(big.max()) <= 1
    assert float((big[0] - torch.from_numpy(digit) / 255).abs().mean()) < 0.05
    exact = torch.from_numpy(digit).float().unsqueeze(0) / 255
    assert torch.allclose(read_image(tmp_path / "digit.npy"), exact)
    assert torch.allclose(read_image(tmp_path / "float.npy"), exact)


def test_read_image_errors(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not a png")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="cannot read image .*junk.png"):
        read_image(tmp_path / "junk.png")
    with pytest.raises(ValueError, match=r"cannot read image .*cube.npy.*2-D array"):
        read_image(tmp_path / "cube.npy")


def test_torchvision_garbage_idx_files_are_named(tmp_path):
    write_idx(tmp_path)
    labels = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x01 truncated")
    with pytest.raises(ValueError, match=rf"{labels} is not a valid MNIST IDX file \(.*\).*--download"):
        load_mnist((0, 1), 30, 20, source="torchvision", root=tmp_path)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width × height`` pixels and holds none: PIL refuses it from the header alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_read_image_refuses_a_decompression_bomb(tmp_path):
    """15000 × 15000 pixels: refused from the header, before any pixel is decoded."""
    (tmp_path / "bomb.png").write_bytes(png_header(15000, 15000))
    with pytest.raises(ValueError, match=r"cannot read image .*bomb.png.*225000000 pixels.*Shrink it"):
        read_image(tmp_path / "bomb.png")
