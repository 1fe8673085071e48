"""The background runner (control, failures, slots) and the command line."""

import json
import subprocess
import sys
import time

import pytest
import torch

from bn_demo.config import RunConfig
from bn_demo.data import Dataset
from bn_demo.engine import Experiment, StopRequested
from bn_demo.runner import Runner, SlotPool
from conftest import REPO, assert_plain_data, wait_for

LONG = dict(dataset="digits", hidden=(16, 16), epochs=200, probe_every=20)


def test_stop_is_honoured_quickly_and_keeps_the_history(digits):
    runner = Runner(RunConfig(**LONG), dataset=digits).start()
    assert wait_for(lambda: runner.progress()["step"] > 50)
    t0 = time.monotonic()
    runner.stop()
    assert runner.join(timeout=5.0), "worker did not stop"
    latency = time.monotonic() - t0
    assert latency < 5.0  # generous bound: proves the stop is honoured (bench/ measures the latency)
    snap = runner.snapshot()
    assert snap["status"] == "stopped" and snap["message"].startswith("Stopped at step")
    assert all(t["status"] == "stopped" for t in snap["twins"].values())
    assert len(snap["twins"]["bn"]["train"]["step"]) == snap["step"] > 50
    assert_plain_data(snap)


def test_stop_interrupts_a_long_evaluation(digits):
    big_test = Dataset(**{**digits.__dict__, "test_x": digits.test_x.repeat(100, 1), "test_y": digits.test_y.repeat(100)})
    calls = []
    exp = Experiment(RunConfig(**LONG), big_test, "cpu", should_stop=lambda: calls.append(1) or len(calls) > 2)
    with pytest.raises(StopRequested):
        exp.evaluate()
    assert len(calls) == 3  # checked between chunks, not only at the end


def test_pause_and_resume(digits):
    runner = Runner(RunConfig(**LONG), dataset=digits).start()
    try:
        assert wait_for(lambda: runner.progress()["step"] > 10)
        runner.pause()
        assert runner.status == "paused"
        time.sleep(0.2)
        held = runner.progress()["step"]
        time.sleep(0.5)
        assert runner.progress()["step"] == held
        runner.resume()
        assert runner.status == "running"
        assert wait_for(lambda: runner.progress()["step"] > held + 10)
        progress = runner.progress()
        assert progress["samples_per_second"] > 0 and progress["device"] == "cpu"
        assert progress["eta_seconds"] > 0 and progress["total_steps"] == 200 * 44
    finally:
        runner.stop()
        runner.join(10)


def test_an_exception_in_the_thread_lands_in_the_status(digits):
    broken = Dataset(**{**digits.__dict__, "train_y": digits.train_y + 5})  # labels up to 14 for 10 outputs
    runner = Runner(RunConfig(dataset="digits", hidden=(8,), steps=20, epochs=0), dataset=broken).start()
    assert runner.join(timeout=60)
    assert runner.status == "failed"
    assert "out of bounds" in runner.message and "Traceback" in runner.error_detail
    assert "Traceback" not in runner.message


def test_missing_data_fails_the_run_with_the_loader_message(tmp_path):
    runner = Runner(RunConfig(dataset="mnist", steps=5, epochs=0), data_dir=tmp_path).start()
    assert runner.join(timeout=120)
    assert runner.status == "failed" and "DataUnavailable" in runner.message and "'digits'" in runner.message


def test_divergence_of_one_twin_is_stated_and_the_other_finishes(digits):
    cfg = RunConfig(dataset="digits", hidden=(32, 32), steps=80, epochs=0, optimizer="sgd", lr=8.0,
                    init="gaussian", init_std=0.5)
    runner = Runner(cfg, dataset=digits).start()
    assert runner.join(timeout=120)
    assert runner.status == "finished"
    assert runner.message.startswith("plain network diverged at step ")
    snap = runner.snapshot()
    assert snap["twins"]["plain"]["status"] == "diverged" and snap["twins"]["bn"]["status"] == "finished"


def test_a_run_where_every_twin_diverges_is_diverged(digits):
    cfg = RunConfig(dataset="digits", hidden=(32, 32), steps=80, epochs=0, optimizer="sgd", lr=8.0,
                    init="gaussian", init_std=0.5, model="plain")
    runner = Runner(cfg, dataset=digits).start()
    assert runner.join(timeout=120)
    assert runner.status == "diverged" and "diverged at step" in runner.message


def test_slot_pool_queues_in_order(digits):
    pool = SlotPool(1)
    first = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    assert wait_for(lambda: first.status == "running")
    second = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    third = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    assert wait_for(lambda: pool.waiting_count == 2)
    assert second.status == "queued" and second.progress()["queue_position"] == 1
    assert third.progress()["queue_position"] == 2
    third.stop()  # leaving the queue frees its place without ever running
    assert third.join(10) and third.status == "stopped" and third.experiment is None
    first.stop()
    assert first.join(10)
    assert wait_for(lambda: second.status == "running") and pool.active_count == 1
    second.stop()
    assert second.join(10) and pool.active_count == 0 and pool.waiting_count == 0


def test_cli_train_writes_json_and_csv(tmp_path):
    out, csv_path = tmp_path / "run.json", tmp_path / "run.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "bn_demo", "train", "--dataset", "digits", "--steps", "40", "--hidden", "16,16",
         "--probe-every", "10", "--out", str(out), "--csv", str(csv_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BN " in proc.stdout and "plain" in proc.stdout and "test acc" in proc.stdout
    assert "step 40/40" in proc.stderr  # the progress bar
    doc = json.loads(out.read_text())
    assert set(doc) >= {"config", "versions", "device", "runs", "timing"}
    assert doc["versions"]["torch"] == torch.__version__ and doc["device"] == "cpu"
    assert doc["config"]["hidden"] == [16, 16] and doc["config"]["steps"] == 40
    for name in ("bn", "plain"):
        run = doc["runs"][name]
        assert run["status"] == "finished" and run["diverged_at_step"] is None
        assert set(run["final"]) >= {"train_loss", "test_loss", "test_acc"}
        assert len(run["history"]["train"]["loss"]) == 40
    assert doc["timing"]["train_seconds"] > 0 and doc["timing"]["samples_per_second"] > 0
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "model,series,mode,step,loss,accuracy" and len(rows) > 80


def test_cli_rejects_bad_settings_and_lists_presets():
    bad = subprocess.run([sys.executable, "-m", "bn_demo", "train", "--batch-size", "1"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "batch_size=1" in bad.stderr and "BatchNorm" in bad.stderr
    listing = subprocess.run([sys.executable, "-m", "bn_demo", "presets"], cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert listing.returncode == 0 and "ioffe2015" in listing.stdout and "deep-sigmoid" in listing.stdout


def test_cli_offline_mnist_explains_and_points_to_digits(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bn_demo", "train", "--data-dir", str(tmp_path / "empty"),
                           "--steps", "5", "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "no_proxy": "*"})
    assert proc.returncode == 1
    assert "MNIST is not available" in proc.stderr and "--dataset digits" in proc.stderr


def test_every_config_field_has_a_cli_flag():
    import dataclasses

    from bn_demo.cli import CONFIG_FLAGS, add_config_flags
    from bn_demo.config import RunConfig

    assert set(CONFIG_FLAGS) == {f.name for f in dataclasses.fields(RunConfig)}
    import argparse

    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    args = parser.parse_args(["--pace", "5", "--bn-placement", "after", "--hidden", "8,4"])
    assert (args.pace, args.bn_placement, args.hidden) == (5.0, "after", (8, 4))
