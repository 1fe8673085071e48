"""The page's pure parts: URL parameters, exports, strings."""

from __future__ import annotations

import csv
import io
import json
import string

import pytest

from bn_demo.config import PRESETS, RunConfig
from bn_demo.runner import Runner
from bn_demo.ui import export, params
from bn_demo.ui.strings import EN, KO, PRESET_SUMMARIES_KO, preset_summary, t


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
    assert all(p.allowed for p in link.problems)


def test_cross_field_conflict_is_reported():
    link = params.from_params({"batch_size": "1"})  # BN needs at least 2
    assert [p.field for p in link.problems] == ["batch_size"]
    assert "BatchNorm" in link.problems[0].allowed
    assert not params.from_params({"model": "plain", "batch_size": "1"}).problems


def test_repeated_parameter_uses_the_last_value():
    assert params.from_params({"lr": ["0.1", "0.2"]}).config.lr == 0.2


@pytest.fixture(scope="module")
def snap():
    runner = Runner(RunConfig(dataset="digits", hidden=(8,), steps=30, probe_every=5)).start()
    assert runner.join(timeout=120)
    return runner.snapshot()


def test_metrics_json_carries_config_and_versions(snap):
    doc = json.loads(export.metrics_json(snap))
    assert doc["config"]["dataset"] == "digits"
    assert {"torch", "streamlit", "plotly", "numpy"} <= set(doc["versions"])
    assert doc["dataset"]["test_split"].startswith("digits held-out")
    assert len(doc["runs"]["bn"]["history"]["eval"]["step"]) >= 2


def test_metrics_csv_is_long_format(snap):
    text = export.metrics_csv(snap)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("config" in c for c in comments) and any("versions" in c for c in comments)
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))))
    assert {r["network"] for r in rows} == {"bn", "plain"}
    assert {r["series"] for r in rows} == {"train_batch", "held_out", "held_out_batch_stats"}
    assert rows[0]["step"] == "1"


def test_histograms_json(snap):
    doc = json.loads(export.histograms_json(snap))
    layer = doc["networks"]["bn"]["layers"][0]
    assert set(layer) >= {"layer", "linear", "bn", "act"}
    assert len(layer["linear"]["edges"]) == len(layer["linear"]["counts"][0]) + 1
    assert "train mode" in doc["probe"]["mode"]
    assert "bn" not in doc["networks"]["plain"]["layers"][0]


def test_strings_exist_in_both_languages_with_same_placeholders():
    assert set(EN) == set(KO)
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for key in EN:
        assert fields(EN[key]) == fields(KO[key]), key


def test_korean_preset_summaries_translate_the_current_english():
    stale = [name for name, preset in PRESETS.items() if PRESET_SUMMARIES_KO.get(name, ("",))[0] != preset.summary]
    assert not stale, f"update PRESET_SUMMARIES_KO in bn_demo/ui/strings.py for: {stale}"
    assert preset_summary("tutorial", "ko") == PRESET_SUMMARIES_KO["tutorial"][1]


def test_lookup_falls_back_to_english():
    assert t("start", "ko") == "시작"
    assert t("start", "xx") == "Start"
    assert t("status_line", step="1", total="2", rate="3", eta="4", device="cpu", status="ok").startswith("Step 1 / 2")
