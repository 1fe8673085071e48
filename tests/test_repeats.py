"""Seeds side by side (RunConfig.repeats): one run trains seed, seed+1, … in lockstep; the record's
`repeats` keeps the other seeds' curves and record.seed_spread gives their mean ± sd, which the page's
curves and metrics show."""

import statistics
import time

import numpy as np
import pytest

from bn_demo import record as rec
from bn_demo.config import PAGE_LIMITS, ConfigError, RunConfig
from bn_demo.runner import Budget, Runner
from bn_demo.ui import figures

BASE = dict(dataset="digits", hidden=(16, 16), steps=120, epochs=0, batch_size=32, eval_every=30, probe_every=30)


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def finished(config: RunConfig, **kwargs) -> dict:
    runner = Runner(config, **kwargs).start()
    assert runner.join(timeout=120) and runner.status == "finished", runner.error
    return runner.record()


@pytest.fixture(scope="module")
def three():
    """One run of seeds 4, 5, 6 side by side, and each seed trained alone."""
    config = RunConfig(**BASE, seed=4, repeats=3)
    return finished(config), [finished(config.replace(seed=seed, repeats=1)) for seed in (4, 5, 6)]


def test_each_seed_trains_exactly_as_it_would_alone(three):
    """The first seed is the whole record, probes included; every other seed's curves are its own run's."""
    together, alone = three
    assert together["repeats"]["seeds"] == [5, 6]
    for arm in ("bn", "plain"):
        for section in ("train", "eval"):
            for metric in ("loss", "acc"):
                np.testing.assert_array_equal(together["twins"][arm][section][metric], alone[0]["twins"][arm][section][metric])
                for k, other in enumerate(together["repeats"]["twins"][arm]):
                    np.testing.assert_array_equal(other[section][metric], alone[k + 1]["twins"][arm][section][metric])
        np.testing.assert_array_equal(together["twins"][arm]["probes"]["step"], alone[0]["twins"][arm]["probes"]["step"])
    # different seeds really differ: own initial weights and batches
    assert not np.array_equal(alone[0]["twins"]["bn"]["train"]["loss"], alone[1]["twins"]["bn"]["train"]["loss"])


def test_the_spread_is_the_mean_and_sample_sd_of_the_seeds(three):
    together, alone = three
    spread = rec.seed_spread(together, "bn", "eval", "acc")
    assert spread["seeds"] == 3
    for i, step in enumerate(spread["step"]):
        values = [float(r["twins"]["bn"]["eval"]["acc"][list(r["twins"]["bn"]["eval"]["step"]).index(step)]) for r in alone]
        assert spread["n"][i] == 3
        assert spread["mean"][i] == pytest.approx(statistics.mean(values), abs=1e-12)
        assert spread["sd"][i] == pytest.approx(statistics.stdev(values), abs=1e-12)
    finals = rec.seed_finals(together, "plain", "test_acc")
    assert finals == [r["twins"]["plain"]["final"]["test_acc"] for r in alone]


def test_a_seed_missing_at_a_step_leaves_the_others_counted():
    """A seed that diverged has no values after it: mean and n come from the seeds that do."""
    twin = lambda steps, acc: {"eval": {"step": np.array(steps), "acc": np.array(acc, dtype=float)}}  # noqa: E731
    record = {"twins": {"bn": twin([0, 10, 20], [0.1, 0.5, 0.9])},
              "repeats": {"seeds": [2, 3], "twins": {"bn": [twin([0, 10], [0.3, float("nan")]), twin([0, 10, 20], [0.2, 0.7, 0.7])]}}}
    spread = rec.seed_spread(record, "bn", "eval", "acc")
    assert list(spread["step"]) == [0, 10, 20]
    assert list(spread["n"]) == [3, 2, 2]
    assert spread["mean"][1] == pytest.approx(0.6)
    assert spread["sd"][0] == pytest.approx(statistics.stdev([0.1, 0.3, 0.2]))
    assert rec.seed_spread({"twins": record["twins"], "repeats": None}, "bn", "eval", "acc") is None


def test_the_record_round_trips_with_its_seeds(three):
    together, _ = three
    back = rec.loads(rec.dumps(together))
    assert back["repeats"]["seeds"] == [5, 6]
    spread, again = rec.seed_spread(together, "plain", "train", "loss"), rec.seed_spread(back, "plain", "train", "loss")
    np.testing.assert_allclose(again["mean"], spread["mean"])


def test_the_csv_has_every_seeds_curves(three):
    import io

    import pandas as pd

    together, alone = three
    frame = pd.read_csv(io.StringIO(rec.to_csv(together)))
    assert sorted(frame["seed"].unique()) == [4, 5, 6]
    seed5 = frame[(frame.seed == 5) & (frame.twin == "bn") & (frame.series == "held_out") & (frame["mode"] == "eval")]
    np.testing.assert_allclose(seed5["accuracy"], alone[1]["twins"]["bn"]["eval"]["acc"])


def test_live_controls_and_the_budget_count_every_seed():
    """A learning-rate change reaches every seed at the same step, and the work budget counts every seed's
    parameters, so two seeds get half the steps of one."""
    config = RunConfig(**{**BASE, "steps": 2000}, repeats=2, pace=50)
    runner = Runner(config).start()
    try:
        wait_for(lambda: runner.progress()["step"] >= 5)
        runner.set_lr(0.002)
        wait_for(lambda: runner.experiment.events)  # applied between two steps
        runner.stop()
        assert runner.join(timeout=60)
        assert {e.lr for e in (runner.experiment, *runner.companions)} == {0.002}
        events = [[(ev["step"], ev["lr"]) for ev in e.events] for e in (runner.experiment, *runner.companions)]
        assert events[0] == events[1] and len(events[0]) == 1
    finally:
        runner.stop()
    one, two = (Runner(config.replace(repeats=n, pace=0.0), budget=Budget(seconds=None, work=1e7)) for n in (1, 2))
    for runner in (one, two):
        runner.start().join(timeout=60)
    assert two.step_limit == pytest.approx(one.step_limit / 2, abs=1)


def test_repeats_are_checked_like_any_setting():
    with pytest.raises(ConfigError) as err:
        RunConfig(**BASE, repeats=PAGE_LIMITS["repeats"].high + 1).check_page_limits()
    assert err.value.field == "repeats"
    with pytest.raises(ConfigError):
        RunConfig(**BASE, repeats=0).validate()
    with pytest.raises(ConfigError):  # the last seed must still be a valid seed
        RunConfig(**BASE, seed=2**31 - 2, repeats=3).validate()
    assert RunConfig(**BASE, seed=7, repeats=3).seeds == (7, 8, 9)


def test_the_curves_show_a_band_and_say_over_how_many_seeds(three):
    together, _ = three
    fig = figures.curves_figure(together, "acc")
    bands = [trace for trace in fig.data if trace.fill == "toself"]
    assert len(bands) == 4  # training and held-out, for each twin
    names = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert any("mean ± sd of 3 seeds" in name for name in names)
    single = figures.curves_figure(finished(RunConfig(**{**BASE, "steps": 20})), "acc")
    assert not [trace for trace in single.data if trace.fill == "toself"]
