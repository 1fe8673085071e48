"""The background runner (control, failures, slots) and the command line. Both are read through the
run record (bn_demo/record.py): the runner's `record()`, the CLI's `--out` file, `--csv` and `show`."""

import json
import math
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import torch

from bn_demo import cli
from bn_demo import record as rec
from bn_demo.config import PRESETS, ConfigError, RunConfig
from bn_demo.data import IMAGE_SHAPES, Dataset, DataUnavailable
from bn_demo.engine import Experiment, StopRequested
from bn_demo.runner import Runner, SlotPool
from bn_demo.ui.strings import config_problem, data_problem, t
from conftest import REPO, SAVED, assert_plain_data, wait_for

LONG = dict(dataset="digits", hidden=(16, 16), epochs=200, probe_every=20, device="cpu")  # these tests need the CPU
CHEAP_SECONDS = 1.0  # `presets` and `--help`: a whole process, interpreter start included
SGD_LR10 = ["--dataset", "digits", "--optimizer", "sgd", "--lr", "10", "--epochs", "3"]


def run_cli(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bn_demo", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


# -- the runner, read through its record ------------------------------------------------------------------


def test_stop_is_honoured_quickly_and_keeps_the_history(digits):
    runner = Runner(RunConfig(**LONG), dataset=digits).start()
    assert wait_for(lambda: runner.record()["progress"]["step"] > 50)
    t0 = time.monotonic()
    runner.stop()
    assert runner.join(timeout=5.0), "worker did not stop"
    latency = time.monotonic() - t0
    assert latency < 5.0  # generous bound: proves the stop is honoured (bench/ measures the latency)
    record = runner.record()
    assert record["status"] == "stopped" and record["stop_reason"] == "user" and record["error"] is None
    assert all(twin["status"] == "stopped" for twin in record["twins"].values())
    assert len(record["twins"]["bn"]["train"]["step"]) == record["progress"]["step"] > 50
    assert_plain_data(record)


def test_stop_interrupts_a_long_evaluation(digits):
    big_test = Dataset(**{**digits.__dict__, "test_x": digits.test_x.repeat(100, 1), "test_y": digits.test_y.repeat(100)})
    calls = []
    exp = Experiment(RunConfig(**LONG), big_test, "cpu", should_stop=lambda: calls.append(1) or len(calls) > 2)
    with pytest.raises(StopRequested):
        exp.evaluate()
    assert len(calls) == 3  # checked between chunks, not only at the end


def test_pause_and_resume(digits):
    runner = Runner(RunConfig(**LONG), dataset=digits).start()
    step = lambda: runner.record()["progress"]["step"]  # noqa: E731
    try:
        assert wait_for(lambda: step() > 10)
        runner.pause()
        assert runner.record()["status"] == "paused"
        time.sleep(0.2)
        held = step()
        time.sleep(0.5)
        assert step() == held
        runner.resume()
        assert runner.record()["status"] == "running"
        assert wait_for(lambda: step() > held + 10)
        record = runner.record()
        progress = record["progress"]
        assert progress["samples_per_second"] > 0 and record["device"] == "cpu"
        assert progress["eta_seconds"] > 0 and progress["total_steps"] == 200 * 44
    finally:
        runner.stop()
        runner.join(10)


def test_an_exception_in_the_thread_is_a_code_in_the_record(digits):
    broken = Dataset(**{**digits.__dict__, "train_y": digits.train_y + 5})  # labels up to 14 for 10 outputs
    # On the CPU explicitly: out-of-range labels on CUDA are a device-side assert that poisons the process.
    runner = Runner(RunConfig(dataset="digits", hidden=(8,), steps=20, epochs=0, device="cpu"), dataset=broken).start()
    assert runner.join(timeout=60)
    record = runner.record()
    assert record["status"] == "failed"
    assert record["error"]["code"] == "exception" and record["error"]["type"]
    assert "Traceback" not in rec.dumps(record)


def test_missing_data_fails_the_run_with_a_data_code(tmp_path):
    runner = Runner(RunConfig(dataset="mnist", steps=5, epochs=0), data_dir=tmp_path).start()
    assert runner.join(timeout=120)
    record = runner.record()
    assert record["status"] == "failed"
    error = record["error"]
    assert error["code"] == "data_unavailable" and error["dataset"] == "mnist"
    assert error["problem"] in DataUnavailable.PROBLEMS
    assert str(tmp_path) not in rec.dumps(record)  # the page's viewers never see a server path


def test_divergence_of_one_twin_is_recorded_and_the_other_finishes(digits):
    cfg = RunConfig(dataset="digits", hidden=(32, 32), steps=80, epochs=0, optimizer="sgd", lr=8.0,
                    init="gaussian", init_std=0.5, device="cpu")
    runner = Runner(cfg, dataset=digits).start()
    assert runner.join(timeout=120)
    record = runner.record()
    assert record["status"] == "finished"
    plain, bn = record["twins"]["plain"], record["twins"]["bn"]
    assert plain["status"] == "diverged" and plain["reason"] in rec.DIVERGENCE_REASONS
    assert 0 < plain["diverged_at_step"] <= 80 and plain["final"]["eval_step"] < plain["diverged_at_step"]
    assert bn["status"] == "finished" and bn["diverged_at_step"] is None


def test_a_run_where_every_twin_diverges_is_diverged(digits):
    cfg = RunConfig(dataset="digits", hidden=(32, 32), steps=80, epochs=0, optimizer="sgd", lr=8.0,
                    init="gaussian", init_std=0.5, model="plain", device="cpu")
    runner = Runner(cfg, dataset=digits).start()
    assert runner.join(timeout=120)
    record = runner.record()
    assert record["status"] == "diverged" and record["twins"]["plain"]["diverged_at_step"] is not None


def test_slot_pool_queues_in_order(digits):
    pool = SlotPool(1)
    first = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    assert wait_for(lambda: first.status == "running")
    second = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    third = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    assert wait_for(lambda: pool.waiting_count == 2)
    assert second.status == "queued" and second.record()["progress"]["queue_position"] == 1
    assert third.record()["progress"]["queue_position"] == 2
    third.stop()  # leaving the queue frees its place without ever running
    assert third.join(10) and third.status == "stopped" and third.experiment is None
    first.stop()
    assert first.join(10)
    assert wait_for(lambda: second.status == "running") and pool.active_count == 1
    second.stop()
    assert second.join(10) and pool.active_count == 0 and pool.waiting_count == 0


def test_slot_pool_serves_the_shortest_expected_run_first(digits):
    """A short run that joins the line after a long one trains before it (the adversarial classroom:
    a sidebar-maximum run must not hold four short runs back)."""
    pool = SlotPool(1)
    first = Runner(RunConfig(**LONG), dataset=digits, slots=pool).start()
    assert wait_for(lambda: first.status == "running")
    slow = Runner(RunConfig(**{**LONG, "pace": 0.5}), dataset=digits, slots=pool).start()
    assert wait_for(lambda: pool.waiting_count == 1)
    short = Runner(RunConfig(**{**LONG, "epochs": 1}), dataset=digits, slots=pool).start()
    assert wait_for(lambda: pool.waiting_count == 2)
    assert short.expected_slot_seconds() < slow.expected_slot_seconds()
    assert pool.position(short) == 1 and pool.position(slow) == 2
    first.stop()
    assert wait_for(lambda: short.status == "running") and slow.status == "queued"
    for runner in (short, slow, first):
        runner.stop()
        assert runner.join(10)


def test_slot_pool_ages_a_long_wait_ahead_of_later_arrivals():
    """Each second in line brings a run's turn a second nearer: a run that has waited its expected
    time goes before a newcomer expected to take no time at all, so no run waits for ever."""
    pool, order, threads = SlotPool(1), [], []
    holder = object()
    assert pool.acquire(holder, lambda: False)

    def wait_in_line(name, expected):
        if pool.acquire(name, lambda: False, expected):
            order.append(name)
            pool.release(name)

    for name, expected, pause in (("long", 0.3, 0.5), ("newcomer", 0.0, 0.0)):
        threads.append(threading.Thread(target=wait_in_line, args=(name, expected)))
        threads[-1].start()
        assert wait_for(lambda: pool.waiting_count == len(threads))
        time.sleep(pause)  # the long run has now waited longer than its expected 0.3 s
    assert pool.position("long") == 1
    pool.release(holder)
    for thread in threads:
        thread.join(10)
    assert order == ["long", "newcomer"]


def test_expected_slot_seconds_counts_the_networks_it_will_build(digits):
    config = RunConfig(dataset="digits", hidden=(24, 16, 12), model="both")
    experiment = Experiment(config, digits, "cpu")
    built = sum(twin.parameters for twin in experiment.twins.values())
    assert config.parameter_count(digits.n_features, len(digits.classes)) == built
    assert math.prod(IMAGE_SHAPES["digits"]) == digits.n_features


# -- the command line -------------------------------------------------------------------------------------


def twin_rows(table: str) -> dict[str, str]:
    """The summary table's row per twin, by twin code."""
    labels = {t("twin_bn"): "bn", t("twin_plain"): "plain"}
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(t("cli_col_twin"))) + 1
    rows = {}
    for line in lines[start:start + len(labels)]:
        if line.split()[:1] and line.split()[0] in labels and not line.startswith((t("net_bn"), t("net_plain"))):
            rows[labels[line.split()[0]]] = line
    return rows


