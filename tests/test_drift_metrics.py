"""Honest drift and ICS numbers (issue #11, item 4): what each asserts is in its docstring.

- The drift metrics compare a layer with itself at step 0, so a value at a step cannot depend on how
  often the probes sampled in between (the old Σ|Δp50| "travel" did: it is checked to differ here).
- W1 between two histograms on fixed bins, against its definition on synthetic counts.
- The relative ICS ‖G − G′‖ / ‖G‖, against an independent recomputation with nn.Module copies.
- The learning / memorised phase rule, on constructed records whose boundaries are known by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_app import APP, fresh_session  # noqa: F401  (the fixture resets page sessions)

from bn_demo import record as rec
from bn_demo.config import RunConfig
from bn_demo.engine import Experiment
from bn_demo.ui import layout
from bn_demo.ui.strings import t
from conftest import run_to_end, saved_record


def _run(digits, **changes) -> dict:
    config = RunConfig(**{**dict(dataset="digits", hidden=(16, 16), steps=100, epochs=0, batch_size=32,
                                 probe_every=5, ics_every=50, eval_every=50, probe_size=128, device="cpu"),
                          **changes})
    exp = run_to_end(Experiment(config, digits, "cpu"))
    return rec.assemble(run_id=1, status="finished", config=config.to_dict(), parts=exp.record_parts())


# -- drift: independent of the probe cadence ------------------------------------------------------------


@pytest.fixture(scope="module")
def dense_and_sparse(digits):
    return _run(digits, probe_every=5), _run(digits, probe_every=50)


def test_drift_at_a_step_does_not_depend_on_how_often_probes_sample(dense_and_sparse):
    """The same run probed every 5 and every 50 steps: at the shared steps (0, 50, 100) the net median
    shift, spread ratio, W1 and outside share are exactly equal, for both twins and every layer and
    kind. Probes leave training bitwise unchanged, so any difference would be the metric's own."""
    dense, sparse = dense_and_sparse
    assert np.array_equal(dense["twins"]["bn"]["train"]["loss"], sparse["twins"]["bn"]["train"]["loss"])
    checked = 0
    for twin in ("bn", "plain"):
        for layer in range(2):
            for kind in ("linear", "bn", "act"):
                d, s = rec.drift_series(dense, twin, layer, kind), rec.drift_series(sparse, twin, layer, kind)
                if twin == "plain" and kind == "bn":
                    assert d is None and s is None
                    continue
                assert list(s["step"]) == [0, 50, 100] and len(d["step"]) == 21
                shared = np.isin(d["step"], s["step"])
                for key in ("median_shift", "spread_ratio", "w1", "outside"):
                    assert np.array_equal(d[key][shared], s[key]), (twin, layer, kind, key)
                assert s["median_shift"][0] == 0 and s["spread_ratio"][0] == 1 and s["w1"][0] == 0
                checked += 1
    assert checked == 10
    # The trained nets did move, so the equality above compares real, non-zero drift ...
    assert rec.drift(dense, "plain", 1)["w1"] > 0 and rec.drift(dense, "bn", 1)["w1"] > 0
    # ... and the old metric, the median's total path Σ|Δp50|, does depend on the sampling.
    travel = [np.abs(np.diff(r["twins"]["plain"]["probes"]["layers"][1]["linear"]["paper_percentiles"][:, 1])).sum()
              for r in dense_and_sparse]
    assert travel[0] > 1.2 * travel[1]


def test_drift_is_the_last_point_of_its_series(dense_and_sparse):
    dense, _ = dense_and_sparse
    for twin in ("bn", "plain"):
        series, last = rec.drift_series(dense, twin, 1), rec.drift(dense, twin, 1)
        assert last["kind"] == series["kind"] == rec.nonlinearity_input_kind(dense, twin)
        assert (last["from_step"], last["to_step"]) == (0, 100)
        for key in (*rec.DRIFT_METRICS, "outside"):
            assert last[key] == series[key][-1]
        pct = dense["twins"][twin]["probes"]["layers"][1][series["kind"]]["paper_percentiles"]
        assert last["median_shift"] == pytest.approx(pct[-1, 1] - pct[0, 1])
        assert last["spread_ratio"] == pytest.approx((pct[-1, 2] - pct[-1, 0]) / (pct[0, 2] - pct[0, 0]))


def test_drift_reads_saved_records():
    record = saved_record("run-compare.json")
    for twin in ("bn", "plain"):
        d = rec.drift(record, twin, 0)
        assert all(math.isfinite(d[k]) for k in rec.DRIFT_METRICS) and d["w1"] >= 0 and 0 <= d["outside"] <= 1
    assert rec.drift_series(saved_record("run-plain.json"), "bn", 0) is None


# -- W1 on fixed bins ----------------------------------------------------------------------------------


