"""Configuration validation, presets, and the dataset loaders (no network, no ../shared needed)."""

import gzip
import hashlib

import numpy as np
import pytest
import torch

from bn_demo import data
from bn_demo.config import PRESETS, ConfigError, RunConfig, parse_hidden
from bn_demo.data import DataUnavailable, dataset_state, load_dataset
from bn_demo.history import BoundedSeries
from conftest import make_idx_folder


@pytest.mark.parametrize(
    "changes,field,hint",
    [
        (dict(batch_size=1), "batch_size", "BatchNorm"),
        (dict(lr=-0.1), "lr", "(0, 10]"),
        (dict(lr=float("nan")), "lr", "(0, 10]"),
        (dict(dataset="cifar"), "dataset", "mnist, fashion-mnist, digits"),
        (dict(activation="gelu"), "activation", "relu, sigmoid, tanh"),
        (dict(optimizer="rmsprop"), "optimizer", "sgd, momentum, adam"),
        (dict(epochs=0, steps=0), "epochs", "zero steps"),
        (dict(epochs=10_000), "epochs", "0 to 200"),
        (dict(hidden=(32, 0)), "hidden", "1 to 2,048"),
        (dict(hidden=()), "hidden", "hidden layers"),
        (dict(batch_size=2.5), "batch_size", "integer"),
        (dict(device="tpu"), "device", "auto, cpu, cuda, mps"),
        (dict(bn_momentum=1.5), "bn_momentum", "[0, 1]"),
        (dict(init_std=0), "init_std", "(0, 100]"),
    ],
)
def test_invalid_settings_name_field_value_and_what_is_allowed(changes, field, hint):
    with pytest.raises(ConfigError) as err:
        RunConfig(**changes).validate()
    assert err.value.field == field
    message = str(err.value)
    assert message.startswith(f"{field}=") and repr(changes[field] if field in changes else 0)[:3] in message
    assert hint in message


def test_batch_of_one_is_fine_without_bn_and_hidden_parses():
    RunConfig(batch_size=1, model="plain").validate()
    assert parse_hidden("100, 100,100") == (100, 100, 100)
    assert RunConfig(hidden="8,4").hidden == (8, 4)
    with pytest.raises(ConfigError, match="hidden"):
        parse_hidden("a,b")


def test_from_dict_round_trips_and_rejects_unknown_keys():
    cfg = PRESETS["ioffe2015"].config(seed=3)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="colour"):
        RunConfig.from_dict({"colour": "red"})


def test_presets_are_valid_and_explained():
    assert {"tutorial", "ioffe2015", "high-lr", "bad-init", "deep-sigmoid"} <= set(PRESETS)
    for preset in PRESETS.values():
        preset.config().validate()
        assert len(preset.summary) > 30 and "\n" not in preset.summary
    t = PRESETS["tutorial"].config()
    assert (t.dataset, t.hidden, t.activation, t.optimizer, t.lr, t.batch_size, t.epochs, t.seed) == (
        "mnist", (32, 32), "relu", "adam", 0.01, 32, 10, 1)
    p = PRESETS["ioffe2015"].config()
    assert (p.hidden, p.activation, p.init, p.batch_size, p.steps) == ((100, 100, 100), "sigmoid", "gaussian", 60, 50_000)


def test_total_steps_and_cadences():
    cfg = RunConfig(epochs=10, batch_size=32)
    assert cfg.total_steps(60_000) == 18_750
    assert RunConfig(steps=500).total_steps(60_000) == 500
    c = cfg.cadences(18_750)
    assert c["probe_every"] == 187 and c["ics_every"] == 935 and c["eval_every"] == 375


def test_mnist_loader_reads_idx_files_in_torchvision_layout(idx_root):
    assert dataset_state("mnist", idx_root) == "cached"
    ds = load_dataset("mnist", idx_root, download=False)
    assert ds.train_x.shape == (120, 784) and ds.test_x.shape == (40, 784)
    assert ds.train_x.dtype == torch.float32 and 0 <= float(ds.train_x.min()) and float(ds.train_x.max()) == 1.0
    assert ds.train_y.dtype == torch.int64 and ds.train_split == "MNIST train (120)" and ds.note == ""
    assert ds.test_split == "MNIST test (40)"


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    make_idx_folder(tmp_path, folder="FashionMNIST")
    ds = load_dataset("fashion-mnist", tmp_path, download=False)
    assert ds.classes[0] == "T-shirt" and ds.title == "Fashion-MNIST"
    assert dataset_state("mnist", tmp_path) == "missing"


def test_missing_data_gives_one_clear_message(tmp_path):
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path / "nowhere", download=False)
    message = str(err.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "'digits'" in message and err.value.fallback == "digits"


def test_failed_download_says_so(tmp_path, monkeypatch):
    def offline(name, root):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(DataUnavailable, match="download failed .*Name or service not known.*offline dataset 'digits'"):
        load_dataset("mnist", tmp_path, download=True)


def test_truncated_and_corrupt_files_are_named(idx_root):
    raw = idx_root / "MNIST" / "raw"
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(DataUnavailable, match="train-images-idx3-ubyte is truncated"):
        load_dataset("mnist", idx_root, download=False)
    images.write_bytes(b"not an idx file at all")
    with pytest.raises(DataUnavailable, match="train-images-idx3-ubyte"):
        load_dataset("mnist", idx_root, download=False)


def test_label_count_mismatch_and_bad_md5(tmp_path):
    raw = make_idx_folder(tmp_path)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(39, dtype=np.uint8))
    with pytest.raises(DataUnavailable, match="40 images but t10k-labels-idx1-ubyte has 39 labels"):
        load_dataset("mnist", tmp_path, download=False)
    raw = make_idx_folder(tmp_path / "b")
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"tampered")
    assert hashlib.md5((raw / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() != "d53e105ee54ea40749a09fcbcd1e9432"
    with pytest.raises(DataUnavailable, match="md5"):
        load_dataset("mnist", tmp_path / "b", download=False)


def test_test_split_only_is_used_and_labelled_as_such(tmp_path):
    raw = make_idx_folder(tmp_path, n_test=100)
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / f).unlink()
    assert dataset_state("mnist", tmp_path) == "partial"
    ds = load_dataset("mnist", tmp_path, download=False)
    assert len(ds.train_y) == 80 and len(ds.test_y) == 20  # at most 80 % for training
    assert "test[:80]" in ds.train_split and "held out" in ds.test_split and "test split" in ds.note


def test_digits_split_is_fixed():
    a, b = data.load_digits(), data.load_digits()
    assert torch.equal(a.test_y, b.test_y) and a.n_features == 64
    assert len(a.train_y) + len(a.test_y) == 1797 and len(a.test_y) == 359
    assert "seeded split" in a.train_split


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    assert str(data.resolve_data_dir()) == "data"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.resolve_data_dir() == tmp_path
    assert str(data.resolve_data_dir("/x")) == "/x"


def test_bounded_series_keeps_first_last_and_even_spacing():
    series = BoundedSeries(cap=2000)
    for step in range(1, 50_001):
        series.add(step)
    kept = series.items()
    assert len(kept) <= 2001 and kept[0] == 1 and kept[-1] == 50_000
    gaps = np.diff(kept[:-1])
    assert len(set(gaps)) == 1  # evenly thinned
    assert len(kept) > 1000  # and not thinned more than needed
    small = BoundedSeries(cap=4)
    for i in range(3):
        small.add(i)
    assert small.items() == [0, 1, 2]
