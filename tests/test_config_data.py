"""Configuration validation, presets, and the dataset loaders (no network, no ../shared needed)."""

import dataclasses
import gzip
import hashlib
import json
import logging

import numpy as np
import pytest
import torch

from bn_demo import data
from bn_demo.config import (
    CLI_FLAGS,
    LINK_FIELDS,
    OPTIMIZERS,
    PRESETS,
    RULES,
    SHOWN_CHARS,
    WIDGET_FIELDS,
    ConfigError,
    RunConfig,
    parse_hidden,
)
from bn_demo.data import DataUnavailable, dataset_state, load_dataset
from bn_demo.history import BoundedSeries
from bn_demo.model import pick_device
from bn_demo.ui import controls, params
from bn_demo.ui.strings import (
    EN,
    KO,
    allowed_text,
    config_problem,
    data_problem,
    partial_note,
    preset_summary,
    split_label,
    t,
)
from conftest import make_idx_folder


@pytest.mark.parametrize(
    "changes,field,code,facts,hint",
    [
        (dict(batch_size=1), "batch_size", "bn_batch_one", {}, "BatchNorm"),
        (dict(lr=-0.1), "lr", "number_range", dict(low=0, high=10, low_open=True), "(0, 10]"),
        (dict(lr=float("nan")), "lr", "number_range", dict(low=0, high=10, low_open=True), "(0, 10]"),
        (dict(dataset="cifar"), "dataset", "choice", dict(options=("mnist", "fashion-mnist", "digits")),
         "mnist, fashion-mnist, digits"),
        (dict(activation="gelu"), "activation", "choice", dict(options=("relu", "sigmoid", "tanh")), "relu, sigmoid"),
        (dict(optimizer="rmsprop"), "optimizer", "choice", dict(options=("sgd", "momentum", "adam")), "sgd, momentum"),
        (dict(epochs=0, steps=0), "epochs", "no_steps", {}, "zero steps"),
        (dict(epochs=10_000), "epochs", "integer_range", dict(low=0, high=200), "0 to 200"),
        (dict(hidden=(32, 0)), "hidden", "width_range", dict(low=1, high=2048), "1 to 2,048"),
        (dict(hidden=()), "hidden", "layers_range", dict(low=1, high=12), "hidden layers"),
        (dict(batch_size=2.5), "batch_size", "integer_range", dict(low=1, high=8192), "integer"),
        (dict(device="tpu"), "device", "choice", dict(options=("auto", "cpu", "cuda", "mps")), "auto, cpu, cuda, mps"),
        (dict(bn_momentum=1.5), "bn_momentum", "number_range", dict(low=0, high=1, low_open=False), "[0, 1]"),
        (dict(init_std=0), "init_std", "number_range", dict(low=0, high=100, low_open=True), "(0, 100]"),
        # pace 1e-300 overflowed the wait between steps: OverflowError
        (dict(pace=1e-300), "pace", "pace_range", dict(low=0.5, high=1e6), "0 (full speed) or 0.5 to 1,000,000"),
        (dict(pace=0.25), "pace", "pace_range", dict(low=0.5, high=1e6), "0 (full speed) or 0.5"),
    ],
)
def test_invalid_settings_carry_field_value_rule_and_facts(changes, field, code, facts, hint):
    with pytest.raises(ConfigError) as err:
        RunConfig(**changes).validate()
    error = err.value
    assert (error.field, error.code, error.facts) == (field, code, facts)
    assert error.value == changes.get(field, 0) or error.value != error.value  # NaN is the value as given
    assert set(error.facts) == set(RULES[code])
    message = str(error)  # the short English fallback, phrased by ui/strings.py from the same data
    assert message.startswith(f"{field}=") and hint in message
    english, korean = config_problem(error, "en"), config_problem(error, "ko")
    assert hint in english and english.split("allowed: ")[1] != korean.split("허용: ")[1]  # the rule is translated


def test_a_config_error_is_data_that_round_trips_through_json():
    with pytest.raises(ConfigError) as err:
        RunConfig(device="tpu").validate()
    data = json.loads(json.dumps(err.value.as_dict()))
    assert data == {"field": "device", "value": "tpu", "code": "choice",
                    "facts": {"options": ["auto", "cpu", "cuda", "mps"]}, "conflict": ""}
    assert config_problem(data, "ko") == config_problem(err.value, "ko")  # a record's error reads the same
    with pytest.raises(ConfigError) as err:
        RunConfig(hidden=(8,) * 1000).validate()
    assert len(err.value.as_dict()["value"]) <= SHOWN_CHARS  # a value that is no number or string is cut


