"""The page's registry on the Ray backend (issue 13): BN_DEMO_BACKEND=ray trains the page's runs as
Ray actors and shows the teacher the backend and its free slots; a cluster that cannot be reached
leaves one line on the page and runs in threads; a session that goes away (released, or silent past
the idle time-out) leaves no actor and no slot behind."""

from __future__ import annotations

import pytest
from test_app import app, fresh_session, progress_text, wait_until  # noqa: F401  (the fixture resets sessions)

from bn_demo.config import RunConfig
from bn_demo.ui import state
from bn_demo.ui.strings import t
from conftest import local_ray_cluster, standing_in_registries, wait_for

# 400 steps at 40 steps/s: about 10 s, long enough to watch across several page runs.
SLOW = {"dataset": "digits", "steps": "400", "pace": "40", "depth": "2", "width": "16"}
LONG = RunConfig(dataset="digits", hidden=(16,), epochs=200, probe_every=50, device="cpu")
RELEASE_WINDOW = 10.0  # seconds from a session's release until its actor and slot are gone


@pytest.fixture
def registry(monkeypatch):
    """make(**kwargs): a registry on the backend $BN_DEMO_BACKEND would name, standing in for the server's."""
    with standing_in_registries(monkeypatch, backend="ray") as make:
        yield make


def test_an_unreachable_cluster_is_one_line_and_the_page_trains_in_threads(registry, monkeypatch):
    monkeypatch.setenv("BN_DEMO_RAY_ADDRESS", "127.0.0.1:1")  # refused at once
    reg = registry()
    assert reg.ready_backend(60).name == "thread"
    error = reg.backend_error
    assert error["code"] in ("ray_unreachable", "ray_missing")  # ray_missing where Ray is not installed
    for lang in ("en", "ko"):
        at = app(lang=lang)
        line = t("backend_fallback", lang, problem=t(f"page_backend_{error['code']}", lang, **error))
        assert [w.value for w in at.warning] == [line]
        assert error["code"] == "ray_missing" or "127.0.0.1:1" in line
    at = app(**SLOW)
    at.button(key="btn_start").click().run()
    runner = state.live_runners()[0]
    assert type(runner).__name__ == "ThreadRun" and runner.slots is reg.pool
    wait_until(lambda at: progress_text(at).startswith("Step"), at)


ray = pytest.importorskip("ray", reason="ray not installed: the Ray page tests need requirements-ray.txt")


@pytest.fixture(scope="module")
def local_ray():
    with local_ray_cluster():
        yield


def leftovers() -> list[str]:
    from bn_demo.backends.ray_backend import live_actor_names, live_slots

    return live_actor_names() + live_slots()


def test_the_page_trains_on_ray_and_shows_the_backend(registry, local_ray):
    reg = registry()
    assert reg.ready_backend(60).name == "ray" and reg.backend_error is None
    at = app(**SLOW)
    stats = reg.backend.stats()
    assert t("backend_line", free=stats["free"], slots=2, nodes=1) in [c.value.split(" ", 1)[1] for c in at.caption]
    at.button(key="btn_start").click().run()
    runner = state.live_runners()[0]
    assert type(runner).__name__ == "RayRun"
    wait_until(lambda at: progress_text(at).startswith("Step") and runner.progress()["step"] > 10, at, 120)
    assert any(t("backend_line", free=1, slots=2, nodes=1) in c.value for c in at.caption)
    at.button(key="btn_stop").click().run()
    assert runner.status == "stopped" and runner.record()["progress"]["step"] > 10
    assert wait_for(lambda: leftovers() == [], RELEASE_WINDOW)


def test_sessions_that_go_away_leave_no_actor_and_no_slot(registry, local_ray, digits):
    reg = registry(reap_interval=0.2)
    released = reg.start_run("released", LONG, dataset=digits)
    silent = reg.start_run("silent", LONG, dataset=digits)
    assert wait_for(lambda: released.progress()["step"] > 0 and silent.progress()["step"] > 0, 120)
    assert len(leftovers()) == 4  # two actors, two slots
    reg.release("released")  # Streamlit's session release (state.release_session)
    assert wait_for(lambda: len(leftovers()) == 2, RELEASE_WINDOW)
    assert released.status == "stopped" and reg.ended_by_server(released.token) == "released"
    reg.idle_timeout = 0.5  # the page stopped checking in: the reaper's fallback
    assert wait_for(lambda: leftovers() == [], RELEASE_WINDOW + 1)
    assert silent.status == "stopped" and reg.ended_by_server(silent.token) == "idle"
