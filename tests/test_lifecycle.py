"""Issue 8, the run life cycle: Reset, Start and session release free the previous run; the training
slots serve the class (a paused run's slot goes back, budgets, one queue place per session); Stop is
prompt in every phase, the first run of a fresh process included; and the page says what happened
to a run stopped while queued, stopped by its budget, or lost with its connection."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import weakref

import pytest
from streamlit.testing.v1 import AppTest
from test_app import APP, fresh_session, progress_text, url, wait_until  # noqa: F401  (the fixture resets sessions)
from test_app import app as page

from bn_demo import sessions
from bn_demo.config import PRESETS, RunConfig
from bn_demo.engine import Experiment, StopRequested
from bn_demo.model import build_twins
from bn_demo.runner import Budget, Runner
from bn_demo.ui import state
from bn_demo.ui.strings import duration, number, t
from conftest import REPO, standing_in_registries, wait_for

LONG = RunConfig(dataset="digits", hidden=(16,), epochs=200, probe_every=50, device="cpu")
# Wide enough that a leak shows: the twins, their gradients and Adam's two moments are ~27 MB a run.
WIDE = RunConfig(dataset="digits", hidden=(512,) * 4, epochs=200, device="cpu")  # RSS is host memory: on the CPU
CYCLES = 20
RSS_MARGIN_MIB = 60  # resident memory may grow this much over CYCLES (allocator noise); a leak of WIDE runs is ~450 MiB
STOP_SEEN_WITHIN = 0.5  # seconds from stop() until the caller reads "stopped" and the slot is free


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def parameters(config: RunConfig, n_features: int) -> int:
    return sum(p.numel() for m in build_twins(config, n_features, 10, "cpu").values() for p in m.parameters())


@pytest.fixture
def registry(monkeypatch):
    """make(**kwargs): a one-slot server registry standing in for the server's for this test."""
    with standing_in_registries(monkeypatch) as make:
        yield make


def infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


# -- Reset, Start and release free the previous run -------------------------------------------------------


def test_start_stop_reset_twenty_times_keeps_one_run_and_flat_memory(registry):
    reg = registry()
    runs = state.SessionRuns()
    experiments = []

    def cycle() -> Runner:
        runner = state.start_run(runs, WIDE)
        assert wait_for(lambda: runner.progress()["step"] >= 2)  # Adam's moments exist
        experiments.append(weakref.ref(runner.experiment))
        assert reg.stats()["runs"] == 1
        runner.stop()  # Stop
        state.reset(runs)  # Reset
        assert reg.stats()["runs"] == 0 and runs.runner is None and reg.pool.active_count == 0
        return runner

    for _ in range(3):  # warm-up: the dataset cache, the allocator's pools
        last = cycle()
    assert wait_for(lambda: not last.alive, 10)
    gc.collect()
    before = rss_mib()
    for _ in range(CYCLES - 3):
        last = cycle()
    assert wait_for(lambda: not last.alive, 10)
    gc.collect()
    grown = rss_mib() - before
    print(f"RSS over {CYCLES - 3} Start → Stop → Reset cycles of 4×512 twins: {before:.0f} → {before + grown:.0f} MiB")
    assert all(ref() is None for ref in experiments), "a reset run's networks are still referenced"
    assert grown < RSS_MARGIN_MIB
    assert len(runs.history) == state.HISTORY_SIZE  # what a Reset keeps: the curves, for overlays


def test_release_and_a_new_start_free_the_previous_run(registry, digits):
    reg = registry()
    first = reg.start_run("s", LONG, dataset=digits)
    assert wait_for(lambda: first.progress()["step"] > 0)
    ref = weakref.ref(first.experiment)
    second = reg.start_run("s", LONG, dataset=digits)  # Start again: the previous run is let go of
    assert first.status == "stopped" and first.stop_reason == "user"
    assert wait_for(lambda: second.progress()["step"] > 0)  # it took the freed slot
    assert wait_for(lambda: not first.alive, 10)
    gc.collect()
    assert ref() is None and first.experiment is None
    ref = weakref.ref(second.experiment)
    assert reg.release("s") == 1  # the tab is gone
    assert second.status == "stopped" and second.stop_reason == "released" and reg.pool.active_count == 0
    assert wait_for(lambda: not second.alive, 10)
    gc.collect()
    assert ref() is None and reg.stats()["runs"] == 0


