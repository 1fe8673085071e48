"""Issue 4 on the page: the server-wide slot limit and queue, session release, and every fault path
(bad links, untrainable settings, diverging runs, corrupt data, a crash inside a run)."""

from __future__ import annotations

import json

import pytest
from test_app import APP, fresh_session, progress_text, wait_for_fallback, wait_until  # noqa: F401  (the fixture resets sessions)
from test_app import app as page

from bn_demo import engine, sessions
from bn_demo.config import RunConfig
from bn_demo.ui import export, state
from bn_demo.ui.strings import t
from conftest import dispose_registry, make_idx_folder, wait_for


@pytest.fixture
def one_slot(monkeypatch):
    """A one-slot server registry for the test (the real default depends on the core count)."""
    registry = sessions.SessionRegistry(slots=1, idle_timeout=600)
    monkeypatch.setattr(sessions, "_default", registry)
    yield registry
    dispose_registry(registry)


def test_start_beyond_the_slot_limit_queues_with_its_position(one_slot, digits):
    other = one_slot.start_run("another-student", RunConfig(dataset="digits", hidden=(8,), epochs=200), dataset=digits)
    assert wait_for(lambda: other.progress()["step"] > 0)
    at = page(dataset="digits", steps="60", depth="1", width="8")
    at.button(key="btn_start").click().run()
    assert "Queued, position 1" in progress_text(at) and "1 of 1 busy" in progress_text(at)
    runner = state.latest_runner()
    assert runner.status == "queued"
    one_slot.release("another-student")  # the other student leaves: the queued run starts by itself
    wait_until(lambda a: progress_text(a).startswith("Step"), at)
    assert runner.join(timeout=60) and runner.status == "finished"
    assert not at.exception


def test_a_released_session_stops_its_run_and_frees_the_slot(one_slot):
    at = page(dataset="digits", epochs="200", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert wait_for(lambda: runner.status == "running")
    (runs,) = [r for r in state.all_sessions() if r.runner is runner]
    state.release_session(runs)  # what st.cache_resource's on_release calls when the tab is gone
    assert runner.join(timeout=10) and runner.status == "stopped"
    assert one_slot.pool.active_count == 0 and one_slot.stats()["runs"] == 0


def test_bad_link_values_fall_back_with_a_warning_naming_them():
    at = page(lr="-0.5", epochs="99999", dataset="imagenet", preset="nope", batch_size="abc", seed="4")
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    for name in ("learning rate", "epochs", "dataset", "preset", "batch size"):
        assert name.lower() in warning.lower(), name
    assert at.number_input(key="w_seed").value == 4  # the good parameter is kept
    assert not at.button(key="btn_start").disabled


def test_zero_steps_is_explained_before_start():
    at = page(dataset="digits", epochs="0", steps="0")
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "epochs" in warning and "zero steps trains nothing" in warning
    assert at.number_input(key="w_epochs").value == 10  # the preset's value stands in


def test_a_diverging_twin_is_stated_and_the_history_stays_downloadable():
    at = page(dataset="digits", steps="80", depth="2", width="32", optimizer="sgd", lr="8", init="gaussian",
              init_std="0.5")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.join(timeout=120)
    at.run()
    errors = " ".join(e.value for e in at.error)
    assert "plain network diverged at step" in errors
    assert runner.status == "finished"  # the BN twin went on to the end
    doc = json.loads(export.record_json(runner.record()))
    assert len(json.dumps(doc)) > 1000 and "plain" in json.dumps(doc)
    assert not at.exception


def test_corrupt_dataset_files_are_named_and_the_run_falls_back(tmp_path, monkeypatch):
    raw = make_idx_folder(tmp_path)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:3000])  # a truncated download
    monkeypatch.setenv("BN_DEMO_DATA_DIR", str(tmp_path))
    at = page(dataset="mnist", steps="20", depth="1", width="8")
    at.button(key="btn_start").click().run()
    assert wait_for_fallback(at).config.dataset == "digits"
    notice = " ".join(w.value for w in at.warning)
    assert "truncated" in notice and "train-images-idx3-ubyte" in notice and "8×8" in notice
    assert not at.exception


def test_a_crash_inside_a_run_is_a_short_message_and_the_server_carries_on(monkeypatch, caplog):
    def broken_step(self):
        raise RuntimeError("simulated failure inside the training thread")

    monkeypatch.setattr(engine.Experiment, "train_step", broken_step)
    at = page(dataset="digits", steps="20", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.join(timeout=60) and runner.status == "failed"
    assert runner.record()["error"] == {"code": "exception", "type": "RuntimeError"}
    at.run()
    errors = " ".join(e.value for e in at.error)
    # The page names the kind of failure; its own words and traceback go to the server's log only.
    assert t("run_failed", message=t("config_problem_exception", type="RuntimeError")) in errors
    assert "simulated failure" not in errors and "Traceback" not in errors
    assert "simulated failure inside the training thread" in caplog.text and "Traceback" in caplog.text
    assert not at.exception
    monkeypatch.undo()  # the next Start works again
    at.button(key="btn_start").click().run()
    assert state.latest_runner().join(timeout=60) and state.latest_runner().status == "finished"
