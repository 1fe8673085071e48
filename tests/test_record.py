"""The run record (bn_demo/record.py): built from real runs, schema-checked, exact through JSON, no prose."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from bn_demo import record as rec
from bn_demo.config import RunConfig
from bn_demo.engine import Experiment
from conftest import run_to_end


def _record(digits, **changes) -> dict:
    config = RunConfig(dataset="digits", hidden=(16, 16), steps=60, probe_every=5, ics_every=10, eval_every=10,
                       device="cpu", **changes)
    exp = run_to_end(Experiment(config, digits, "cpu"))
    return rec.assemble(run_id=7, status="finished", config=config.to_dict(), parts=exp.record_parts(),
                        device="cpu", versions={"torch": "x"}, dataset=digits.describe())


@pytest.fixture(scope="module")
def record(digits) -> dict:
    return _record(digits)


def same(a, b, path="record") -> None:
    """Deep equality; arrays compare by value with NaN equal to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert b is None or math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_a_real_record_passes_the_schema_and_round_trips_through_json_exactly(record):
    text = rec.dumps(record)
    json.loads(text)  # strict JSON: no NaN tokens
    back = rec.loads(text)
    same(record, back)
    assert back["twins"]["bn"]["probes"]["layers"][0]["linear"]["counts"].dtype == np.int64
    assert back["twins"]["bn"]["train"]["step"].dtype == np.int64


def test_the_record_holds_numbers_and_codes_not_sentences(record):
    def strings(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k not in ("config", "versions"):
                    yield from strings(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from strings(v)
        elif isinstance(obj, str):
            yield obj

    for text in strings(record):
        assert " " not in text, f"display text in the record: {text!r}"


def test_the_schema_check_refuses_what_readers_cannot_use(record):
    good = json.loads(rec.dumps(record))
    for breakage, code in (
        (lambda d: d.update(format="something-else"), "not_a_record"),
        (lambda d: d.update(version=99), "wrong_version"),
        (lambda d: d.update(status="exploding"), "bad_field"),
        (lambda d: d["twins"]["bn"].pop("train"), "bad_field"),
        (lambda d: d["twins"]["bn"]["train"]["loss"].pop(), "bad_field"),
        (lambda d: d["twins"].update(mystery=d["twins"]["bn"]), "bad_field"),
        # the other seeds' entries: the metrics, bands and CSV index into each one
        (lambda d: d.update(repeats={"seeds": [2], "twins": {"bn": [{"status": "finished"}]}}), "bad_field"),
        (lambda d: d.update(repeats={"seeds": [2, 3], "twins": {"bn": [d["twins"]["bn"]]}}), "bad_field"),
        (lambda d: d.update(repeats={"seeds": [2], "twins": {"layernorm": [d["twins"]["bn"]]}}), "bad_field"),
    ):
        doc = json.loads(json.dumps(good))
        breakage(doc)
        with pytest.raises(rec.RecordError) as caught:
            rec.loads(json.dumps(doc))
        assert caught.value.code == code
    whole = json.loads(json.dumps(good))
    whole["repeats"] = {"seeds": [2], "twins": {arm: [twin] for arm, twin in whole["twins"].items()}}
    assert rec.loads(json.dumps(whole))["repeats"]["seeds"] == [2]  # a well-formed entry passes
    with pytest.raises(rec.RecordError) as caught:
        rec.loads("{not json")
    assert caught.value.code == "not_json"
    with pytest.raises(rec.RecordError) as caught:
        rec.loads(" " * (rec.MAX_RECORD_BYTES + 1))
    assert caught.value.code == "too_large"


def test_the_csv_opens_with_pandas_as_is_and_matches_the_record(record):
    frame = pd.read_csv(io.StringIO(rec.to_csv(record)))
    assert list(frame.columns) == list(rec.CSV_COLUMNS)
    assert set(frame["mode"]) <= set(rec.MODES)
    bn_train = frame[(frame.twin == "bn") & (frame.series == "train_batch")]
    assert np.array_equal(bn_train["step"].to_numpy(), record["twins"]["bn"]["train"]["step"])
    assert np.allclose(bn_train["loss"].to_numpy(), record["twins"]["bn"]["train"]["loss"], rtol=0, atol=0)


def test_writers_are_atomic_and_refuse_nothing_silently(tmp_path, record):
    path = tmp_path / "run.json"
    rec.write_atomic(path, rec.dumps(record))
    same(record, rec.loads(path.read_text()))
    rec.write_atomic(tmp_path / "run.csv", rec.to_csv(record))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bn-lab-")] == []
    with pytest.raises(OSError):
        rec.write_atomic(tmp_path / "missing-folder" / "run.json", rec.dumps(record))


def test_drift_and_ics_comparison_are_computed_from_the_record(record):
    for twin in ("bn", "plain"):
        d = rec.drift(record, twin, 1)
        pct = record["twins"][twin]["probes"]["layers"][1][d["kind"]]["paper_percentiles"]
        assert d["median_shift"] == pytest.approx(pct[-1, 1] - pct[0, 1])
        assert d["spread_ratio"] == pytest.approx((pct[-1, 2] - pct[-1, 0]) / (pct[0, 2] - pct[0, 0]))
    assert rec.drift(record, "bn", 1)["kind"] == "bn" and rec.drift(record, "plain", 1)["kind"] == "linear"
    ics = rec.ics_comparison(record)
    assert ics["larger"] == ("bn" if ics["bn"] > ics["plain"] else "plain")
    assert ics["ratio"] == pytest.approx(ics["bn"] / ics["plain"])


def test_divergence_and_collapse_are_codes_with_their_steps(digits):
    diverged = _record(digits, optimizer="sgd", lr=10.0, model="plain", init="gaussian", init_std=5.0)
    twin = diverged["twins"]["plain"]
    assert twin["status"] == "diverged" and twin["reason"] in rec.DIVERGENCE_REASONS
    assert twin["diverged_at_step"] == twin["train"]["step"][-1]
    assert rec.twin_outcome(twin) == "diverged"