def test_reset_through_the_page_frees_each_run(registry):
    reg = registry()
    at = page(dataset="digits", steps="400", pace="40", depth="2", width="64")
    refs = []
    for _ in range(3):
        at.button(key="btn_start").click().run()
        runner = state.latest_runner()
        assert wait_for(lambda r=runner: r.progress()["step"] > 0)
        refs.append((runner, weakref.ref(runner.experiment)))
        assert reg.stats()["runs"] == 1
        at.button(key="btn_stop").click().run()
        at.button(key="btn_reset").click().run()
        assert reg.stats()["runs"] == 0 and at.info[0].value == t("no_run")
    assert all(wait_for(lambda r=runner: not r.alive, 10) for runner, _ in refs)
    gc.collect()
    assert all(ref() is None for _, ref in refs)
    assert not at.exception


# -- slots serve the class ------------------------------------------------------------------------------------


def test_a_paused_run_gives_its_slot_back_and_queues_again_on_resume(registry, digits):
    reg = registry(pause_grace=0.4)
    mine = reg.start_run("me", LONG, dataset=digits)
    assert wait_for(lambda: mine.progress()["step"] > 0)
    mine.pause()
    mine.resume()  # within the grace period the slot is kept
    assert mine.status == "running"
    other = reg.start_run("other", LONG, dataset=digits)
    assert wait_for(lambda: other.progress()["queue_position"] == 1)
    mine.pause()
    paused_at = time.monotonic()
    assert wait_for(lambda: other.status == "running", timeout=10)
    assert time.monotonic() - paused_at >= 0.4  # not before the grace period
    assert mine.status == "paused" and mine.gave_slot_back
    held = mine.progress()["step"]
    mine.resume()
    assert mine.status == "queued"
    assert wait_for(lambda: mine.progress()["queue_position"] == 1)
    time.sleep(0.3)
    assert mine.progress()["step"] == held  # queued: it does not train
    reg.release("other")
    assert wait_for(lambda: mine.status == "running") and wait_for(lambda: mine.progress()["step"] > held)
    assert not mine.gave_slot_back


