"""Datasets held whole as tensors on the training device.

MNIST and Fashion-MNIST come through torchvision (downloaded once into a data dir, then read from
the original IDX files and checked); scikit-learn's bundled 8×8 digits work offline. The training
loop slices these tensors directly: no per-sample PIL transform, no DataLoader.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DATA_DIR_ENV = "BN_DEMO_DATA_DIR"
OFFLINE_DATASET = "digits"
DIGITS_SPLIT_SEED = 0  # fixed: the digits train/held-out split never changes between runs
DIGITS_TEST_FRACTION = 0.2
TEST_ONLY_TRAIN = 8_000  # when only MNIST's test split is on disk: first 8,000 train, rest held out

# name -> (torchvision class name = folder under the data dir, display name, class labels)
TORCHVISION_SETS = {
    "mnist": ("MNIST", "MNIST", [str(d) for d in range(10)]),
    "fashion-mnist": (
        "FashionMNIST",
        "Fashion-MNIST",
        ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"],
    ),
}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}


class DataUnavailable(RuntimeError):
    """A dataset could not be had. The message says what failed, where, what is expected, and
    that the offline dataset works; `fallback` names that dataset for callers that fall back."""

    fallback = OFFLINE_DATASET


@dataclass
class Dataset:
    name: str  # config name: mnist, fashion-mnist, digits
    title: str  # for people: "MNIST"
    train_x: torch.Tensor  # (n, features) float32 in [0, 1], on the training device
    train_y: torch.Tensor  # (n,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    train_split: str  # what the training split really is, e.g. "MNIST train (60,000)"
    test_split: str  # what the held-out split really is
    image_shape: tuple[int, int]
    classes: list[str]
    note: str = ""  # anything a user must know (e.g. "only the test split was on disk")

    @property
    def n_features(self) -> int:
        return self.train_x.shape[1]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "train_split": self.train_split,
            "test_split": self.test_split,
            "n_train": int(self.train_x.shape[0]),
            "n_test": int(self.test_x.shape[0]),
            "image_shape": list(self.image_shape),
            "classes": list(self.classes),
            "note": self.note,
        }

    def to(self, device) -> Dataset:
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")}
        return Dataset(**{**self.__dict__, **moved})


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $BN_DEMO_DATA_DIR, else ./data."""
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or "data").expanduser()


def load_dataset(name: str, data_dir=None, device="cpu", download: bool = True) -> Dataset:
    if name == "digits":
        return load_digits().to(device)
    if name not in TORCHVISION_SETS:
        raise ValueError(f"unknown dataset {name!r}")
    return load_torchvision_set(name, resolve_data_dir(data_dir), download=download).to(device)


def dataset_state(name: str, data_dir=None) -> str:
    """'offline' (bundled), 'cached' (all files on disk), 'partial' (test split only) or 'missing'."""
    if name == "digits":
        return "offline"
    raw = raw_folder(name, resolve_data_dir(data_dir))
    have = {split: all((raw / f).exists() for f in IDX_FILES[split][:2]) for split in IDX_FILES}
    return "cached" if all(have.values()) else "partial" if have["test"] else "missing"


def raw_folder(name: str, root: Path) -> Path:
    return Path(root) / TORCHVISION_SETS[name][0] / "raw"


