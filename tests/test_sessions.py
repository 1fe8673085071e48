"""Many sessions on one server: the slot limit, the queue, release and the idle reaper."""

import gc
import threading
import time

from bn_demo.config import RunConfig
from bn_demo.sessions import SessionRegistry, default_slot_count
from conftest import wait_for

LONG = RunConfig(dataset="digits", hidden=(16,), epochs=200, probe_every=50)


def test_slot_limit_queues_and_release_frees_the_slot(digits):
    reg = SessionRegistry(slots=1, idle_timeout=600)
    a = reg.start_run("alice", LONG, dataset=digits)
    assert wait_for(lambda: a.progress()["step"] > 0)  # past set-up (the first run imports torch's optimizers)
    b = reg.start_run("bob", LONG, dataset=digits)
    c = reg.start_run("carol", LONG, dataset=digits)
    assert wait_for(lambda: b.progress()["queue_position"] == 1 and c.progress()["queue_position"] == 2)
    stats = reg.stats()
    assert (stats["training"], stats["queued"], stats["slots"]) == (1, 2, 1)
    assert reg.release("alice") == 1 and a.status == "stopped"  # at once, as the page sees it
    assert wait_for(lambda: not a.alive, 10)  # the thread ends within a step
    assert wait_for(lambda: b.status == "running")  # queued runs start in order as slots free
    assert c.status == "queued" and c.progress()["queue_position"] == 1
    reg.release("bob")
    reg.release("carol")  # leaves the queue at once
    assert reg.stats()["runs"] == 0 and reg.pool.active_count == 0 and reg.pool.waiting_count == 0


def test_idle_sessions_are_reaped_without_any_release_callback(digits):
    reg = SessionRegistry(slots=2, idle_timeout=0.5, reap_interval=0.1)
    watched = reg.start_run("open-tab", LONG, dataset=digits)
    closed = reg.start_run("closed-tab", LONG, dataset=digits)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the open tab keeps polling, the closed one is silent
        reg.touch("open-tab")
        time.sleep(0.05)
    assert closed.status == "stopped" and closed.stop_reason == "idle"
    assert wait_for(lambda: not closed.alive, 10)
    assert watched.status == "running"
    reg.release("open-tab")


def test_a_session_holds_at_most_one_place_in_the_queue(digits):
    reg = SessionRegistry(slots=1, idle_timeout=600)
    busy = reg.start_run("other", LONG, dataset=digits)
    assert wait_for(lambda: busy.status == "running")
    first = reg.start_run("me", LONG, dataset=digits)
    assert wait_for(lambda: first.progress()["queue_position"] == 1)
    second = reg.start_run("me", LONG, dataset=digits)  # a second Start replaces its own queued run
    assert first.status == "stopped" and first.stop_reason == "user"
    assert wait_for(lambda: reg.pool.waiting_count == 1 and second.progress()["queue_position"] == 1)
    assert reg.run_of("me") is second and reg.stats()["runs"] == 2
    reg.release("me")
    reg.release("other")
    assert reg.pool.active_count == 0 and wait_for(lambda: reg.pool.waiting_count == 0)


def test_no_thread_or_slot_leaks_after_many_open_close_cycles(digits):
    reg = SessionRegistry(slots=1, idle_timeout=600)
    baseline = threading.active_count()
    for i in range(15):
        runner = reg.start_run(f"s{i}", LONG, dataset=digits)
        if i % 3 == 0:
            wait_for(lambda r=runner: r.progress()["step"] > 5)
        reg.release(f"s{i}")
    gc.collect()
    assert wait_for(lambda: threading.active_count() <= baseline + 1, timeout=15)  # + the idle reaper
    assert reg.stats() == {"sessions": 0, "runs": 0, "training": 0, "queued": 0, "slots": 1, "threads_alive": 0}
    assert reg.pool.active_count == 0 and reg.pool.waiting_count == 0


def test_default_slot_count(monkeypatch):
    monkeypatch.setenv("BN_DEMO_MAX_RUNS", "3")
    assert default_slot_count() == 3
    monkeypatch.delenv("BN_DEMO_MAX_RUNS")
    assert default_slot_count() >= 1
