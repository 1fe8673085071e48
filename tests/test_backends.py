"""Run backends (bn_demo/backends, issue 13): the interface, the thread backend, and the Ray backend
against a local two-CPU Ray started here: same science as threads, faults stay in their worker,
no leaked actors. Skipped without Ray (CI installs requirements-ray.txt)."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from bn_demo import record as rec
from bn_demo.backends import BackendUnavailable, RunHandle, backend_name, get_backend
from bn_demo.config import RunConfig
from bn_demo.data import Dataset
from bn_demo.runner import SlotPool
from conftest import REPO, assert_plain_data, local_ray_cluster, wait_for

SHORT = dict(dataset="digits", hidden=(16, 16), steps=40, epochs=0, probe_every=10, ics_every=10, device="cpu", seed=3)
LONG = dict(dataset="digits", hidden=(16, 16), epochs=200, probe_every=50, device="cpu")


# -- without Ray -------------------------------------------------------------------------------------------


def test_thread_backend_is_the_runner_with_a_queue_position(digits):
    assert backend_name(None) in ("thread", "ray") and backend_name("Thread") == "thread"
    with pytest.raises(BackendUnavailable) as bad:
        get_backend("spark")
    assert bad.value.code == "unknown_backend"
    backend = get_backend("thread", slots=SlotPool(1))
    first = backend.start(RunConfig(**LONG), dataset=digits)
    second = backend.start(RunConfig(**LONG), dataset=digits)
    try:
        assert isinstance(first, RunHandle) and isinstance(second, RunHandle)
        assert wait_for(lambda: first.status == "running" and second.queue_position() == 1)
        assert second.status == "queued" and second.record()["progress"]["queue_position"] == 1
        assert backend.stats() == {"backend": "thread", "slots": 1, "free": 0}
    finally:
        first.stop()
        second.stop()
    assert first.join(10) and second.join(10)


def test_cli_unreachable_cluster_is_one_line_and_non_zero():
    pytest.importorskip("ray", reason="ray not installed (pip install -r requirements-ray.txt)")
    env = {**os.environ, "BN_DEMO_RAY_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "bn_demo", "train", "--backend", "ray", "--dataset", "digits",
                           "--steps", "5"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr


# -- on Ray ------------------------------------------------------------------------------------------------

ray = pytest.importorskip("ray", reason="ray not installed: the Ray backend tests need requirements-ray.txt")


@pytest.fixture(scope="module")
def backend():
    from bn_demo.backends.ray_backend import RayBackend

    with local_ray_cluster():
        yield RayBackend()


def live_actors():
    """This project's live actors and placement groups (a run's slots) in the cluster."""
    from bn_demo.backends.ray_backend import live_actor_names, live_slots

    return live_actor_names() + live_slots()


def step_of(run) -> int:
    return run.progress()["step"]


def series(record: dict) -> str:
    """Everything a run computed, exactly (JSON keeps every float's bits), without timing and ids."""
    keep = ("twins", "cadence", "probe", "gallery", "events", "n_layers", "engine_version", "config", "dataset")
    return rec.dumps({k: record[k] for k in keep})


def test_ray_run_gives_bitwise_the_same_record_as_a_thread_run(backend, digits):
    on_ray = backend.start(RunConfig(**SHORT), dataset=digits)
    assert isinstance(on_ray, RunHandle)
    in_thread = get_backend("thread").start(RunConfig(**SHORT), dataset=digits)
    assert on_ray.join(120) and in_thread.join(60)
    a, b = on_ray.record(), in_thread.record()
    assert a["status"] == b["status"] == "finished" and a["progress"]["step"] == 40
    for twin in ("bn", "plain"):
        assert np.array_equal(a["twins"][twin]["train"]["loss"], b["twins"][twin]["train"]["loss"])
        assert a["twins"][twin]["train"]["loss"].tobytes() == b["twins"][twin]["train"]["loss"].tobytes()
    assert series(a) == series(b)
    assert a["run_id"] == on_ray.run_id and a["device"] == "cpu"
    assert_plain_data(a)
    assert wait_for(lambda: live_actors() == [], 10)  # an ended run's actor is gone, its slot free


@contextlib.contextmanager
def two_training_one_queued(backend, digits):
    """Three long runs on the two-CPU cluster: two train, the third waits; all three stopped afterwards."""
    runs = [backend.start(RunConfig(**LONG), dataset=digits) for _ in range(3)]
    try:
        # Equal expected times: the line keeps their order of arrival, and Ray is asked for one slot at a time.
        assert wait_for(lambda: step_of(runs[0]) > 5 and step_of(runs[1]) > 5, 120)
        assert runs[2].status == "queued"
        yield runs
    finally:
        for run in runs:
            run.stop()


def test_runs_get_their_first_slots_in_the_thread_backends_order_shortest_expected_first(backend, digits):
    first, second = (backend.start(RunConfig(**LONG), dataset=digits) for _ in range(2))
    long_one = short_one = None
    try:
        assert wait_for(lambda: step_of(first) > 5 and step_of(second) > 5, 120)
        long_one = backend.start(RunConfig(**LONG), dataset=digits)
        short_one = backend.start(RunConfig(**{**SHORT, "pace": 20.0}), dataset=digits)  # 2 s: due long before
        assert short_one.queue_position() == 1 and long_one.queue_position() == 2
        assert long_one.record()["progress"]["queue_position"] == 2
        first.stop()
        assert wait_for(lambda: step_of(short_one) > 0, 60)  # the freed slot went to the shorter run
        assert long_one.status == "queued" and long_one.queue_position() == 1
        short_one.join(60)
        assert wait_for(lambda: step_of(long_one) > 0, 60)  # and the next one to the waiting long run
    finally:
        for run in (first, second, long_one, short_one):
            if run is not None:
                run.stop()
    assert wait_for(lambda: live_actors() == [], 10)


def test_the_handle_reads_deltas_from_its_actor_and_holds_the_whole_record(backend, digits):
    run = backend.start(RunConfig(**{**SHORT, "steps": 400, "pace": 100.0}), dataset=digits)
    asked, answers = [], []
    call = run._call

    def spy(method, *args, **kwargs):  # what crosses the process boundary
        answer = call(method, *args, **kwargs)
        if method == "record":
            asked.append(args[0] if args else None)
            answers.append(answer)
        return answer

    run._call = spy
    run.set_pause_at(150)
    try:
        def read_until_paused() -> bool:
            assert run.record()["since"] is None  # the page always gets a whole record
            return run.status == "paused"

        assert wait_for(read_until_paused, 60)
        held = run.record()
        assert series(held) == series(run._stamp(call("record")))  # the merged copy is the actor's whole record
        assert asked[0] is None and any(asked[1:])  # the first read whole, the later ones since a cursor
        assert any(a["twins"]["bn"]["kept"]["train"] > 0 for a in answers[1:] if a["since"] is not None)
    finally:
        run.stop()
    assert wait_for(lambda: live_actors() == [], 10)


def test_a_run_whose_slot_is_placed_reads_setting_up_not_queued_while_its_worker_starts(backend, digits):
    run = backend.start(RunConfig(**LONG), dataset=digits)
    seen = []

    def reading() -> bool:
        record, setting_up = run.record(), run.setting_up
        seen.append((record["status"], record["progress"]["queue_position"], setting_up))
        return run.has_first_point

    try:
        assert wait_for(reading, 120)
    finally:
        run.stop()
    starting = [s for s in seen if s[2]]
    assert starting and all(s == ("running", None, True) for s in starting)  # the page says "preparing"
    assert all(position == 1 for status, position, _ in seen if status == "queued")
    assert wait_for(lambda: live_actors() == [], 10)


def test_the_page_asks_the_cluster_for_its_slots_at_most_once_per_interval(backend, monkeypatch):
    asked = []
    cluster_resources = ray.cluster_resources
    monkeypatch.setattr(ray, "cluster_resources", lambda: asked.append(1) or cluster_resources())
    fresh = backend.stats()
    assert [backend.stats(max_age=60) for _ in range(5)] == [fresh] * 5 and len(asked) == 1
    assert backend.stats() == fresh and len(asked) == 2  # max_age 0: asked again


def test_commands_and_queue_on_ray(backend, digits):
    with two_training_one_queued(backend, digits) as (first, second, third):
        assert third.queue_position() == 1
        assert third.record()["progress"]["queue_position"] == 1
        first.pause()
        assert first.status == "paused"
        held = step_of(first)
        time.sleep(0.5)
        assert step_of(first) == held
        first.resume()
        assert wait_for(lambda: step_of(first) > held, 30)
        first.stop()
        assert first.status == "stopped" and first.record()["stop_reason"] == "user"
        assert wait_for(lambda: step_of(third) > 5, 120)  # the freed slot went to the queued run
        assert third.queue_position() is None
        assert backend.stats()["free"] == 0
    assert wait_for(lambda: live_actors() == [], 10)


def test_a_killed_worker_fails_its_run_and_the_others_go_on(backend, digits):
    with two_training_one_queued(backend, digits) as (victim, other, waiting):
        seen = victim.record()  # as the page polls it
        os.kill(ray.get(victim._ready_ref), signal.SIGKILL)  # as the OOM killer or a native crash would
        assert wait_for(lambda: victim.status == "failed", 30)
        record = victim.record()
        assert record["error"]["code"] == "worker_lost" and record["error"]["type"]
        # What the page had read survives the worker.
        assert record["progress"]["step"] >= seen["progress"]["step"] > 5
        assert np.array_equal(record["twins"]["bn"]["train"]["loss"], seen["twins"]["bn"]["train"]["loss"])
        assert wait_for(lambda: step_of(waiting) > 5, 120)  # its slot was freed
        before = step_of(other)
        assert wait_for(lambda: step_of(other) > before, 30) and other.status == "running"
        ray.kill(other._actor)  # killed from outside, mid-run
        assert wait_for(lambda: other.status == "failed", 30)
        assert other.record()["error"]["code"] == "worker_lost"
        assert waiting.status == "running"
    assert wait_for(lambda: live_actors() == [], 10)


def test_a_run_paused_past_its_grace_gives_its_cpu_to_the_queue_and_queues_again_on_resume(backend, digits):
    from bn_demo.backends.ray_backend import RayBackend

    graced = RayBackend(pause_grace=1.0)  # the same local Ray, with the page's pause grace
    with two_training_one_queued(graced, digits) as (paused, other, waiting):
        paused.pause()
        assert wait_for(lambda: step_of(waiting) > 5, 120)  # the paused run's CPU went to the queued run
        record = paused.record()
        assert record["status"] == "paused" and record["progress"]["slot_released"]
        assert record["progress"]["pause_grace"] == 1.0
        held = record["progress"]["step"]
        paused.resume()  # both CPUs are busy: it waits for one, on its own machine, with its networks kept
        assert paused.status == "queued" and paused.queue_position() == 1
        assert paused.record()["progress"]["queue_position"] == 1
        other.stop()
        assert wait_for(lambda: step_of(paused) > held, 120) and paused.status == "running"
    assert wait_for(lambda: live_actors() == [], 10)


def test_an_exception_in_the_worker_fails_the_run_with_its_code(backend, digits):
    broken = Dataset(**{**digits.__dict__, "train_y": digits.train_y + 5})  # labels up to 14 for 10 outputs
    run = backend.start(RunConfig(dataset="digits", hidden=(8,), steps=20, epochs=0, device="cpu"), dataset=broken)
    assert run.join(120)
    record = run.record()
    assert record["status"] == "failed" and record["error"]["code"] == "exception" and record["error"]["type"]
    assert "Traceback" not in rec.dumps(record)
    assert wait_for(lambda: live_actors() == [] and backend.stats()["free"] == 2, 10)


def test_no_leaked_actors_after_20_start_stop_cycles(backend, digits):
    config = RunConfig(**LONG)
    for i in range(20):
        run = backend.start(config, dataset=digits)
        if i % 5 == 0:  # every fifth cycle stops a training run; the others stop it at once (placed or not)
            assert wait_for(lambda: step_of(run) > 0, 60)  # noqa: B023
        run.discard("released")
        assert run.status == "stopped" and not run.alive
    assert wait_for(lambda: live_actors() == [], 10), live_actors()
    assert backend.runs() == []
    # Not asserted: that both CPUs read free again. In 1 of 3 local tries one CPU stayed unavailable
    # (≥ 40 s) after actors were killed before placement, with every actor DEAD (open, see docs/scale-out.md).


def test_cli_trains_on_ray_with_the_same_record_as_threads(tmp_path):
    """`train --backend ray` starts its own local Ray (BN_DEMO_RAY_ADDRESS unset) and writes the same
    run record as the default thread backend."""
    env = {k: v for k, v in os.environ.items() if k not in ("BN_DEMO_RAY_ADDRESS", "RAY_ADDRESS")}
    outs = {}
    for name in ("ray", "thread"):
        outs[name] = tmp_path / f"{name}.json"
        done = subprocess.run([sys.executable, "-m", "bn_demo", "train", "--backend", name, "--dataset", "digits",
                               "--steps", "30", "--device", "cpu", "--quiet", "--out", str(outs[name])],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    a, b = (rec.loads(outs[n].read_text()) for n in ("ray", "thread"))
    assert a["status"] == "finished" and series(a) == series(b)


def test_a_sweep_and_seeds_side_by_side_on_ray_match_threads(backend, digits):
    """`sweep --backend ray` runs each grid point through the backend; a run of two seeds side by side
    brings its other seed's curves back across the process boundary unchanged."""
    from bn_demo import sweep

    config = RunConfig(**{**SHORT, "steps": 30}, optimizer="sgd")
    docs = [sweep.run_sweep(b, config, (0.01, 0.5), (1,), target=0.5) for b in (backend, get_backend("thread"))]
    entries = [[{k: v for k, v in run.items() if k not in ("seconds", "train_seconds")} for run in doc["runs"]] for doc in docs]
    assert docs[0]["complete"] and len(entries[0]) == 2 and entries[0] == entries[1]
    runs = [b.start(RunConfig(**SHORT, repeats=2), dataset=digits) for b in (backend, get_backend("thread"))]
    assert all(run.join(120) for run in runs)
    a, b = (run.record() for run in runs)
    assert a["repeats"]["seeds"] == [SHORT["seed"] + 1]
    assert rec.dumps(a["repeats"]) == rec.dumps(b["repeats"])


def test_reproduce_trains_its_seeds_on_ray_as_it_does_here(backend, digits):
    """`reproduce --backend ray`: each seed in a Ray worker, the same numbers as one after another here."""
    from bn_demo import reproduce as R

    config = R.paper_config(steps=20, dataset="digits")
    measures = dict(probe_points=5, eval_points=5, ics_points=5, landscape_at=(0, 20))
    on_ray = R.train_seeds(config, digits, (1, 2), backend="ray", threads=1, **measures)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers (and as the command sets it): the same arithmetic
    try:
        here = R.train_seeds(config, digits, (1, 2), **measures)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(on_ray, here, strict=True):
        assert a["record"]["config"]["seed"] == b["record"]["config"]["seed"]
        assert series(a["record"]) == series(b["record"])
        assert rec.dumps(a["landscape"]) == rec.dumps(b["landscape"])