def test_every_rule_has_words_in_both_languages():
    for code, facts in RULES.items():
        sample = {"options": ("a", "b"), "known": ("x", "y"), "devices": ("cpu",), "low": 1, "high": 2_000,
                  "low_open": True, "n_train": 1_438}
        english, korean = (allowed_text(code, {k: sample[k] for k in facts}, lang) for lang in ("en", "ko"))
        assert f"allowed_{code}" in EN and f"allowed_{code}" in KO, code
        assert english != korean and english != code and "{" not in english + korean, code


def test_a_huge_value_is_cut_in_the_message():
    with pytest.raises(ConfigError) as err:
        RunConfig(hidden=(8,) * 1000).validate()
    assert err.value.value == (8,) * 1000  # the UI still has the value itself
    assert len(str(err.value)) < 200 and "…" in str(err.value)


def test_batch_of_one_is_fine_without_bn_and_hidden_parses():
    RunConfig(batch_size=1, model="plain").validate()
    assert parse_hidden("100, 100,100") == (100, 100, 100)
    assert RunConfig(hidden="8,4").hidden == (8, 4)
    with pytest.raises(ConfigError, match="hidden") as err:
        parse_hidden("a,b")
    assert err.value.code == "hidden_format"


def test_from_dict_round_trips_and_rejects_unknown_keys():
    cfg = PRESETS["ioffe2015"].config(seed=3)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="colour") as err:
        RunConfig.from_dict({"colour": "red"})
    assert err.value.code == "unknown_setting" and "lr" in err.value.facts["known"]


def test_an_absent_device_is_a_config_error_with_the_devices_found():
    with pytest.raises(ConfigError) as err:
        pick_device("cuda" if not torch.cuda.is_available() else "mps")
    assert err.value.code == "device_absent" and "cpu" in err.value.facts["devices"]


def test_presets_are_valid_and_explained_by_the_page():
    assert {"tutorial", "ioffe2015", "high-lr", "bad-init", "deep-sigmoid"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        preset.config().validate()
        assert {f.name for f in dataclasses.fields(preset)} == {"name", "changes"}  # no words in config.py
        english, korean = preset_summary(name, "en"), preset_summary(name, "ko")
        assert len(english) > 30 and "\n" not in english and korean != english
    t = PRESETS["tutorial"].config()
    assert (t.dataset, t.hidden, t.activation, t.optimizer, t.lr, t.batch_size, t.epochs, t.seed) == (
        "mnist", (32, 32), "relu", "adam", 0.01, 32, 10, 1)
    p = PRESETS["ioffe2015"].config()
    assert (p.hidden, p.activation, p.init, p.batch_size, p.steps) == ((100, 100, 100), "sigmoid", "gaussian", 60, 50_000)


def test_widget_link_and_cli_fields_come_from_runconfig_once():
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert [flag.name for flag in CLI_FLAGS] == names  # every field is a CLI flag
    assert {flag.flag for flag in CLI_FLAGS} >= {"--bn-momentum", "--batch-size", "--hidden"}
    assert dict((f.name, f.choices) for f in CLI_FLAGS)["optimizer"] == OPTIMIZERS
    assert set(WIDGET_FIELDS) < set(LINK_FIELDS) < set(names)
    assert set(LINK_FIELDS) - set(WIDGET_FIELDS) == {"weight_decay"}  # in a link, not in the sidebar
    assert set(params.CONFIG_KEYS) == set(LINK_FIELDS) - {"hidden"} | {"depth", "width"}
    assert set(controls.PLAIN_FIELDS) == set(WIDGET_FIELDS) - {"hidden", "pace"}
    assert set(controls.widget_values(RunConfig())) == {controls.key(k) for k in controls.PLAIN_FIELDS} | {
        "w_depth", "w_width", "w_pace_mode", "w_pace_rate"}


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
    assert ds.train_y.dtype == torch.int64 and ds.partial is None
    assert split_label(ds.describe(), "train", "en") == "MNIST train (120)"
    assert split_label(ds.describe(), "test", "en") == "MNIST test (40)"


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    make_idx_folder(tmp_path, folder="FashionMNIST")
    ds = load_dataset("fashion-mnist", tmp_path, download=False)
    assert ds.classes[0] == "T-shirt" and ds.name == "fashion-mnist"
    assert dataset_state("mnist", tmp_path) == "missing"


def _sentence(err) -> str:
    return data_problem(err.value.as_error(), "en")


def test_missing_data_is_a_code_and_the_log_has_the_path(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="bn_demo.data"), pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path / "nowhere", download=False)
    error = err.value.as_error()
    assert (error["code"], error["dataset"], error["problem"]) == ("data_unavailable", "mnist", "not_on_disk")
    assert error["folder"] == "MNIST/raw" and err.value.fallback == "digits"
    assert str(tmp_path) not in json.dumps(error)  # viewers see the record's error
    assert "MNIST" in _sentence(err) and "MNIST" in data_problem(error, "ko")
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in caplog.text  # the server's operator sees the path