def test_cli_train_writes_the_record_and_a_csv_and_show_repeats_the_table(tmp_path):
    out, csv_path = tmp_path / "run.json", tmp_path / "run.csv"
    proc = run_cli("train", "--dataset", "digits", "--steps", "40", "--hidden", "16,16", "--probe-every", "10",
                   "--device", "cpu", "--out", str(out), "--csv", str(csv_path))
    assert proc.returncode == 0, proc.stderr
    assert t("cli_col_test_acc") in proc.stdout and t("cli_col_eval_step") in proc.stdout
    assert "step 40/40" in proc.stderr  # the progress bar
    record = rec.loads(out.read_text())  # the file is a run record: schema-checked
    assert record["status"] == "finished" and record["error"] is None and "message" not in record
    assert record["versions"]["torch"] == torch.__version__ and record["device"] == "cpu"
    assert record["config"]["hidden"] == [16, 16] and record["config"]["steps"] == 40
    assert record["progress"]["step"] == 40 and record["progress"]["train_seconds"] > 0
    rows = twin_rows(proc.stdout)
    for name in ("bn", "plain"):
        twin = record["twins"][name]
        assert rec.twin_outcome(twin) == "finished" and twin["diverged_at_step"] is None
        assert len(twin["train"]["loss"]) == 40 and twin["final"]["eval_step"] == 40
        assert rows[name].split()[1] == t("status_finished") and rows[name].split()[-1] == "40"
    frame = pd.read_csv(csv_path)  # as is: no comment lines
    assert tuple(frame.columns) == rec.CSV_COLUMNS
    train_rows = frame[frame.series == "train_batch"]
    assert train_rows.groupby("twin").size().to_dict() == {"bn": 40, "plain": 40}
    assert set(frame["mode"]) <= set(rec.MODES)
    shown = run_cli("show", str(out), timeout=60)
    assert shown.returncode == 0 and shown.stdout == proc.stdout