EDGES = np.linspace(-3.0, 3.0, 61)  # bins 0.1 wide


def _quantile_w1(edges, a, b, n=200_001):
    """Independent: W1 = ∫₀¹ |Q_a(u) − Q_b(u)| du with each quantile function the inverse of the
    histogram's piecewise-linear CDF (mass uniform in each bin), integrated on a fine grid."""
    u = (np.arange(n) + 0.5) / n

    def quantile(counts):
        cdf = np.concatenate([[0.0], np.cumsum(counts)]) / np.sum(counts)
        rises = np.diff(cdf) > 0  # inside a flat stretch the inverse jumps: keep only its two ends
        keep = np.concatenate([[False], rises]) | np.concatenate([rises, [False]])
        return np.interp(u, cdf[keep], np.asarray(edges)[keep])

    return float(np.mean(np.abs(quantile(a) - quantile(b))))


def test_w1_of_identical_histograms_is_zero_and_of_a_shifted_one_is_the_shift():
    rng = np.random.default_rng(0)
    counts = np.zeros(60, dtype=np.int64)
    counts[10:30] = rng.integers(0, 50, size=20)
    assert rec.histogram_w1(EDGES, counts, counts) == 0.0
    assert rec.histogram_w1(EDGES, counts, counts * 3) == 0.0  # a distance between distributions, not counts
    for bins in (1, 7, 25):
        shifted = np.roll(counts, bins)
        assert rec.histogram_w1(EDGES, shifted, counts) == pytest.approx(0.1 * bins, rel=1e-12)
        assert rec.histogram_w1(EDGES, counts, shifted) == pytest.approx(0.1 * bins, rel=1e-12)
    # A point mass in bin 5 against one in bin 15: their uniform spreads are 1.0 apart.
    one, other = np.zeros(60), np.zeros(60)
    one[5], other[15] = 100, 3
    assert rec.histogram_w1(EDGES, one, other) == pytest.approx(1.0)


def test_w1_matches_the_quantile_definition_on_random_histograms():
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, b = rng.integers(0, 20, size=60), rng.integers(0, 20, size=60)
        a[rng.random(60) < 0.5] = 0
        assert rec.histogram_w1(EDGES, a, b) == pytest.approx(_quantile_w1(EDGES, a, b), abs=1e-5)


def test_w1_counts_under_and_overflow_at_the_edges():
    """Outside values sit on the nearest edge: all mass spread over bin 0 against the same mass as
    underflow is half a bin apart; half the mass moved from bin 59 to overflow, a quarter bin."""
    first, last = np.zeros(60), np.zeros(60)
    first[0] = 10
    assert rec.histogram_w1(EDGES, first, np.zeros(60), under_b=10) == pytest.approx(0.05)
    last[59] = 10
    half = last.copy()
    half[59] = 5
    assert rec.histogram_w1(EDGES, last, half, over_b=5) == pytest.approx(0.025)
    assert rec.histogram_w1(EDGES, np.zeros(60), np.zeros(60), under_a=4, over_b=4) == pytest.approx(6.0)
    assert math.isnan(rec.histogram_w1(EDGES, np.zeros(60), first))


# -- relative ICS: checked against an independent computation in tests/test_reproduce.py
# (test_engine_ics_matches_the_definition), beside ‖G − G′‖ and the cosine.


# -- phases ------------------------------------------------------------------------------------------------


def _twin(acc_of_step, ics_steps=(), l2=(), rel=()) -> dict:
    steps = np.arange(1, 1001)
    return {"train": {"step": steps, "loss": np.zeros(1000), "acc": np.array([acc_of_step(s) for s in steps])},
            "ics": {"step": np.asarray(ics_steps, dtype=np.int64), "l2": np.asarray(l2, dtype=np.float64),
                    "cos": np.ones((len(ics_steps), 1)), "rel": np.asarray(rel, dtype=np.float64)}}


def test_memorised_from_on_constructed_accuracy_curves():
    """Window 100 steps, threshold 0.99. Accuracy 0.93 up to step 300, then 1: the window (s − 100, s]
    holds 400 − s steps at 0.93 and its mean is ≥ 0.99 once they are at most 14, from s = 386. A dip to
    0.6 over steps 600–650 moves the boundary to the first step whose window holds at most 2 of them: 748."""
    assert rec.memorised_from(_twin(lambda s: 0.93 if s <= 300 else 1.0)) == 386
    assert rec.memorised_from(_twin(lambda s: 0.6 if s <= 300 or 600 <= s <= 650 else 1.0)) == 748
    assert rec.memorised_from(_twin(lambda s: 0.985)) is None  # never
    assert rec.memorised_from(_twin(lambda s: 1.0 if s < 990 else 0.0)) is None  # not any more
    assert rec.memorised_from(_twin(lambda s: 1.0)) == 100  # the first step with a full window
    assert rec.memorised_from({"train": {"step": np.zeros(0), "acc": np.zeros(0)}}) is None
    # A long run keeps every 32nd batch: the window widens to 20 recorded batches (640 steps).
    # With 0.5 for the first 300 recorded batches, the first window of 20 clean ones ends at batch 320.
    thinned = {"train": {"step": np.arange(32, 32_001, 32), "acc": np.where(np.arange(1000) < 300, 0.5, 1.0)}}
    assert rec.memorised_from(thinned) == 32 * 320
    assert rec.memorised_from(thinned, window=32_000) is None


