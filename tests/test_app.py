"""The page under streamlit.testing.v1.AppTest: widgets → config, Start/Pause/Stop/Reset, live refresh,
URL round trip, language, the offline fallback. Fragments run inline in AppTest and `run_every`
never fires, so a test calls `.run()` while the worker trains."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bn_demo.config import RunConfig
from bn_demo.ui import controls, state
from bn_demo.ui.strings import t

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60
# A run slow enough to watch across several .run() calls: 400 steps at 40 steps/s ≈ 10 s.
SLOW = {"dataset": "digits", "steps": "400", "pace": "40", "depth": "2", "width": "16"}


@pytest.fixture(autouse=True)
def fresh_session():
    """AppTest gives every test the same session id, so its session resources carry over: reset them."""
    for runs in state.all_sessions():
        runs.forget()
    yield
    for runner in state.live_runners():
        runner.stop()
        runner.join(timeout=10)


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def progress_text(at: AppTest) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def shown_step(at: AppTest) -> int:
    text = progress_text(at)
    return int(text.split("/")[0].split()[-1].replace(",", "")) if text.startswith("Step") else -1


def chart_keys(at: AppTest) -> list[str]:
    return [el.proto.id for el in at.get("plotly_chart")]


def chart_spec(at: AppTest, key: str) -> dict:
    for el in at.get("plotly_chart"):
        if key in el.proto.id:
            return json.loads(el.proto.spec)
    raise AssertionError(f"no chart {key}")


def url(at: AppTest) -> dict:
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def wait_until(predicate, at: AppTest, timeout: float = 30.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        if predicate(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"timed out; page says: {progress_text(at)!r}")


def test_page_loads_with_defaults_and_no_errors():
    at = app()
    assert not at.exception
    assert at.markdown[0].value.endswith(t("page_title"))
    assert at.segmented_control(key="w_model").value == "both"  # compare is the default
    assert at.selectbox(key="w_preset").value == "tutorial"
    assert [b.label for b in at.button][:4] == [t("start"), t("pause"), t("stop"), t("reset")]
    assert at.button(key="btn_stop").disabled and not at.button(key="btn_start").disabled
    assert at.info[0].value == t("no_run")
    assert not at.latex  # the concepts tab draws only when opened (a lighter first paint)
    at.session_state["page_tab"] = t("tab_concepts")
    at.run()
    assert at.latex
    assert url(at) == {}


def test_widgets_map_to_the_config_and_url():
    at = app()
    at.selectbox(key="w_dataset").set_value("digits")
    at.select_slider(key="w_lr").set_value(0.05)
    at.select_slider(key="w_batch_size").set_value(64)
    at.segmented_control(key="w_activation").set_value("tanh")
    at.slider(key="w_depth").set_value(3)
    at.select_slider(key="w_width").set_value(16)
    at.selectbox(key="w_optimizer").set_value("momentum")
    at.selectbox(key="w_init").set_value("gaussian")
    at.radio(key="w_bn_placement").set_value("after")
    at.select_slider(key="w_bn_momentum").set_value(0.01)
    at.number_input(key="w_seed").set_value(5)
    at.number_input(key="w_steps").set_value(50)
    at.segmented_control(key="w_pace_mode").set_value("slow")
    at.run()
    assert not at.exception
    assert url(at) == {
        "dataset": "digits", "lr": "0.05", "batch_size": "64", "activation": "tanh", "depth": "3", "width": "16",
        "optimizer": "momentum", "init": "gaussian", "bn_placement": "after", "bn_momentum": "0.01", "seed": "5",
        "steps": "50", "pace": "5",
    }
    at.button(key="btn_start").click().run()
    config = state.latest_runner().config
    assert (config.dataset, config.lr, config.batch_size, config.activation, config.hidden) == \
        ("digits", 0.05, 64, "tanh", (16, 16, 16))
    assert (config.optimizer, config.init, config.bn_placement, config.bn_momentum, config.seed, config.steps,
            config.pace, config.model) == ("momentum", "gaussian", "after", 0.01, 5, 50, 5.0, "both")


def test_start_streams_new_points_and_stop_stops():
    at = app(**SLOW)
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.alive and runner.config.steps == 400
    assert at.button(key="btn_start").disabled and not at.button(key="btn_stop").disabled
    # The lesson is the tab a student sees after Start, without a click.
    wait_until(lambda a: shown_step(a) > 0 and any("lesson_bands" in k for k in chart_keys(a))
               and chart_spec(a, "lesson_bands")["data"], at)  # bands from the second probe on
    first_step = shown_step(at)
    first_points = len(chart_spec(at, "lesson_bands")["data"][0]["x"]["bdata"])
    wait_until(lambda a: shown_step(a) >= first_step + 20, at)
    assert len(chart_spec(at, "lesson_bands")["data"][0]["x"]["bdata"]) > first_points  # the bands grew
    assert not at.exception
    at.button(key="btn_stop").click().run()
    assert runner.join(timeout=10)
    assert runner.status == "stopped"
    at.run()
    assert t("status_stopped") in progress_text(at)
    assert not at.button(key="btn_start").disabled and at.button(key="btn_stop").disabled
    assert not at.exception


def test_pause_resume_and_reset():
    at = app(**SLOW)
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    wait_until(lambda a: shown_step(a) > 0, at)
    at.button(key="btn_pause").click().run()
    assert runner.status == "paused"
    assert at.button(key="btn_pause").label == t("resume")
    paused_at = runner.experiment.step
    time.sleep(0.5)
    assert runner.experiment.step <= paused_at + 1
    at.button(key="btn_pause").click().run()
    assert runner.status == "running"
    at.button(key="btn_reset").click().run()
    assert runner.join(timeout=10) and runner.status == "stopped"
    assert at.info[0].value == t("no_run")  # charts cleared, ready for a new run
    assert not at.exception


def test_finished_run_joins_history_and_can_be_overlaid():
    at = app(dataset="digits", steps="30", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.join(timeout=60) and runner.status == "finished"
    at.run()
    assert t("status_finished") in progress_text(at)
    at.button(key="btn_start").click().run()  # a second run: the first one is now history
    second = state.latest_runner()
    assert second.run_id != runner.run_id
    assert second.join(timeout=60)
    at.session_state["chart_tab"] = t("tab_curves")
    at.run()
    overlay = at.multiselect(key="overlay_runs")
    assert len(overlay.options) == 1
    overlay.select(str(runner.run_id)).run()
    names = [trace.get("name", "") for trace in chart_spec(at, "chart_loss")["data"]]
    assert any(name.startswith(f"run #{runner.run_id}") for name in names)
    assert not at.exception


def test_query_parameters_round_trip_into_widgets():
    query = {"preset": "deep-sigmoid", "lr": "0.2", "batch_size": "128", "lang": "ko", "model": "bn"}
    at = app(**query)
    assert not at.exception
    assert at.selectbox(key="w_preset").value == "deep-sigmoid"
    assert at.select_slider(key="w_lr").value == 0.2
    assert at.select_slider(key="w_batch_size").value == 128
    assert at.slider(key="w_depth").value == 8  # from the preset
    assert at.segmented_control(key="w_model").value == "bn"
    assert at.radio(key="w_lang").value == "ko"
    assert at.button(key="btn_start").label == t("start", "ko")
    assert url(at) == query


def test_malformed_parameters_fall_back_with_a_warning():
    at = app(lr="fast", depth="40", activation="swish", seed="9", bogus="1")
    assert not at.exception
    warning = at.warning[0].value
    for field in ("learning rate", "depth", "activation", "bogus"):
        assert field in warning
    assert at.select_slider(key="w_lr").value == 0.01
    assert at.segmented_control(key="w_activation").value == "relu"
    assert at.number_input(key="w_seed").value == 9
    assert url(at) == {"seed": "9"}  # the URL is repaired


def test_invalid_combination_disables_start():
    at = app(model="plain", batch_size="1")
    assert not at.exception and not at.button(key="btn_start").disabled
    at.segmented_control(key="w_model").set_value("both").run()
    assert at.button(key="btn_start").disabled
    assert "BatchNorm" in at.error[0].value


def test_language_switch_changes_every_label():
    at = app()
    at.radio(key="w_lang").set_value("ko").run()
    assert at.markdown[0].value.endswith(t("page_title", "ko"))
    assert at.button(key="btn_start").label == "시작"
    assert at.selectbox(key="w_optimizer").label == t("optimizer", "ko")
    assert url(at)["lang"] == "ko"


def test_language_switch_keeps_every_widget_a_code_and_the_link():
    """What the page does on a switch: the widgets keep their codes, the link changes only in `lang`,
    the config error is phrased in the new language. AppTest sets widget values directly, so it cannot
    send a stale label back as a browser does: tests/test_e2e_language.py checks that in Chromium."""
    at = app(preset="ioffe2015", model="plain", batch_size="1", device="cpu")
    before = url(at)
    codes = {k: at.session_state[k] for k in controls.widget_values(RunConfig())}
    assert (codes["w_init"], codes["w_model"], codes["w_device"], codes["w_pace_mode"]) == (
        "gaussian", "plain", "cpu", "full")
    for lang in ("ko", "en", "ko", "en", "ko"):
        at.radio(key="w_lang").set_value(lang).run()
        assert not at.exception and not at.button(key="btn_start").disabled
        assert {k: at.session_state[k] for k in codes} == codes
        assert at.session_state[controls.CODES] == codes  # what a switch writes back
        assert {k: v for k, v in url(at).items() if k != "lang"} == before
    at.segmented_control(key="w_model").set_value("both").run()
    assert at.button(key="btn_start").disabled
    (error,) = [e.value for e in at.error]
    assert "BatchNorm을 쓰려면 2 이상" in error and "allowed" not in error


def test_preset_choice_fills_the_settings():
    at = app()
    at.selectbox(key="w_preset").set_value("ioffe2015").run()
    assert at.segmented_control(key="w_activation").value == "sigmoid"
    assert at.slider(key="w_depth").value == 3 and at.select_slider(key="w_width").value == 100
    assert at.number_input(key="w_steps").value == 50_000
    assert any("Ioffe" in c.value or "BN paper" in c.value for c in at.sidebar.caption)


def wait_for_fallback(at: AppTest, timeout: float = 90):
    """Rerun the page until its run has moved to the offline digits (or time runs out); then let
    that run finish and draw the page once more. Returns the latest run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and state.latest_runner().config.dataset != "digits":
        time.sleep(0.3)
        at.run()
    runner = state.latest_runner()
    runner.join(timeout=60)
    at.run()
    return runner