@pytest.mark.parametrize("seed", [1, 3])
def test_cli_reports_collapse_and_divergence_with_their_steps(tmp_path, seed):
    """SGD lr 10 on digits: on seed 1 both twins' ReLUs all die (BN at step 30, plain at 10); on seed 3
    the BN twin collapses (step 20) and the plain twin diverges (step 6). Neither reads "finished"."""
    out = tmp_path / "run.json"
    proc = run_cli("train", *SGD_LR10, "--seed", str(seed), "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    record = rec.loads(out.read_text())
    rows = twin_rows(proc.stdout)
    assert set(rows) == set(record["twins"]) == {"bn", "plain"}
    for name, twin in record["twins"].items():
        outcome = rec.twin_outcome(twin)
        assert outcome in ("collapsed", "diverged"), (name, outcome)
        step = twin["diverged_at_step"] if outcome == "diverged" else twin["collapsed_at_step"]
        assert step is not None and step > 0
        cells = rows[name].split()
        word = t("cli_outcome_collapsed") if outcome == "collapsed" else t("status_diverged")
        assert cells[1] == word and cells[2] == f"{step:,}" and t("status_finished") not in cells
        assert cells[-1] == f"{twin['final']['eval_step']:,}"  # the step each final number comes from
    assert "finished" not in "".join(rows.values())
    if seed == 3:
        plain = record["twins"]["plain"]
        assert plain["status"] == "diverged" and plain["final"]["eval_step"] < plain["diverged_at_step"]


def test_show_prints_a_saved_record_and_refuses_other_files_in_one_line(tmp_path):
    shown = run_cli("show", str(SAVED / "run-compare.json"), timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert set(twin_rows(shown.stdout)) == {"bn", "plain"} and t("cli_col_eval_step") in shown.stdout
    good = json.loads((SAVED / "run-compare.json").read_text())
    bad = {"not-json.json": "{", "other.json": json.dumps({"a": 1}),
           "future.json": json.dumps({**good, "version": rec.RECORD_VERSION + 1}),
           "no-status.json": json.dumps({**good, "twins": {"bn": {k: v for k, v in good["twins"]["bn"].items()
                                                                   if k != "status"}}})}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    for path in [*(tmp_path / n for n in bad), tmp_path / "missing.json", tmp_path]:
        proc = run_cli("show", str(path), timeout=60)
        assert proc.returncode == 2 and proc.stdout == "", path
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


WRAPPER = """
import json, sys, time
t0 = time.perf_counter()
from bn_demo.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "seconds": time.perf_counter() - t0}))
"""


@pytest.mark.parametrize("args", [["presets"], ["--help"], ["train", "--help"], ["show", "--help"]])
def test_cheap_entry_points_import_no_torch_and_return_quickly(args):
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["code"] == 0 and report["torch"] is False, report
    # The whole process, interpreter start included (best of three: the machine is shared).
    wall = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert run_cli(*args, timeout=60).returncode == 0
        wall.append(time.perf_counter() - t0)
    assert min(wall) < CHEAP_SECONDS, wall


def test_cli_rejects_bad_settings_and_lists_presets():
    bad = run_cli("train", "--batch-size", "1", timeout=120)
    assert bad.returncode == 2 and "batch size = 1" in bad.stderr and "BatchNorm" in bad.stderr
    assert bad.stderr.count("\n") == 1
    listing = run_cli("presets", timeout=120)
    assert listing.returncode == 0 and "ioffe2015" in listing.stdout and "deep-sigmoid" in listing.stdout


def test_cli_offline_mnist_explains_and_points_to_digits(tmp_path):
    proc = run_cli("train", "--data-dir", str(tmp_path / "empty"), "--steps", "5", "--quiet",
                   env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "no_proxy": "*"})
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: MNIST") and "--dataset digits works offline" in proc.stderr
    # The sentence is the page's (no path); the CLI's user runs the server, so it names the folder too.
    folder = str(tmp_path / "empty" / "MNIST" / "raw")
    assert f"data folder: {folder}\n" in proc.stderr and proc.stderr.count(folder) == 1


def test_failures_are_phrased_from_the_record_error_codes(capsys, tmp_path):
    """Each error code of a failed record gives one translated line (and, for data, the folder and hint)."""
    error = {"code": "data_unavailable", "dataset": "fashion-mnist", "problem": "file_missing", "detail": "",
             "file": "t10k-images-idx3-ubyte"}
    assert cli.report_failure({"status": "failed", "error": error}, tmp_path) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == t("cli_error", message=data_problem(error, "en"))
    assert err[1] == t("cli_data_folder", folder=tmp_path.resolve() / "FashionMNIST" / "raw")
    assert err[2] == t("cli_offline_hint", dataset="digits")
    assert cli.report_failure({"status": "failed", "error": {"code": "exception", "type": "IndexError"}}, None) == 1
    assert capsys.readouterr().err == t("cli_error", message=t("config_problem_exception", type="IndexError")) + "\n"
    with pytest.raises(ConfigError) as info:  # the runner's form: ConfigError.as_dict(), its rule under "rule"
        RunConfig(lr=-1.0).validate()
    exc = info.value
    invalid = {**exc.as_dict(), "code": "invalid_config", "rule": exc.code}
    assert cli.report_failure({"status": "failed", "error": invalid}, None) == 2
    err = capsys.readouterr().err
    assert err == t("cli_error", message=config_problem(exc, "en")) + "\n" and "learning rate = -1.0" in err


def test_every_config_field_has_a_cli_flag():
    import argparse
    import dataclasses

    from bn_demo.cli import CONFIG_FLAGS, add_config_flags

    assert set(CONFIG_FLAGS) == {f.name for f in dataclasses.fields(RunConfig)}
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    args = parser.parse_args(["--pace", "5", "--bn-placement", "after", "--hidden", "8,4"])
    assert (args.pace, args.bn_placement, args.hidden) == (5.0, "after", (8, 4))


def test_the_no_cure_all_preset_defeats_bn_too(digits):
    """The preset's claim, measured (seeds 1-3 on digits and on MNIST): both twins fail, BN later."""
    runner = Runner(PRESETS["no-cure-all"].config(dataset="digits", device="cpu"), dataset=digits).start()
    assert runner.join(120)
    twins = runner.record()["twins"]
    assert {name: rec.twin_outcome(twin) in ("collapsed", "diverged") for name, twin in twins.items()} == \
        {"bn": True, "plain": True}
    failed_at = {name: twin["collapsed_at_step"] or twin["diverged_at_step"] for name, twin in twins.items()}
    assert failed_at["plain"] < failed_at["bn"]


def test_a_run_shorter_than_one_rate_window_reports_its_rate_not_zero(digits):
    runner = Runner(RunConfig(dataset="digits", hidden=(8,), steps=5, epochs=0, device="cpu"), dataset=digits).start()
    assert runner.join(60) and runner.status == "finished"
    assert runner.record()["progress"]["samples_per_second"] > 0