def test_ics_comparison_splits_each_twin_by_its_own_phase():
    ics_steps = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    # bn memorises from 386 (3 learning, 7 memorised ICS points), plain from 748 (7 and 3)
    bn = _twin(lambda s: 0.93 if s <= 300 else 1.0, ics_steps,
               l2=[[4.0]] * 3 + [[0.1]] * 7, rel=[[0.8]] * 3 + [[0.4]] * 7)
    plain = _twin(lambda s: 0.6 if s <= 300 or 600 <= s <= 650 else 1.0, ics_steps,
                  l2=[[1.0]] * 7 + [[0.5]] * 3, rel=[[0.2]] * 7 + [[0.1]] * 3)
    assert list(rec.ics_phases(bn)) == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert list(rec.ics_phases(plain)) == [0] * 7 + [1] * 3
    c = rec.ics_comparison({"twins": {"bn": bn, "plain": plain}})
    assert c["memorised_from"] == {"bn": 386, "plain": 748}
    assert c["counts"] == {"bn": {"learning": 3, "memorised": 7}, "plain": {"learning": 7, "memorised": 3}}
    learning, memorised = c["phases"]["learning"], c["phases"]["memorised"]
    assert (learning["abs"]["ratio"], memorised["abs"]["ratio"]) == (4.0, pytest.approx(0.2))
    assert (learning["rel"]["ratio"], memorised["rel"]["ratio"]) == (4.0, 4.0)
    assert learning["abs"]["larger"] == "bn" and memorised["abs"]["larger"] == "plain"
    # Overall: medians over every point, the figure the phases split (0.1 vs 1.0).
    assert (c["bn"], c["plain"], c["ratio"], c["larger"]) == (0.1, 1.0, 0.1, "plain")
    assert c["rel"]["ratio"] == pytest.approx(0.4 / 0.2)
    # A twin that never memorises has no memorised summary; the learning one stands.
    never = _twin(lambda s: 0.5, ics_steps, l2=[[1.0]] * 10, rel=[[0.2]] * 10)
    c = rec.ics_comparison({"twins": {"bn": bn, "plain": never}})
    assert c["memorised_from"]["plain"] is None and c["phases"]["memorised"]["abs"]["ratio"] is None
    assert c["phases"]["memorised"]["abs"]["bn"] == 0.1 and c["phases"]["learning"]["abs"]["ratio"] == 4.0


def test_ics_comparison_reads_a_record_without_rel():
    """Records saved before the relative ICS existed still compare on the absolute one."""
    record = saved_record("run-compare.json")
    for twin in record["twins"].values():
        twin["ics"].pop("rel", None)
    c = rec.ics_comparison(record)
    assert c["ratio"] > 0 and c["rel"]["ratio"] is None


# -- the Covariate shift tab ------------------------------------------------------------------------------


def test_the_covariate_shift_tab_states_these_numbers(fresh_session):  # noqa: F811  (the fixture)
    """The tab's sentences are the record's numbers: ICS (absolute and relative, per phase) and the last
    hidden layer's drift from step 0 (net median shift, spread ratio, W1), replayed from a saved record."""
    record = saved_record("run-compare.json")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[layout.REPLAY] = record
    at.run()
    at.session_state["chart_tab"] = t("tab_ics", "en")
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(m.value for m in at.markdown)
    ics = rec.ics_comparison(record)
    assert f"({ics['rel']['bn']:.3g} vs {ics['rel']['plain']:.3g})" in text
    learning = ics["phases"]["learning"]
    assert f"is {learning['abs']['ratio']:.2g}× the plain network's and the relative one " \
           f"{learning['rel']['ratio']:.2g}×" in text
    layer = record["n_layers"] - 1
    bn, plain = rec.drift(record, "bn", layer), rec.drift(record, "plain", layer)
    assert f"the median moved by {bn['median_shift']:+.3g} with BN and {plain['median_shift']:+.3g} without" in text
    assert f"spread is {bn['spread_ratio']:.3g}× and {plain['spread_ratio']:.3g}×" in text
    assert f"is {bn['w1']:.3g} and {plain['w1']:.3g}." in text
