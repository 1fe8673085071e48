"""Live controls (issue #10 item 4): a learning-rate change during a run, Step while paused, pause at a
step. The Runner applies each between two steps in its worker thread: both twins change their rate before
the same step, and a run stops after exactly the step asked for. The page's row (ui/live_controls.py)
is driven under AppTest."""

from __future__ import annotations

import math
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest
from test_app import fresh_session  # noqa: F401  (the fixture resets the page's sessions)
from test_korean import english_phrases

from bn_demo import record as rec
from bn_demo.config import ConfigError, RunConfig
from bn_demo.engine import Experiment
from bn_demo.runner import Runner, SlotPool
from bn_demo.ui import state
from bn_demo.ui.strings import config_problem, t
from conftest import wait_for

# Short digits runs; probes off where only the training steps matter.
CONFIG = dict(dataset="digits", hidden=(16, 16), batch_size=32, steps=60, epochs=0, device="cpu", seed=4)


def paused_at(runner: Runner, step: int) -> bool:
    """Wait until the run is paused, then say whether it stopped at exactly `step` (and stays there)."""
    assert wait_for(lambda: runner.status == "paused", timeout=30), runner.status
    time.sleep(0.1)  # a worker that went on by mistake would be past `step` by now
    return runner.status == "paused" and runner.experiment.step == step


def finish(runner: Runner) -> None:
    runner.stop()
    assert runner.join(10)


# -- the learning rate -----------------------------------------------------------------------------------


def test_learning_rate_changes_for_both_twins_at_one_step(digits):
    config = RunConfig(**{**CONFIG, "pace": 200.0})  # 60 steps ≈ 0.3 s: time to change the rate mid-run
    runner = Runner(config, dataset=digits, probes_on=False)
    runner.set_pause_at(10)  # hooks go on while the run holds still
    runner.start()
    assert paused_at(runner, 10)
    exp = runner.experiment
    rates = {name: [] for name in exp.twins}  # (step, lr) at every optimizer step
    batches = {name: {} for name in exp.twins}  # step -> the training batch
    for name, twin in exp.twins.items():
        twin.optimizer.register_step_pre_hook(
            lambda opt, args, kwargs, name=name: rates[name].append((exp.step, opt.param_groups[0]["lr"])))
        # model(x) is the training call; evaluation uses model.run directly.
        twin.model.register_forward_pre_hook(
            lambda mod, args, name=name: batches[name].__setitem__(exp.step, args[0].clone()))
    runner.resume()
    assert wait_for(lambda: exp.step >= 20)
    runner.set_lr(0.05)  # from the page thread, while the worker trains
    assert runner.join(30) and runner.status == "finished"

    record = runner.record()
    (event,) = record["events"]
    change = event["step"]
    assert event == {"step": change, "kind": "lr", "lr": 0.05, "previous": config.lr}
    assert 20 < change <= 60 and record["progress"]["lr"] == 0.05
    assert rec.loads(rec.dumps(record))["events"] == record["events"]  # a saved record keeps it
    for name in exp.twins:
        assert [step for step, _ in rates[name]] == list(range(11, 61))
        assert all(lr == (0.05 if step >= change else config.lr) for step, lr in rates[name])
        assert all(g["lr"] == 0.05 for g in exp.twins[name].optimizer.param_groups)
    # Lockstep: both twins saw each step's batch of the run's one seeded stream, before and after the change.
    stream = Experiment(config, digits, "cpu", probes_on=False)
    expected = {step: stream.next_batch()[0] for step in range(1, 61)}
    for step in range(11, 61):
        assert torch.equal(batches["bn"][step], expected[step]) and torch.equal(batches["plain"][step], expected[step])


def test_a_bad_learning_rate_is_refused_by_the_config_rule(digits):
    runner = Runner(RunConfig(**CONFIG), dataset=digits)  # not started: a queued run takes changes too
    for bad in (0, -0.1, 10.5, math.nan, math.inf, "0.1", True):
        with pytest.raises(ConfigError) as refused:
            runner.set_lr(bad)
        with pytest.raises(ConfigError) as by_config:
            RunConfig(**{**CONFIG, "lr": bad}).validate()
        assert refused.value.as_dict() == by_config.value.as_dict()
    assert "학습률" in config_problem(refused.value, "ko")
    assert runner.progress()["lr"] == RunConfig().lr
    runner.set_lr(10)  # the rule's upper end is allowed
    assert runner.progress()["lr"] == 10.0
    runner.start()
    assert runner.join(30)
    assert [(e["step"], e["lr"]) for e in runner.record()["events"]] == [(1, 10.0)]  # applied before step 1


