"""The page's pure parts: URL parameters, exports, strings."""

from __future__ import annotations

import io
import json
import string

import pandas as pd
import pytest

from bn_demo import record
from bn_demo.config import PRESETS
from bn_demo.ui import export, params
from bn_demo.ui.strings import EN, KO, preset_summary, t
from conftest import saved_record


def test_params_round_trip():
    config = PRESETS["ioffe2015"].config(lr=0.3, batch_size=128, bn_momentum=0.01, seed=7, model="both")
    query = params.to_params("ioffe2015", config, "ko")
    assert query == {"preset": "ioffe2015", "lang": "ko", "lr": "0.3", "batch_size": "128", "bn_momentum": "0.01",
                     "seed": "7"}
    link = params.from_params(query)
    assert not link.problems
    assert (link.preset, link.lang) == ("ioffe2015", "ko")
    assert link.config == config


def test_default_link_is_empty():
    assert params.to_params("tutorial", PRESETS["tutorial"].config()) == {}


def test_depth_and_width_stand_for_hidden():
    link = params.from_params({"depth": "4", "width": "64"})
    assert link.config.hidden == (64, 64, 64, 64)
    assert params.to_params("tutorial", link.config) == {"depth": "4", "width": "64"}


def test_bad_parameters_fall_back_and_are_named():
    link = params.from_params({"lr": "fast", "batch_size": "0", "activation": "swish", "depth": "99",
                               "preset": "nope", "colour": "red", "seed": "3", "lang": "fr"})
    bad = {p.field for p in link.problems}
    assert bad == {"lr", "batch_size", "activation", "depth", "preset", "colour", "lang"}
    tutorial = PRESETS["tutorial"].config()
    assert link.config == tutorial.replace(seed=3)  # the good one is kept
    assert (link.preset, link.lang) == ("tutorial", "en")
    assert all(p.code for p in link.problems)


def test_cross_field_conflict_is_reported():
    link = params.from_params({"batch_size": "1"})  # BN needs at least 2
    assert [p.field for p in link.problems] == ["batch_size"]
    assert link.problems[0].code == "bn_batch_one"
    assert not params.from_params({"model": "plain", "batch_size": "1"}).problems


def test_repeated_parameter_uses_the_last_value():
    assert params.from_params({"lr": ["0.1", "0.2"]}).config.lr == 0.2


@pytest.fixture(scope="module")
def snap():
    return saved_record("run-compare.json")


def test_the_record_download_replays_and_names_the_page_libraries(snap):
    text = export.record_json(snap)
    back = record.loads(text)  # what the page's replay reads
    assert back["config"] == snap["config"] and back["dataset"]["name"] == "digits"
    assert {"torch", "streamlit", "plotly", "numpy"} <= set(back["versions"])
    assert len(back["twins"]["bn"]["eval"]["step"]) >= 2


def test_metrics_csv_opens_with_pandas_as_is(snap):
    frame = pd.read_csv(io.StringIO(export.metrics_csv(snap)))
    assert set(frame["twin"]) == {"bn", "plain"}
    assert set(zip(frame["series"], frame["mode"])) == {("train_batch", "train"), ("held_out", "eval"),
                                                        ("held_out", "eval_batch_stats")}
    assert frame["step"].iloc[0] == 1


def test_histograms_json(snap):
    doc = json.loads(export.histograms_json(snap))
    layer = doc["twins"]["bn"]["layers"][0]
    assert set(layer) >= {"linear", "bn", "act"}
    assert len(layer["linear"]["edges"]) == len(layer["linear"]["counts"][0]) + 1
    assert doc["mode"] == "probe" and doc["format"] == record.FORMAT
    assert "bn" not in doc["twins"]["plain"]["layers"][0]


def test_strings_exist_in_both_languages_with_same_placeholders():
    assert set(EN) == set(KO)
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for key in EN:
        assert fields(EN[key]) == fields(KO[key]), key


def test_every_preset_has_a_summary_in_both_languages():
    for name in PRESETS:
        english, korean = preset_summary(name, "en"), preset_summary(name, "ko")
        assert english and korean and english != korean, name


def test_lookup_falls_back_to_english():
    assert t("start", "ko") == "시작"
    assert t("start", "xx") == "Start"
    assert t("status_line", step="1", total="2", rate="3", eta="4", device="cpu", status="ok").startswith("Step 1 / 2")


def test_a_run_put_on_the_offline_digits_keeps_the_planned_length_within_a_cap():
    from bn_demo.config import RunConfig
    from bn_demo.ui.state import FALLBACK_MAX_STEPS, fallback_config

    tutorial = fallback_config(PRESETS["tutorial"].config())  # 10 MNIST epochs at batch 32: 18,750 steps
    assert tutorial.dataset == "digits" and tutorial.steps == FALLBACK_MAX_STEPS
    assert fallback_config(RunConfig(steps=20)).steps == 20  # asked for in steps: kept
    assert fallback_config(RunConfig(steps=80_000)).steps == 80_000
    assert fallback_config(RunConfig(epochs=1, batch_size=1024)).steps == 60_000 // 1024  # one MNIST epoch
