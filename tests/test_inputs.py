"""Issue 8, what a user types and what viewers see: links held to the sidebar's limits, no Markdown from
user text, everything that cannot run refused before Start (page) or before training (CLI), output
paths checked first and a finished run never lost, no server paths on the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app import APP, fresh_session  # noqa: F401  (the fixture resets sessions)

from bn_demo import cli
from bn_demo.config import PAGE_LIMITS, PRESETS, SHOWN_CHARS, ConfigError, Preset, RunConfig, training_split_size
from bn_demo.data import load_dataset, load_digits
from bn_demo.ui import params
from bn_demo.ui.controls import error_line
from bn_demo.ui.strings import link_allowed
from conftest import make_idx_folder

INJECTIONS = {
    "foo": "[Log in again here](http://127.0.0.1:8639/login)",
    "bar": "![](http://127.0.0.1:8639/pixel.png)",
    "baz": ":red[**ADMIN NOTICE**]",
    "[key](http://127.0.0.1:8639/key)": "1",
    "tick": "a`b``c",
}


def page(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def code_spans(markdown: str) -> tuple[list[str], str]:
    """CommonMark code spans: (their contents, the text outside them)."""
    spans = []

    def take(match):
        content = match.group(2)
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        spans.append(content)
        return " "

    rest = re.sub(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", take, markdown)
    return spans, rest


# -- 1. links obey exactly the sidebar's limits ------------------------------------------------------------


def test_the_reported_link_is_refused_beyond_the_sidebar_limits():
    at = page(dataset="digits", width="2048", depth="12", batch_size="8000", steps="1000000")
    assert not at.exception
    warning = at.warning[0].value
    assert "width" in warning and "1 to 512" in warning
    assert "batch size" in warning and "1 to 1,024" in warning
    assert at.select_slider(key="w_width").value == 32 and at.select_slider(key="w_batch_size").value == 32
    assert at.slider(key="w_depth").value == 12 and at.number_input(key="w_steps").value == 1_000_000  # within


@pytest.mark.parametrize("key,bad,good", [
    ("width", "513", "512"), ("depth", "13", "12"), ("batch_size", "1025", "1024"), ("epochs", "201", "200"),
    ("steps", "1000001", "1000000"), ("pace", "100.5", "100"), ("pace", "0.49", "0.5"), ("pace", "1e-300", "0"),
    ("depth", "1e9", "1"),
])
def test_links_are_held_to_the_page_limits(key, bad, good):
    assert [p.field for p in params.from_params({key: bad}).problems] == [key]
    assert params.from_params({key: good}).problems == []


def test_the_sidebar_offers_exactly_the_page_limits():
    at = page(pace="2")
    depth = at.slider(key="w_depth")
    assert (depth.min, depth.max) == tuple(PAGE_LIMITS["depth"])
    for name in ("width", "batch_size", "pace_rate"):
        options = [float(o) for o in at.select_slider(key=f"w_{name}").options]
        limit = PAGE_LIMITS["pace" if name == "pace_rate" else name]
        assert max(options) == limit.high and min(options) >= limit.low, name
    for name in ("epochs", "steps"):
        widget = at.number_input(key=f"w_{name}")
        assert (widget.min, widget.max) == tuple(PAGE_LIMITS[name])
    for preset in PRESETS:
        assert params.from_params({"preset": preset}).problems == []  # every preset fits the page


def test_link_problems_are_data_the_korean_page_phrases():
    link = params.from_params({"width": "2048", "lr": "fast", "bogus": "1", "activation": "swish"})
    assert {(p.field, p.code) for p in link.problems} == {
        ("width", "integer_range"), ("lr", "number"), ("bogus", "unknown_parameter"), ("activation", "choice")}
    assert next(p for p in link.problems if p.field == "width").facts == {"low": 1, "high": 512}
    at = page(lang="ko", width="2048", activation="swish", bogus="1", batch_size="1")
    (warning,) = [w.value for w in at.warning]
    for korean in ("너비", "1부터 512까지의 정수", "relu, sigmoid, tanh 중 하나", "알 수 없는 설정", "BatchNorm을 쓰려면 2 이상"):
        assert korean in warning, korean
    for english in ("allowed", "an integer", "one of", "unknown setting", "at least"):
        assert english not in warning, english


def test_link_parameters_apply_in_any_order_and_a_conflict_names_the_other_setting(monkeypatch):
    assert params.from_params({"batch_size": "1", "model": "plain"}).problems == []
    assert params.from_params({"epochs": "0", "steps": "100"}).problems == []  # 0 epochs is fine with 100 steps
    monkeypatch.setitem(PRESETS, "one-plain", Preset("one-plain", dict(model="plain", batch_size=1)))
    link = params.from_params({"preset": "one-plain", "model": "both"})
    (problem,) = link.problems
    assert (problem.field, problem.code, problem.conflict) == ("model", "bn_batch_one", "batch_size")
    assert link.config.model == "plain" and link.config.batch_size == 1
    assert link_allowed(problem, "ko").endswith("(배치 크기 설정과 충돌)")


# -- 2. no markup from user input -----------------------------------------------------------------------------


def test_link_keys_and_values_are_shown_literally_never_as_markdown():
    at = page(**INJECTIONS)
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    spans, outside = code_spans(warning)
    for key, value in INJECTIONS.items():
        assert key in spans and value in spans, (key, value)
    for markup in ("](", "![", ":red[", "**", "http", "`"):
        assert markup not in outside, markup
    (warning,) = [w.value for w in page(big="x" * 100_000).warning]
    (big,) = [s for s in code_spans(warning)[0] if s.startswith("xxx")]
    assert len(big) == SHOWN_CHARS and big.endswith("…") and len(warning) < 300


def test_literal_neutralises_fences_controls_and_length():
    assert params.literal("a`b``c") == "```a`b``c```"
    assert params.literal("`x`") == "`` `x` ``"
    assert params.literal("") == "“”"
    assert params.literal("right\u202eto-left\u200b") == "`right\ufffdto-left\ufffd`"
    assert params.literal("two\n\nparagraphs") == "`two paragraphs`"
    assert len(params.literal("y" * 10_000)) == SHOWN_CHARS + 2


def test_many_bad_keys_are_counted_and_the_page_settings_named_first():
    at = page(width="4096", **{f"junk{i:02d}": "1" for i in range(40)})
    warning = at.warning[0].value
    assert warning.index("width") < warning.index("junk00")
    assert "and 36 more" in warning and "junk10" not in warning


# -- 3. everything validated before Start ---------------------------------------------------------------------


def test_a_batch_larger_than_the_training_split_disables_start_with_a_translated_line(tmp_path, monkeypatch):
    make_idx_folder(tmp_path, n_train=120)
    monkeypatch.setenv("BN_DEMO_DATA_DIR", str(tmp_path))
    at = page(dataset="mnist", batch_size="128")
    assert at.button(key="btn_start").disabled
    (error,) = [e.value for e in at.error]
    assert "batch size" in error and "120 examples" in error and "\n" not in error
    at.radio(key="w_lang").set_value("ko").run()
    assert "배치 크기" in at.error[0].value and "120개" in at.error[0].value
    at.select_slider(key="w_batch_size").set_value(100).run()
    assert not at.error and not at.button(key="btn_start").disabled


@pytest.mark.parametrize("changes", [dict(batch_size=1), dict(epochs=0, steps=0), dict(dataset="digits", batch_size=2000)])
def test_every_rule_the_page_can_break_has_a_line_in_both_languages(changes):
    with pytest.raises(ConfigError) as err:
        RunConfig(**changes).validate().check_training_split()
    assert err.value.code
    english, korean = error_line(err.value, "en"), error_line(err.value, "ko")
    assert english.startswith("This combination cannot run") and korean.startswith("이 조합은 실행할 수 없습니다")
    assert english.split("allowed: ")[1] != korean.split("허용: ")[1]  # the rule itself is translated


def test_training_split_sizes_match_the_loaders(tmp_path):
    assert training_split_size("digits") == len(load_digits().train_y) == 1438
    assert training_split_size("mnist", tmp_path / "empty") == 60_000  # downloaded on Start
    raw = make_idx_folder(tmp_path, n_train=120, n_test=100)
    assert training_split_size("mnist", tmp_path) == len(load_dataset("mnist", tmp_path, download=False).train_y)
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / f).unlink()
    assert training_split_size("mnist", tmp_path) == len(load_dataset("mnist", tmp_path, download=False).train_y)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"junk")
    assert training_split_size("mnist", tmp_path) is None  # the loader explains the damage at Start


# -- 5. viewers see no server paths ---------------------------------------------------------------------------


def test_the_sidebar_names_no_server_path(tmp_path, monkeypatch):
    make_idx_folder(tmp_path)
    monkeypatch.setenv("BN_DEMO_DATA_DIR", str(tmp_path))
    at = page(dataset="mnist")
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "server's data folder" in captions and str(tmp_path) not in captions


# -- 3, 4. the CLI: one short line before training, and a finished run is never lost ---------------------------


def train(capsys, *flags) -> tuple[int, str]:
    try:
        code = cli.main(["train", "--quiet", *flags])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("flags,says", [
    (["--dataset", "digits", "--batch-size", "2000"], "1,438"),
    (["--pace", "1e-300"], "0.5 to 1,000,000"),
    (["--hidden", ",".join(["8"] * 1000)], "1 to 12 hidden layers"),
    (["--dataset", "q" * 100_000], "invalid choice"),
    (["--seed", "9" * 100_000], "invalid int value"),
])
def test_cli_refuses_bad_settings_in_one_short_line_before_training(capsys, flags, says):
    code, err = train(capsys, *flags)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert says in line and len(line) < 400


@pytest.mark.parametrize("flag,path", [("--out", "/nonexistent/x.json"), ("--out", "/tmp"),
                                       ("--csv", "/proc/x.csv")])
def test_cli_refuses_an_unwritable_output_path_before_training(capsys, flag, path):
    code, err = train(capsys, "--dataset", "digits", "--steps", "5", flag, path)
    assert code == 2 and err.count("\n") == 1 and f"{flag} {path}:" in err


def test_the_output_check_creates_nothing_and_truncates_nothing(tmp_path):
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    old.write_text("keep")
    assert cli.unwritable(str(new)) is None and not new.exists()
    assert cli.unwritable(str(old)) is None and old.read_text() == "keep"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_finished_run_that_cannot_be_written_goes_to_a_temporary_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, err = train(capsys, "--dataset", "digits", "--steps", "5", "--hidden", "8", "--out", "/dev/full")
    assert code == 1
    (kept,) = tmp_path.glob("bn_demo-*.json")
    assert "/dev/full" in err and str(kept) in err
    assert json.loads(kept.read_text())["config"]["hidden"] == [8]


def test_pace_floor_applies_to_the_engine_too():
    RunConfig(pace=0).validate()
    RunConfig(pace=0.5).validate()
    for bad in (0.49, 1e-300, float("inf"), float("nan"), -1):
        with pytest.raises(ValueError, match="0 \\(full speed\\) or 0.5"):
            RunConfig(pace=bad).validate()