def test_no_event_without_a_change(digits):
    runner = Runner(RunConfig(**CONFIG), dataset=digits, probes_on=False)
    runner.set_lr(RunConfig().lr)  # the rate the run already has
    runner.start()
    assert runner.join(30) and runner.record()["events"] == []


# -- stepping and pausing at a step ---------------------------------------------------------------------------


def test_step_while_paused_trains_exactly_the_steps_asked_for(digits):
    runner = Runner(RunConfig(**CONFIG), dataset=digits, probes_on=False)
    runner.set_pause_at(5)
    runner.start()
    try:
        assert paused_at(runner, 5)
        runner.step()
        assert paused_at(runner, 6)
        runner.step(7)
        assert paused_at(runner, 13)
        with pytest.raises(ConfigError):
            runner.step(0)
        runner.resume()
        runner.step(3)  # not paused: nothing to do, and no pause left behind
        assert runner.join(30) and runner.status == "finished" and runner.experiment.step == 60
    finally:
        finish(runner)


def test_pause_resets_a_step_call(digits):
    """A Pause during a step() call ends it: Resume then trains on to the end."""
    runner = Runner(RunConfig(**{**CONFIG, "pace": 50.0}), dataset=digits, probes_on=False)
    runner.set_pause_at(3)
    runner.start()
    try:
        assert paused_at(runner, 3)
        runner.step(40)
        assert wait_for(lambda: runner.experiment.step >= 6)
        runner.pause()
        runner.resume()
        assert runner.join(30) and runner.status == "finished" and runner.experiment.step == 60
    finally:
        finish(runner)


def test_step_takes_a_training_slot_again_after_giving_it_back(digits):
    """A paused run past its grace gave its slot to another run: Step queues for it, trains exactly its
    steps once it has it, pauses and gives it back again."""
    pool = SlotPool(1)
    first = Runner(RunConfig(**CONFIG), dataset=digits, probes_on=False, slots=pool, pause_grace=0.0)
    first.set_pause_at(5)
    first.start()
    other = None
    try:
        assert paused_at(first, 5)
        assert wait_for(lambda: first.gave_slot_back and pool.active_count == 0)
        other = Runner(RunConfig(**{**CONFIG, "steps": 1000, "pace": 50.0}), dataset=digits, slots=pool).start()
        assert wait_for(lambda: other.status == "running")
        first.step(2)
        assert first.status == "queued" and wait_for(lambda: pool.position(first) == 1)
        time.sleep(0.2)
        assert first.experiment.step == 5  # no step without a slot
        other.stop()
        assert paused_at(first, 7)
        assert wait_for(lambda: pool.active_count == 0 and pool.waiting_count == 0)  # given back again
        first.resume()
        assert first.join(30) and first.status == "finished"
    finally:
        finish(first)
        if other is not None:
            finish(other)
    assert pool.active_count == 0 and pool.waiting_count == 0


def test_pause_at_step_stops_at_exactly_that_step(digits):
    runner = Runner(RunConfig(**{**CONFIG, "steps": 400, "pace": 100.0}), dataset=digits, probes_on=False)
    runner.start()
    try:
        assert wait_for(lambda: runner.experiment is not None and runner.experiment.step >= 5)
        exp = runner.experiment
        target = exp.step + 30  # set while the run trains (0.3 s ahead)
        runner.set_pause_at(target)
        assert runner.progress()["pause_at"] == target
        assert paused_at(runner, target)
        assert runner.progress()["pause_at"] is None  # reached: it pauses there once
        runner.set_pause_at(target)  # a step already trained can never be reached…
        runner.resume()
        assert wait_for(lambda: runner.progress()["pause_at"] is None and exp.step > target, timeout=5)  # …dropped
        cancelled = exp.step + 10
        runner.set_pause_at(cancelled)
        runner.set_pause_at(None)
        assert wait_for(lambda: exp.step > cancelled, timeout=5) and runner.status == "running"
        later = exp.step + 30
        runner.set_pause_at(later)
        assert paused_at(runner, later)
        with pytest.raises(ConfigError):
            runner.set_pause_at(0)
    finally:
        finish(runner)