def load_torchvision_set(name: str, root: Path, download: bool = True) -> Dataset:
    folder, title, classes = TORCHVISION_SETS[name]
    raw = raw_folder(name, root)
    expected = ", ".join(f for split in IDX_FILES.values() for f in split[:2])
    state = dataset_state(name, root)
    download_error = None
    if state != "cached" and download:
        try:
            _download(name, root)
            state = "cached"
        except Exception as exc:  # network errors come in many types; all mean "not downloaded"
            download_error = _one_line(exc)
    if state == "missing":
        raise DataUnavailable(
            f"{title} is not available: "
            + (f"the download failed ({download_error}). " if download_error else "its files are not on disk. ")
            + f"Looked in {raw} for {expected}. "
            + f"Put the IDX files there (or pass --data-dir), or use the offline dataset '{OFFLINE_DATASET}'."
        )
    test_x, test_y = read_idx_split(raw, "test", title)
    if state == "cached":
        train_x, train_y = read_idx_split(raw, "train", title)
        return Dataset(name, title, train_x, train_y, test_x, test_y,
                       train_split=f"{title} train ({len(train_y):,})",
                       test_split=f"{title} test ({len(test_y):,})",
                       image_shape=(28, 28), classes=classes)
    # Only the test split is here (e.g. an offline machine with ../shared/data): train on part of it
    # and hold out the rest, and say so everywhere the splits are named.
    n = min(TEST_ONLY_TRAIN, len(test_y) - len(test_y) // 5)
    why = f"the download failed ({download_error})" if download_error else "the training files are missing"
    return Dataset(name, title, test_x[:n], test_y[:n], test_x[n:], test_y[n:],
                   train_split=f"{title} test[:{n:,}] (training split unavailable)",
                   test_split=f"{title} test[{n:,}:] ({len(test_y) - n:,} held out)",
                   image_shape=(28, 28), classes=classes,
                   note=f"Only the {title} test split is on disk ({why}): training on its first {n:,} "
                        f"images and evaluating on the other {len(test_y) - n:,}.")


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _download(name: str, root: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_SETS[name][0])
    root.mkdir(parents=True, exist_ok=True)
    cls(str(root), train=True, download=True)  # fetches and md5-checks both splits


def read_idx_split(raw: Path, split: str, title: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and check one split's images and labels; any defect becomes a DataUnavailable that
    names the file, what is wrong and what to do."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    image_file, label_file, expected_count = IDX_FILES[split]
    md5s = _md5_table(raw.parent.name)
    images = _read_checked(raw / image_file, read_image_file, title, md5s)
    labels = _read_checked(raw / label_file, read_label_file, title, md5s)
    problem = None
    if len(images) != expected_count and len(images) < 2:
        problem = f"{image_file} holds {len(images)} images, expected {expected_count:,}"
    elif images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        problem = f"{image_file} holds images of shape {tuple(images.shape[1:])}, expected 28×28"
    elif len(images) != len(labels):
        problem = f"{image_file} has {len(images):,} images but {label_file} has {len(labels):,} labels"
    elif len(labels) and (int(labels.min()) < 0 or int(labels.max()) > 9):
        problem = f"{label_file} has labels outside 0–9"
    if problem:
        raise _corrupt(raw, title, problem)
    x = images.reshape(len(images), -1).to(torch.float32).div_(255.0)
    return x, labels.to(torch.int64)


def _read_checked(path: Path, reader, title: str, md5s: dict) -> torch.Tensor:
    if not path.exists():
        raise _corrupt(path.parent, title, f"{path.name} is missing")
    gz = path.with_name(path.name + ".gz")
    md5 = md5s.get(gz.name)
    if gz.exists() and md5 and _md5(gz) != md5:
        raise _corrupt(path.parent, title, f"{gz.name} fails its md5 check (damaged download)")
    try:
        return reader(str(path))
    except Exception as exc:  # torchvision asserts on a bad header, numpy/torch raise on a short file
        raise _corrupt(path.parent, title, f"{path.name} is truncated or not an IDX file ({type(exc).__name__})") from exc


def _corrupt(raw: Path, title: str, problem: str) -> DataUnavailable:
    return DataUnavailable(
        f"{title} files in {raw} are unusable: {problem}. Delete the folder to download again, "
        f"or use the offline dataset '{OFFLINE_DATASET}'."
    )


def _md5_table(folder: str) -> dict:
    """torchvision's published md5 of each .gz download, for the dataset stored in `folder`."""
    import torchvision.datasets as tvd

    return dict(getattr(tvd, folder).resources)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def load_digits() -> Dataset:
    """scikit-learn's bundled 1,797 8×8 digits, split 80/20 by a fixed seeded permutation."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.from_numpy((bunch.data / 16.0).astype(np.float32))  # pixel values are 0..16
    y = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(DIGITS_SPLIT_SEED).permutation(len(y)))
    n_test = int(round(len(y) * DIGITS_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", "8×8 digits (scikit-learn)", x[train], y[train], x[test], y[test],
                   train_split=f"digits train ({len(train):,}, seeded split)",
                   test_split=f"digits held-out ({len(test):,}, seeded split)",
                   image_shape=(8, 8), classes=[str(d) for d in range(10)])


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (big-endian header): used by tests and tools to make
    small MNIST-layout folders without a network."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(header + array.tobytes())
