"""Datasets held whole as tensors on the training device.

MNIST and Fashion-MNIST are downloaded once into a data dir by torchvision, then read from the
original IDX files with NumPy and checked (a run with the files on disk never imports torchvision,
whose import pulls in torch._dynamo: a second or two of every short run); scikit-learn's bundled 8×8
digits work offline. The training loop slices these tensors directly: no per-sample PIL transform, no
DataLoader.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
DATA_DIR_ENV = "BN_DEMO_DATA_DIR"
OFFLINE_DATASET = "digits"
DIGITS_SPLIT_SEED = 0  # fixed: the digits train/held-out split never changes between runs
DIGITS_TEST_FRACTION = 0.2
TEST_ONLY_TRAIN = 8_000  # when only MNIST's test split is on disk: first 8,000 train, rest held out
DIGITS_EXAMPLES = 1797  # scikit-learn's bundled 8×8 digits (a fixed set)

# name -> (torchvision class name = folder under the data dir, class labels)
TORCHVISION_SETS = {
    "mnist": ("MNIST", [str(d) for d in range(10)]),
    "fashion-mnist": (
        "FashionMNIST",
        ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"],
    ),
}
# Each dataset's image size (the networks see it flattened): the loaders' and the run queue's one source.
IMAGE_SHAPES = {"mnist": (28, 28), "fashion-mnist": (28, 28), "digits": (8, 8)}
N_CLASSES = 10  # every dataset here has ten classes
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
# The published md5 of each .gz download, per folder: torchvision's MNIST.resources and
# FashionMNIST.resources, copied so that checking files on disk needs no torchvision (a test keeps
# them equal).
GZ_MD5 = {
    "MNIST": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
IDX_UBYTE = 0x08  # the IDX type code of unsigned bytes, the only type MNIST's files use


class DataUnavailable(RuntimeError):
    """A dataset could not be had, as data: `dataset`, a `problem` code and its facts (`file`, counts),
    plus `detail` (a download error's own words, path-free) for a "technical detail" view. Readers
    phrase it (ui/strings.py `data_problem`); `fallback` names the dataset that works offline."""

    fallback = OFFLINE_DATASET
    PROBLEMS = ("download_failed", "not_on_disk", "file_missing", "md5_mismatch", "unreadable", "too_few_images",
                "wrong_shape", "count_mismatch", "labels_out_of_range")

    def __init__(self, dataset: str, problem: str, detail: str = "", **facts):
        self.dataset, self.problem, self.detail, self.facts = dataset, problem, detail, facts
        super().__init__(f"{dataset}: {problem}" + (f" ({detail})" if detail else ""))

    def as_error(self) -> dict:
        """The run record's `error` entry."""
        return {"code": "data_unavailable", "dataset": self.dataset, "problem": self.problem, "detail": self.detail,
                **self.facts}


@dataclass
class Dataset:
    name: str  # config name: mnist, fashion-mnist, digits
    train_x: torch.Tensor  # (n, features) float32 in [0, 1], on the training device
    train_y: torch.Tensor  # (n,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    # Which rows of which file each split is: {"train"|"test": {"file": "train"|"test", "start", "stop"}}.
    splits: dict
    image_shape: tuple[int, int]
    classes: list[str]
    seeded: bool = False  # the splits are a fixed seeded permutation of one set (digits)
    partial: str | None = None  # why only the test file is used: "download_failed" | "train_missing"

    @property
    def n_features(self) -> int:
        return self.train_x.shape[1]

    def describe(self) -> dict:
        """The run record's `dataset` section (bn_demo/record.py): codes and numbers, no prose."""
        return {
            "name": self.name,
            "n_train": int(self.train_x.shape[0]),
            "n_test": int(self.test_x.shape[0]),
            "splits": {k: dict(v) for k, v in self.splits.items()},
            "seeded": self.seeded,
            "partial": self.partial,
            "image_shape": list(self.image_shape),
            "classes": list(self.classes),
            "fallback_from": None,
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
    folder, classes = TORCHVISION_SETS[name]
    raw = raw_folder(name, root)
    state = dataset_state(name, root)
    download_error = None
    if state != "cached" and download:
        try:
            _download(name, root)
            state = "cached"
        except Exception as exc:  # network errors come in many types; all mean "not downloaded"
            # Path-free for viewers, as every message here (a relative path tells nothing); the server
            # log has the path.
            download_error = _one_line(exc)
            if Path(root).is_absolute():
                download_error = download_error.replace(str(root), "[data folder]")
    if state == "missing":
        raise _unavailable(raw, name, "download_failed" if download_error else "not_on_disk", download_error or "",
                           folder=f"{folder}/raw")
    test_x, test_y = read_idx_split(raw, "test", name)
    if state == "cached":
        train_x, train_y = read_idx_split(raw, "train", name)
        return Dataset(name, train_x, train_y, test_x, test_y,
                       splits={"train": _rows("train", 0, len(train_y)), "test": _rows("test", 0, len(test_y))},
                       image_shape=IMAGE_SHAPES[name], classes=classes)
    # Only the test split is here (e.g. an offline machine with ../shared/data): train on part of it
    # and hold out the rest, and say so everywhere the splits are named.
    n = test_only_train_count(len(test_y))
    return Dataset(name, test_x[:n], test_y[:n], test_x[n:], test_y[n:],
                   splits={"train": _rows("test", 0, n), "test": _rows("test", n, len(test_y))},
                   image_shape=IMAGE_SHAPES[name], classes=classes,
                   partial="download_failed" if download_error else "train_missing")


def test_only_train_count(n_test_file: int) -> int:
    """Examples a test-split-only folder trains on: the first TEST_ONLY_TRAIN, at most 80 %."""
    return min(TEST_ONLY_TRAIN, n_test_file - n_test_file // 5)


def digits_test_count(n: int = DIGITS_EXAMPLES) -> int:
    """The digits' held-out part: a fixed fraction of the set (the rest trains)."""
    return int(round(n * DIGITS_TEST_FRACTION))


def _rows(file: str, start: int, stop: int) -> dict:
    return {"file": file, "start": start, "stop": stop}


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _download(name: str, root: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_SETS[name][0])
    root.mkdir(parents=True, exist_ok=True)
    cls(str(root), train=True, download=True)  # fetches and md5-checks both splits


def read_idx_split(raw: Path, split: str, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and check one split's images and labels; any defect becomes a DataUnavailable that
    names the file and what is wrong with it."""
    import torch

    image_file, label_file, expected_count = IDX_FILES[split]
    md5s = GZ_MD5[raw.parent.name]
    images = _read_checked(raw / image_file, 3, name, md5s)
    labels = _read_checked(raw / label_file, 1, name, md5s)
    if len(images) != expected_count and len(images) < 2:
        raise _unavailable(raw, name, "too_few_images", file=image_file, count=len(images), expected=expected_count)
    if tuple(images.shape[1:]) != (28, 28):
        raise _unavailable(raw, name, "wrong_shape", file=image_file, shape=list(images.shape[1:]))
    if len(images) != len(labels):
        raise _unavailable(raw, name, "count_mismatch", file=image_file, label_file=label_file,
                           count=len(images), labels=len(labels))
    if len(labels) and int(labels.max()) > 9:  # uint8: never below 0
        raise _unavailable(raw, name, "labels_out_of_range", file=label_file)
    x = torch.from_numpy(images.reshape(len(images), -1)).to(torch.float32).div_(255.0)
    return x, torch.from_numpy(labels).to(torch.int64)


def _read_checked(path: Path, ndim: int, name: str, md5s: dict) -> np.ndarray:
    if not path.exists():
        raise _unavailable(path.parent, name, "file_missing", file=path.name)
    gz = path.with_name(path.name + ".gz")
    md5 = md5s.get(gz.name)
    if gz.exists() and md5 and _md5(gz) != md5:
        raise _unavailable(path.parent, name, "md5_mismatch", file=gz.name)
    try:
        return read_idx(path, ndim)
    except (ValueError, OSError) as exc:  # not an IDX file; or not a readable file (a folder, no permission)
        raise _unavailable(path.parent, name, "unreadable", type(exc).__name__, file=path.name) from exc


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """A uint8 IDX file with `ndim` dimensions as a writable array of that shape. It accepts what
    torchvision's read_image_file (3) and read_label_file (1) accept: header bytes 0, 0, 0x08, ndim, then
    ndim big-endian uint32 sizes, then exactly their product of bytes, at least one; anything else
    raises ValueError."""
    data = np.fromfile(path, dtype=np.uint8)
    offset = 4 * (ndim + 1)
    if len(data) <= offset or data[:4].tolist() != [0, 0, IDX_UBYTE, ndim]:
        raise ValueError(f"not a uint8 IDX file with {ndim} dimensions, or no data after its header")
    shape = tuple(int(d) for d in data[4:offset].view(">u4"))
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(f"{len(data) - offset} bytes of data for shape {shape}")
    return data[offset:].reshape(shape)


def _unavailable(where: Path, dataset: str, problem: str, detail: str = "", **facts) -> DataUnavailable:
    """The error names no server path (viewers see it); the path goes to the server's log (and the CLI,
    whose user runs the server, prints it: cli.py)."""
    error = DataUnavailable(dataset, problem, detail, **facts)
    log.warning("%s [folder: %s]", error, Path(where).resolve())
    return error


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def load_digits() -> Dataset:
    """scikit-learn's bundled 1,797 8×8 digits, split 80/20 by a fixed seeded permutation."""
    import torch
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.from_numpy((bunch.data / 16.0).astype(np.float32))  # pixel values are 0..16
    y = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(DIGITS_SPLIT_SEED).permutation(len(y)))
    n_test = digits_test_count(len(y))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test],
                   splits={"train": _rows("train", 0, len(train)), "test": _rows("test", 0, len(test))},
                   image_shape=IMAGE_SHAPES[OFFLINE_DATASET], classes=[str(d) for d in range(N_CLASSES)], seeded=True)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (big-endian header): used by tests and tools to make
    small MNIST-layout folders without a network."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(header + array.tobytes())