def test_pause_at_the_last_step_finishes_the_run(digits):
    runner = Runner(RunConfig(**CONFIG), dataset=digits, probes_on=False)
    runner.set_pause_at(60)
    runner.start()
    assert runner.join(30) and runner.status == "finished" and runner.experiment.step == 60


# -- the page ----------------------------------------------------------------------------------------------


def live_page(lang: str) -> None:
    """A tiny page: the session's run (started on the first visit) and the live controls' row."""
    from bn_demo.config import RunConfig
    from bn_demo.ui import live_controls, state

    runs = state.session_runs()
    if runs.runner is None:
        state.start_run(runs, RunConfig(dataset="digits", hidden=(16, 16), steps=2000, pace=40.0, probe_every=50))
    live_controls.live_controls(runs, lang)


def page(lang: str = "en") -> AppTest:
    return AppTest.from_function(live_page, args=(lang,), default_timeout=60).run()


def test_page_changes_the_learning_rate_and_steps_a_paused_run():
    at = page()
    runner = state.latest_runner()
    assert wait_for(lambda: runner.experiment is not None and runner.experiment.step >= 3)
    at.run()
    assert not at.exception
    assert at.number_input(key="live_lr").value == runner.config.lr
    assert not at.button(key="live_apply").disabled and at.button(key="live_step").disabled

    at.number_input(key="live_lr").set_value(0.05)
    at.button(key="live_apply").click().run()
    assert wait_for(lambda: runner.record()["events"])
    (event,) = runner.record()["events"]
    assert (event["kind"], event["lr"], event["previous"]) == ("lr", 0.05, runner.config.lr)
    assert all(g["lr"] == 0.05 for twin in runner.experiment.twins.values() for g in twin.optimizer.param_groups)

    at.number_input(key="live_lr").set_value(0.0)  # outside (0, 10]: refused and said why
    at.button(key="live_apply").click().run()
    (error,) = at.error
    assert error.value == t("live_refused", problem=config_problem(ConfigError("lr", 0.0, "number_range", low=0,
                                                                               high=10, low_open=True)))
    assert len(runner.record()["events"]) == 1 and runner.progress()["lr"] == 0.05

    target = runner.experiment.step + 40  # 1 s ahead at this pace: the click comes well before it
    at.number_input(key="live_pause_at").set_value(target)
    at.button(key="live_set_pause_at").click().run()
    assert t("live_pause_at_note", step=f"{target:,}") in [c.value for c in at.caption]
    assert paused_at(runner, target)
    at.run()
    assert not at.button(key="live_step").disabled
    at.number_input(key="live_steps").set_value(4)
    at.button(key="live_step").click().run()
    assert paused_at(runner, target + 4)
    assert not at.exception


def test_page_row_reads_korean():
    at = page("ko")
    assert at.button(key="live_apply").label == t("live_lr_apply", "ko")
    texts = [w.label for w in (*at.number_input, *at.button)] + [w.help or "" for w in (*at.number_input, *at.button)]
    assert not [p for text in texts for p in english_phrases(text)]
    assert not at.exception


# -- the Ray backend ----------------------------------------------------------------------------------------


def test_ray_run_forwards_the_live_controls(digits):
    ray = pytest.importorskip("ray", reason="ray not installed: the Ray backend needs requirements-ray.txt")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    from bn_demo.backends.ray_backend import RayBackend

    backend = RayBackend()
    run = backend.start(RunConfig(**{**CONFIG, "steps": 400}), probes_on=False)
    try:
        run.set_pause_at(5)  # probably sent before the actor is placed: it must not be lost
        assert wait_for(lambda: run.status == "paused") and run.progress()["step"] == 5
        with pytest.raises(ConfigError):
            run.set_lr(0)
        run.set_lr(0.05)
        run.step(3)
        assert wait_for(lambda: run.status == "paused" and run.progress()["step"] == 8)
        assert run.record()["events"] == [{"step": 6, "kind": "lr", "lr": 0.05, "previous": RunConfig().lr}]
    finally:
        run.stop()
        ray.shutdown()
