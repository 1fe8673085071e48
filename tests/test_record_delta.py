"""Reading a run by deltas (issue #13's record(since=version)): a reader that keeps the record it has and
asks only for what changed ends with exactly the record it would have read whole, across the history's
thinning, several seeds, and a change of run."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from bn_demo import engine
from bn_demo import record as rec
from bn_demo.config import RunConfig
from bn_demo.history import BoundedSeries
from bn_demo.runner import Runner
from bn_demo.ui.state import SessionRuns
from conftest import wait_for

# Small caps, so a short run thins every series several times (BoundedSeries doubles its stride).
CONFIG = dict(dataset="digits", hidden=(16, 16), steps=300, probe_every=5, ics_every=10, eval_every=10,
              device="cpu", pace=100.0)


def identical(a, b, path="record") -> None:
    """Deep equality, stricter than a reader needs: arrays equal in dtype, shape and value (NaN equal NaN)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for key in a:
            identical(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            identical(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_a_series_sends_only_what_changed_and_survives_thinning():
    chance = random.Random(3)
    series = BoundedSeries(cap=5)
    held, held_at, deltas = [], 0, []
    for version in range(1, 600):
        for _ in range(chance.choice((0, 1, 1, 3))):  # a write may add several items under one version
            series.add((version, chance.random()), version)
        if chance.random() < 0.3:
            # The reader's own version, or an older one (a cursor may lag behind what it holds).
            since = held_at - chance.choice((0, 0, 1, 5)) if held_at else 0
            keep, new = series.since(max(since, 0))
            assert keep <= len(held)
            held, held_at = held[:keep] + new, version
            assert held == series.items()
            deltas.append((keep, len(new)))
    assert series.stride >= 64 and series.thinned_at > 0  # thinned many times on the way
    assert any(keep == 0 and new > 1 for keep, new in deltas)  # a thinning sends the series again
    assert sum(keep > 0 and new <= 2 for keep, new in deltas) > len(deltas) / 2  # mostly: a row or two


def _pause_at(runner: Runner, step: int) -> None:
    runner.set_pause_at(step)
    assert wait_for(lambda: runner.status == "paused" and runner.experiment.step == step, timeout=60), runner.status


@pytest.mark.parametrize("repeats", [1, 2])
def test_a_run_read_by_deltas_is_the_run_read_whole(digits, monkeypatch, repeats):
    monkeypatch.setattr(engine, "DEFAULT_CAP", 12)
    monkeypatch.setattr(engine, "PROBE_CAP", 5)
    runner = Runner(RunConfig(**CONFIG, repeats=repeats), dataset=digits)
    runner.set_pause_at(1)
    runner.start()
    held, kept_rows = None, []
    try:
        for pause_step in (1, 37, 120, 211):
            _pause_at(runner, pause_step)
            fresh = runner.record(since=held["cursor"] if held else None)
            assert (fresh["since"] is None) == (held is None)
            merged = rec.merge(held, fresh)
            identical(merged, runner.record())  # paused: the whole record read now is the same state
            if held is not None:
                delta_rows = len(fresh["twins"]["bn"]["train"]["step"])
                assert delta_rows < len(merged["twins"]["bn"]["train"]["step"]) or (
                    fresh["twins"]["bn"]["kept"]["train"] == 0)  # only the new rows, unless it was thinned
                kept_rows.append(fresh["twins"]["bn"]["kept"]["train"])
                if repeats > 1:
                    assert set(fresh["repeats"]["twins"]["bn"][0]["kept"]) == {"train", "eval"}
            held = merged
            runner.resume()
            for _ in range(5):  # and while it trains: each answer continues the copy held
                fresh = runner.record(since=held["cursor"])
                kept_rows.append(fresh["twins"]["bn"]["kept"]["train"])
                held = rec.merge(held, fresh)
                assert held is not None
        assert runner.join(120) and runner.status == "finished"
        identical(rec.merge(held, runner.record(since=held["cursor"])), runner.record())
        assert any(kept_rows)  # some answers kept rows: deltas, not whole records in disguise
        assert len(held["cursor"]) == repeats and held["engine_version"] == sum(held["cursor"])
    finally:
        runner.stop()
        runner.join(10)


def test_a_cursor_that_does_not_continue_gets_the_whole_record(digits):
    runner = Runner(RunConfig(**{**CONFIG, "steps": 30, "pace": 0.0}), dataset=digits, probes_on=False).start()
    assert runner.join(60)
    whole = runner.record()
    for cursor in ([whole["cursor"][0] + 1], [-1], [0, 0]):  # a version not yet written; none; another run's shape
        identical(runner.record(since=cursor), whole)
    older = {**whole, "cursor": [whole["cursor"][0] - 1]}
    assert rec.merge(older, runner.record(since=whole["cursor"])) is None  # a delta for another copy: refused
    assert rec.merge({**whole, "run_id": -1}, runner.record(since=whole["cursor"])) is None


def test_a_page_session_reads_deltas_of_its_own_run_only(digits):
    runs = SessionRuns()
    quiet = dict(CONFIG, steps=40, pace=0.0)
    first = Runner(RunConfig(**quiet), dataset=digits, probes_on=False).start()
    second = Runner(RunConfig(**{**quiet, "seed": 2}), dataset=digits, probes_on=False).start()
    try:
        assert first.join(60) and second.join(60)
        identical(runs.record(first), first.record())
        identical(runs.record(first), first.record())  # the second read is a delta of nothing, merged
        identical(runs.record(second), second.record())  # another run: never merged with the first's copy
    finally:
        runs.close()