def test_unavailable_dataset_falls_back_to_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("BN_DEMO_DATA_DIR", str(tmp_path))  # empty: MNIST missing, and no network here
    at = app(dataset="fashion-mnist", steps="20", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = wait_for_fallback(at)
    if runner.config.dataset != "digits":
        pytest.skip("Fashion-MNIST downloaded: this machine is online")
    assert runner.config.steps == 20  # a length asked for in steps is kept
    assert any("8×8" in w.value for w in at.warning)
    assert "DataUnavailable" not in " ".join(e.value for e in at.error)
    caption = " ".join(c.value for c in at.sidebar.caption)
    assert "Unavailable" in caption
    assert not at.exception


def test_the_learning_rate_changes_mid_run_from_the_pages_live_controls():
    """The real page: the live-controls pop-over changes the learning rate of a running run; the record
    has one "lr" event at one step, both twins' optimizers train with it, and the lesson's charts mark it."""
    at = app(**SLOW)
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    wait_until(lambda a: shown_step(a) > 5, at)
    at.number_input(key="live_lr").set_value(0.05)
    at.button(key="live_apply").click().run()
    wait_until(lambda a: runner.record()["events"], at)
    events = runner.record()["events"]
    assert len(events) == 1 and events[0]["kind"] == "lr" and events[0]["lr"] == 0.05
    assert events[0]["previous"] == runner.config.lr and events[0]["step"] > 5
    assert {g["lr"] for twin in runner.experiment.twins.values() for g in twin.optimizer.param_groups} == {0.05}
    at.run()
    marked = [s for s in chart_spec(at, "lesson_acc")["layout"].get("shapes", []) if s.get("x0") == events[0]["step"]]
    assert marked  # the change is drawn on the time axis
    at.button(key="btn_stop").click().run()
    assert runner.join(timeout=10)


def test_seeds_side_by_side_show_mean_and_sd_on_the_page():
    """A link with repeats=2: one run trains seeds 1 and 2; the metrics read "mean ± sd", the caption names
    the seeds, and the loss chart draws a band around each mean."""
    at = app(dataset="digits", steps="40", depth="1", width="8", repeats="2")
    assert at.slider(key="w_repeats").value == 2
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.join(timeout=60) and runner.status == "finished"
    assert runner.record()["repeats"]["seeds"] == [2]
    at.session_state["chart_tab"] = t("tab_curves")
    at.run()
    assert any("±" in metric.value for metric in at.metric)
    assert any(t("metrics_caption_seeds", first=1, last=2) in caption.value for caption in at.caption)
    traces = chart_spec(at, "chart_loss")["data"]
    assert sum(trace.get("fill") == "toself" for trace in traces) == 4
    assert not at.exception