def test_the_page_says_a_paused_run_gave_its_slot_back_and_queues_again(registry, digits):
    reg = registry(pause_grace=0.2)
    at = page(dataset="digits", steps="2000", pace="50", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert wait_for(lambda: runner.progress()["step"] > 0)
    at.button(key="btn_pause").click().run()
    assert wait_for(lambda: runner.gave_slot_back, 10)
    at.run()
    assert t("status_paused_released", grace=duration(0.2)) in infos(at)
    other = reg.start_run("another-student", LONG, dataset=digits)
    assert wait_for(lambda: other.status == "running")
    at.button(key="btn_pause").click().run()  # Resume: the slot is taken, so it queues
    assert runner.status == "queued"
    assert progress_text(at).startswith("Queued, position 1") and t("status_requeued") in infos(at)
    reg.release("another-student")
    wait_until(lambda a: progress_text(a).startswith("Step"), at)
    assert not at.exception


def test_a_session_holds_one_queue_place_through_the_page(registry, digits):
    reg = registry()
    other = reg.start_run("another-student", LONG, dataset=digits)
    assert wait_for(lambda: other.progress()["step"] > 0)
    runs = state.SessionRuns()
    first = state.start_run(runs, RunConfig(dataset="digits", hidden=(8,), steps=60, epochs=0))
    second = state.start_run(runs, RunConfig(dataset="digits", hidden=(8,), steps=60, epochs=0))
    assert first.status == "stopped" and second.status == "queued"
    assert wait_for(lambda: reg.pool.waiting_count == 1 and second.progress()["queue_position"] == 1)
    assert reg.stats()["runs"] == 2


def test_the_time_budget_stops_a_run_with_reason_budget(digits):
    runner = Runner(LONG, dataset=digits, budget=Budget(seconds=0.5)).start()
    assert runner.join(30)
    assert (runner.status, runner.stop_reason, runner.budget_hit) == ("stopped", "budget", "seconds")
    assert 0.5 <= runner.slot_seconds < 5
    assert runner.record()["stop_reason"] == "budget" and runner.record()["budget"]["hit"] == "seconds"


def test_the_work_budget_stops_a_run_at_its_step_limit(digits):
    budget = Budget(work=37.5 * LONG.batch_size * parameters(LONG, digits.n_features))
    runner = Runner(LONG, dataset=digits, budget=budget).start()
    assert runner.join(30)
    assert (runner.status, runner.stop_reason, runner.budget_hit) == ("stopped", "budget", "work")
    assert runner.step_limit == 37 and runner.progress()["step"] == 37
    small = RunConfig(dataset="digits", hidden=(16,), steps=30, epochs=0)
    assert Runner(small, dataset=digits, budget=budget).start().join(30)  # within the budget: untouched
    unlimited = Runner(LONG, dataset=digits)  # the CLI's runs: no budget unless asked
    assert unlimited.budget is None


def test_the_default_budget_fits_every_preset_but_not_the_sidebar_maximum(monkeypatch, digits):
    for name in (sessions.MAX_SECONDS_ENV, sessions.MAX_WORK_ENV, sessions.PAUSE_GRACE_ENV):
        monkeypatch.delenv(name, raising=False)
    budget = sessions.server_budget()
    assert budget.seconds == sessions.DEFAULT_MAX_SECONDS and sessions.server_pause_grace() == 30
    for name, preset in PRESETS.items():
        config = preset.config()
        n_features, n_train = (64, len(digits.train_y)) if config.dataset == "digits" else (784, 60_000)
        assert budget.max_steps(config.batch_size, parameters(config, n_features)) >= config.total_steps(n_train), name
    largest = RunConfig(dataset="mnist", hidden=(512,) * 12, batch_size=1024, steps=1_000_000, epochs=0)
    assert budget.max_steps(largest.batch_size, parameters(largest, 784)) < 2_000


def test_budget_and_grace_come_from_the_environment(monkeypatch, digits):
    monkeypatch.setenv(sessions.MAX_SECONDS_ENV, "60")
    monkeypatch.setenv(sessions.MAX_WORK_ENV, "0")  # 0: no limit
    monkeypatch.setenv(sessions.PAUSE_GRACE_ENV, "5")
    reg = sessions.SessionRegistry(slots=1, idle_timeout=600)
    assert reg.budget == Budget(seconds=60, work=None) and reg.pause_grace == 5
    runner = reg.start_run("s", LONG, dataset=digits)
    assert runner.budget == reg.budget and runner.pause_grace == 5
    reg.release("s")


def test_the_page_states_a_budget_stop(registry, digits):
    registry(budget=Budget(work=25 * 32 * parameters(RunConfig(dataset="digits", hidden=(8,)), 64)))
    at = page(dataset="digits", steps="400", depth="1", width="8", batch_size="32")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    assert runner.join(60) and runner.stop_reason == "budget" and runner.step_limit == 25
    at.run()
    warnings = " ".join(w.value for w in at.warning)
    assert t("stopped_budget_work", step=number(25), steps=number(25)) in warnings
    assert t("status_stopped") in progress_text(at)
    assert not at.exception


# -- Stop is prompt in every phase ---------------------------------------------------------------------------

FRESH_PROCESS = """
import json, sys, time
from bn_demo.config import RunConfig
from bn_demo.runner import Runner, SlotPool

phase = sys.argv[1]
pool = SlotPool(1)
runner = Runner(RunConfig(dataset="digits", hidden=(64, 64), epochs=50), slots=pool).start()
deadline = time.monotonic() + 60
if phase == "networks":  # the data is in; the networks and their first optimizer (torch._dynamo) are not
    while runner.dataset is None and time.monotonic() < deadline:
        time.sleep(0.001)
building = runner.experiment is None
t0 = time.perf_counter()
runner.stop()
while runner.status != "stopped" and time.monotonic() < deadline:
    time.sleep(0.001)
seen = time.perf_counter() - t0
slot_free = pool.active_count == 0
runner.join(60)
print(json.dumps({"phase": phase, "in_setup": building, "seen": seen, "slot_free": slot_free,
                  "thread_ended": time.perf_counter() - t0, "status": runner.status}))
"""


@pytest.mark.parametrize("phase", ["data", "networks"])
def test_stop_during_the_first_run_of_a_fresh_process_is_seen_at_once(phase):
    proc = subprocess.run([sys.executable, "-c", FRESH_PROCESS, phase], cwd=REPO, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(result)
    assert result["in_setup"] and result["status"] == "stopped" and result["slot_free"]
    assert result["seen"] < STOP_SEEN_WITHIN


def test_probe_and_ics_passes_check_the_stop_flag_between_layers_and_twins(digits):
    checks = []
    exp = Experiment(RunConfig(dataset="digits", hidden=(16,) * 4), digits, "cpu",
                     should_stop=lambda: checks.append(1) and False)
    exp.ics_every, exp.probe_every, exp.eval_every = 1, 10**9, 10**9
    exp.train_step()  # one step with an ICS pass: four layers (2…output) per twin
    assert len(checks) == 2 * 4
    checks.clear()
    exp.probe()
    assert len(checks) == 2 * 2
    exp.should_stop = lambda: checks.append(1) or len(checks) > 1
    checks.clear()
    with pytest.raises(StopRequested):
        exp.probe()
    assert len(checks) == 2  # stopped at the second check, not at the end of the pass


# -- what the page says ------------------------------------------------------------------------------------


def test_a_run_stopped_while_queued_reads_stopped(registry, digits):
    reg = registry()
    other = reg.start_run("another-student", LONG, dataset=digits)
    assert wait_for(lambda: other.progress()["step"] > 0)
    at = page(dataset="digits", steps="60", depth="1", width="8")
    at.button(key="btn_start").click().run()
    assert progress_text(at).startswith("Queued, position 1")
    at.button(key="btn_stop").click().run()
    assert progress_text(at) == t("status_stopped_early")
    assert not at.button(key="btn_start").disabled and at.button(key="btn_stop").disabled
    assert other.status == "running" and not at.exception


def test_the_link_names_the_live_run_and_a_reconnect_says_it_was_lost(registry):
    reg = registry()
    at = page(dataset="digits", steps="400", pace="40", depth="1", width="8")
    at.button(key="btn_start").click().run()
    runner = state.latest_runner()
    link = url(at)
    assert link["run"] == runner.token
    (runs,) = state.all_sessions()
    runs.forget()  # the laptop slept: the server released the session (a new session starts afresh)
    assert runner.status == "stopped" and runner.stop_reason == "released"
    assert reg.ended_by_server(runner.token) == "released"
    woken = page(**link)
    assert t("run_lost") in infos(woken)
    assert "run" not in url(woken) and not woken.warning  # the token is no setting: no link warning
    assert url(woken) == {k: v for k, v in link.items() if k != "run"}
    woken.button(key="btn_start").click().run()  # a new run: the note has done its job
    assert t("run_lost") not in infos(woken)
    assert not woken.exception


def test_the_run_token_leaves_the_link_when_the_run_ends(registry):
    registry()
    at = page(dataset="digits", steps="400", pace="40", depth="1", width="8")
    at.button(key="btn_start").click().run()
    assert "run" in url(at)
    at.button(key="btn_stop").click().run()
    assert "run" not in url(at)
    assert not at.exception


def test_an_unknown_or_idle_run_token(registry, digits):
    reg = registry()
    at = page(run="not-a-run-of-this-server", dataset="digits")
    assert not at.warning and t("run_lost") not in infos(at) and url(at) == {"dataset": "digits"}
    runner = reg.start_run("asleep", LONG, dataset=digits)
    assert reg.reap(now=time.monotonic() + 10_000) == ["asleep"]  # the idle reaper's path
    assert runner.stop_reason == "idle" and reg.ended_by_server(runner.token) == "idle"
    finished = reg.start_run("done", RunConfig(dataset="digits", hidden=(8,), steps=5, epochs=0), dataset=digits)
    assert finished.join(30) and reg.reap(now=time.monotonic() + 10_000) == []  # an ended run is left alone
    reg.release("done")
    assert reg.ended_by_server(finished.token) is None  # it had finished: nothing was lost