def test_failed_download_says_so_and_keeps_its_detail_path_free(tmp_path, monkeypatch):
    def offline(name, root):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path, download=True)
    assert err.value.problem == "download_failed" and "Name or service not known" in err.value.detail
    assert _sentence(err) == "MNIST could not be downloaded (no internet connection?)."

    def denied(name, root):
        raise PermissionError(13, "Permission denied", str(root / "MNIST"))

    monkeypatch.setattr(data, "_download", denied)
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path, download=True)
    assert "Permission denied: '[data folder]/MNIST'" in err.value.detail and str(tmp_path) not in err.value.detail


def test_truncated_and_corrupt_files_are_named(idx_root):
    raw = idx_root / "MNIST" / "raw"
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", idx_root, download=False)
    assert (err.value.problem, err.value.facts["file"]) == ("unreadable", "train-images-idx3-ubyte")
    assert _sentence(err) == "MNIST: train-images-idx3-ubyte is truncated or not an IDX file."
    assert str(idx_root) not in json.dumps(err.value.as_error())
    images.write_bytes(b"not an idx file at all")
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", idx_root, download=False)
    assert err.value.facts["file"] == "train-images-idx3-ubyte"
    images.unlink()
    images.mkdir()  # there, but not a file to read: the offline fallback needs a DataUnavailable, not a crash
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", idx_root, download=False)
    assert (err.value.problem, err.value.facts["file"]) == ("unreadable", "train-images-idx3-ubyte")


def test_label_count_mismatch_and_bad_md5(tmp_path):
    raw = make_idx_folder(tmp_path)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(39, dtype=np.uint8))
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path, download=False)
    assert _sentence(err) == "MNIST: t10k-images-idx3-ubyte has 40 images but t10k-labels-idx1-ubyte has 39 labels."
    raw = make_idx_folder(tmp_path / "b")
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"tampered")
    assert hashlib.md5((raw / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() != "d53e105ee54ea40749a09fcbcd1e9432"
    with pytest.raises(DataUnavailable) as err:
        load_dataset("mnist", tmp_path / "b", download=False)
    assert err.value.problem == "md5_mismatch" and "md5" in _sentence(err)


def test_every_data_problem_has_words_in_both_languages():
    for problem in DataUnavailable.PROBLEMS:
        for lang in ("en", "ko"):
            assert t(f"data_problem_{problem}", lang)


def test_test_split_only_is_used_and_labelled_as_such(tmp_path):
    raw = make_idx_folder(tmp_path, n_test=100)
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / f).unlink()
    assert dataset_state("mnist", tmp_path) == "partial"
    ds = load_dataset("mnist", tmp_path, download=False)
    assert len(ds.train_y) == 80 and len(ds.test_y) == 20  # at most 80 % for training
    described = ds.describe()
    assert described["splits"] == {"train": {"file": "test", "start": 0, "stop": 80},
                                   "test": {"file": "test", "start": 80, "stop": 100}}
    assert ds.partial == "train_missing"
    assert "test[:80]" in split_label(described, "train", "en") and "held out" in split_label(described, "test", "en")
    assert "test split" in partial_note(described, "en") and "테스트 분할" in partial_note(described, "ko")


def test_digits_split_is_fixed():
    a, b = data.load_digits(), data.load_digits()
    assert torch.equal(a.test_y, b.test_y) and a.n_features == 64
    assert len(a.train_y) + len(a.test_y) == 1797 and len(a.test_y) == 359
    assert a.seeded and "seeded split" in split_label(a.describe(), "train", "en")


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
