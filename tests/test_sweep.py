"""The learning-rate sweep (bn_demo/sweep.py, `python -m bn_demo sweep`): its grid, its reading of run
records, its two separate comparisons (tolerance, same rate), its file and its cheap `--help`."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys

import pandas as pd
import pytest

from bn_demo import cli, sweep
from bn_demo import record as rec
from bn_demo.ui.strings import t
from conftest import REPO, assert_file_round_trips, assert_refused, cli_in_subprocess

# Measured on digits (seed 3, SGD, 60 steps, probes every 5 steps, evaluations every 10): at lr 10 the BN
# twin collapses (every ReLU of a layer dead at step 20) and the plain twin diverges (step 6); at lr 0.3
# both finish, BN above 50 % held-out accuracy at step 10, plain at step 50.
SHORT = ["--dataset", "digits", "--optimizer", "sgd", "--steps", "60", "--probe-every", "5", "--eval-every", "10",
         "--device", "cpu", "--seeds", "3", "--lrs", "0.3,10", "--target", "0.5", "--quiet"]


# -- the grid and the other specs ---------------------------------------------------------------------------


def test_a_log_grid_includes_both_ends_and_is_evenly_spaced_in_log():
    rates = sweep.parse_lrs("0.001:3:8")
    assert len(rates) == 8 and rates[0] == 0.001 and rates[-1] == 3.0 and list(rates) == sorted(rates)
    steps = [math.log(b / a) for a, b in zip(rates, rates[1:])]
    assert max(steps) - min(steps) < 0.01  # even in log, up to the rounding to 3 digits
    assert sweep.parse_lrs("0.0001:10:6") == (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)
    assert sweep.parse_lrs(" 1, 0.1,0.1 ") == (0.1, 1.0)  # a comma list: sorted, no repeats
    assert sweep.parse_lrs("0.05") == (0.05,)


@pytest.mark.parametrize("text, code", [("0.1:0.01:3", "grid_order"), ("0:1:3", "grid_positive"),
                                        ("0.1:1:1", "grid_count"), ("0.1:1:99", "grid_count"),
                                        ("0.1:1", "grid_format"), ("a,b", "grid_format"), ("", "grid_format"),
                                        ("0.1,-1", "grid_positive"), ("0.1:1:x", "grid_format"),
                                        ("nan", "grid_positive")])
def test_a_bad_grid_is_refused_with_its_code(text, code):
    with pytest.raises(sweep.SweepError) as info:
        sweep.parse_lrs(text)
    assert info.value.code == code


def test_seeds_and_arms_specs():
    assert sweep.parse_seeds("1-3,7,2") == (1, 2, 3, 7)
    assert sweep.parse_seeds("5") == (5,)
    for bad, code in (("3-1", "seeds_format"), ("-3", "seeds_format"), ("x", "seeds_format"),
                      ("1-100", "seeds_count")):
        with pytest.raises(sweep.SweepError) as info:
            sweep.parse_seeds(bad)
        assert info.value.code == code, bad
    assert sweep.parse_arms("plain,bn") == ("bn", "plain") and sweep.model_of(("bn", "plain")) == "both"
    assert sweep.model_of(sweep.parse_arms("plain")) == "plain"
    assert sweep.model_of(sweep.parse_arms("noisy-bn,bn")) == "arms"
    for bad, code in (("bn,batchrenorm", "arms_unknown"), ("bn,bn", "arms_format"), ("", "arms_format")):
        with pytest.raises(sweep.SweepError) as info:
            sweep.parse_arms(bad)
        assert info.value.code == code, bad


# -- reading records and comparing, on constructed numbers ---------------------------------------------------


def twin(accs, *, status="finished", diverged=None, collapsed=None, every=10):
    """A run record's twin with a held-out (eval-mode) accuracy series at steps 0, every, 2·every, …"""
    steps = [i * every for i in range(len(accs))]
    return {"status": status, "diverged_at_step": diverged, "collapsed_at_step": collapsed,
            "collapsed_layers": [1] if collapsed is not None else [], "parameters": 100,
            "eval": {"step": steps, "acc": accs},
            "final": {"test_acc": accs[-1], "test_loss": 1.0, "eval_step": steps[-1]}}


def test_steps_to_target_is_the_first_evaluation_at_or_above_it():
    evals = {"step": [0, 10, 20, 30, 40], "acc": [0.1, math.nan, 0.89, 0.9, 0.95]}
    assert sweep.steps_to_target(evals, 0.9) == 30  # equal counts; NaN is never "reached"
    assert sweep.steps_to_target(evals, 0.5) == 20
    assert sweep.steps_to_target(evals, 0.1) == 0
    assert sweep.steps_to_target(evals, 0.96) is None
    # A twin that reached the target and collapsed later: both facts are kept.
    arm = sweep.arm_result(twin([0.1, 0.92, 0.5, 0.1], collapsed=25), 0.9)
    assert (arm["outcome"], arm["outcome_step"], arm["steps_to_target"]) == ("collapsed", 25, 10)
    assert arm["best_test_acc"] == 0.92 and arm["final_test_acc"] == 0.1
    arm = sweep.arm_result(twin([0.1, 0.2], status="diverged", diverged=13, collapsed=5), 0.9)
    assert (arm["outcome"], arm["outcome_step"], arm["steps_to_target"]) == ("diverged", 13, None)


def runs_of(table: dict, target: float = 0.9) -> list[dict]:
    """Sweep entries from {(lr, seed): {arm: twin}}."""
    return [{"lr": lr, "seed": seed, "status": "finished", "total_steps": 40, "cadence": {"eval_every": 10},
             "arms": {name: sweep.arm_result(tw, target) for name, tw in arms.items()}}
            for (lr, seed), arms in table.items()]


def test_tolerance_and_same_rate_are_separate_numbers():
    good, slow, dead = [0.1, 0.95, 0.97], [0.1, 0.5, 0.91], [0.1, 0.1, 0.1]
    runs = runs_of({
        (0.01, 1): {"bn": twin(slow), "plain": twin(dead)},
        (0.1, 1): {"bn": twin(good), "plain": twin(slow)},
        (1.0, 1): {"bn": twin(good), "plain": twin(dead, collapsed=10)},
        (10.0, 1): {"bn": twin(dead, status="diverged", diverged=2), "plain": twin(dead, status="diverged", diverged=1)},
    })
    summary = sweep.summarize(runs, ("bn", "plain"), 0.9)
    bn, plain = summary["tolerance"]["bn"], summary["tolerance"]["plain"]
    assert (bn["highest_lr_reaching_target"], bn["highest_lr_without_failure"]) == (1.0, 1.0)
    # plain at 0.01 never fails but never reaches the target either: the two limits differ
    assert (plain["highest_lr_reaching_target"], plain["highest_lr_without_failure"]) == (0.1, 0.1)
    assert bn["lr_ratio_reaching_target"] == 10.0 and plain["lr_ratio_reaching_target"] is None
    assert not bn["reaching_at_grid_top"] and (bn["fastest_lr"], bn["fastest_steps"]) == (0.1, 10)
    # the same rate: only 0.1, where both reach the target
    assert summary["same_rate"] == [{
        "lr": 0.1, "arm": "bn", "reference": "plain", "steps": 10, "reference_steps": 20, "steps_saved": 10,
        "speedup": 2.0, "final_test_acc": 0.97, "reference_final_test_acc": 0.91,
        "acc_gain": pytest.approx(0.06)}]
    cell = next(c for c in summary["cells"] if (c["lr"], c["arm"]) == (10.0, "plain"))
    assert cell["outcomes"]["diverged"] == 1 and cell["first_failure_step"] == 1


def test_over_seeds_a_rate_reaches_the_target_only_when_every_seed_does():
    runs = runs_of({
        (0.1, 1): {"bn": twin([0.1, 0.95]), "plain": twin([0.1, 0.2, 0.95])},
        (0.1, 2): {"bn": twin([0.1, 0.2, 0.2, 0.95]), "plain": twin([0.1, 0.2, 0.95])},
        (1.0, 1): {"bn": twin([0.1, 0.95]), "plain": twin([0.1, 0.95])},
        (1.0, 2): {"bn": twin([0.1, 0.95]), "plain": twin([0.1, 0.1], status="diverged", diverged=3)},
    })
    summary = sweep.summarize(runs, ("bn", "plain"), 0.9)
    cells = {(c["lr"], c["arm"]): c for c in summary["cells"]}
    assert cells[(0.1, "bn")]["steps_to_target_mean"] == 20 and cells[(0.1, "bn")]["steps_to_target_sd"] == \
        pytest.approx(math.sqrt(200))
    assert cells[(1.0, "plain")]["reached"] == 1 and cells[(1.0, "plain")]["runs"] == 2
    assert summary["tolerance"]["plain"]["highest_lr_reaching_target"] == 0.1
    assert summary["tolerance"]["bn"]["highest_lr_reaching_target"] == 1.0
    assert summary["tolerance"]["bn"]["reaching_at_grid_top"] is True  # the limit may lie above the grid
    assert [s["lr"] for s in summary["same_rate"]] == [0.1]


# -- a real sweep on digits, through the command line ------------------------------------------------------


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    out, csv_path = folder / "sweep.json", folder / "sweep.csv"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["sweep", *SHORT, "--out", str(out), "--csv", str(csv_path)])
    return {"code": code, "table": stdout.getvalue(), "out": out, "csv": csv_path}


def test_the_sweep_marks_divergence_and_collapse(swept):
    assert swept["code"] == 0
    doc = sweep.loads(swept["out"].read_bytes())
    assert doc["complete"] and doc["lrs"] == [0.3, 10.0] and doc["seeds"] == [3] and doc["arms"] == ["bn", "plain"]
    runs = {r["lr"]: r["arms"] for r in doc["runs"]}
    assert runs[10.0]["bn"]["outcome"] == "collapsed" and runs[10.0]["bn"]["outcome_step"] == 20
    assert runs[10.0]["plain"]["outcome"] == "diverged" and runs[10.0]["plain"]["outcome_step"] == 6
    assert runs[10.0]["plain"]["final_eval_step"] < 6  # its numbers come from before it diverged
    assert {a["outcome"] for a in runs[0.3].values()} == {"finished"}
    assert (runs[0.3]["bn"]["steps_to_target"], runs[0.3]["plain"]["steps_to_target"]) == (10, 50)
    tolerance = doc["summary"]["tolerance"]
    assert tolerance["bn"]["highest_lr_without_failure"] == tolerance["plain"]["highest_lr_without_failure"] == 0.3
    assert [(s["lr"], s["steps_saved"]) for s in doc["summary"]["same_rate"]] == [(0.3, 40)]
    # the table says the same: one row per rate and twin, a failed twin never reads "finished"
    rows = [line.split() for line in swept["table"].splitlines() if line.startswith(("0.3 ", "10 "))]
    assert [r[:4] for r in rows[:4]] == [["0.3", t("twin_bn"), t("status_finished"), "—"],
                                         ["0.3", t("twin_plain"), t("status_finished"), "—"],
                                         ["10", t("twin_bn"), t("cli_outcome_collapsed"), "20"],
                                         ["10", t("twin_plain"), t("status_diverged"), "6"]]
    assert t("cli_sweep_same_rate", target="50%") in swept["table"]


def test_the_sweep_file_round_trips_and_the_csv_reads_as_is(swept):
    written = assert_file_round_trips(sweep, swept["out"])
    assert written["format"] == "bn-lab-sweep" and written["version"] == 1
    frame = pd.read_csv(swept["csv"])
    assert tuple(frame.columns) == sweep.CSV_COLUMNS and len(frame) == 4
    row = frame[(frame.lr == 10.0) & (frame.arm == "plain")].iloc[0]
    assert row.outcome == "diverged" and row.outcome_step == 6 and math.isnan(row.steps_to_target)
    assert_refused(sweep.loads, sweep.SweepError, [
        *((json.dumps(bad), code) for bad, code in (
            ({**written, "format": "bn-lab-run"}, "not_a_sweep"), ({**written, "version": 2}, "wrong_version"),
            ({**written, "runs": [{"lr": 0.1, "arms": {"bn": {"outcome": "??"}}}]}, "bad_field"))),
        (" " * (rec.MAX_RECORD_BYTES + 1), "bad_field")])  # an upload on the page is held to a record's size
    shown = subprocess.run([sys.executable, "-m", "bn_demo", "show", str(swept["out"])], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout == swept["table"]


@pytest.mark.parametrize("args, says", [
    (["--lrs", "0:1:3"], "is not a positive number"),
    (["--target", "90"], "expected a held-out accuracy"),
])
def test_bad_specs_are_refused_by_the_parser(capsys, args, says):
    with pytest.raises(SystemExit) as info:
        cli.main(["sweep", "--dataset", "digits", *args])
    assert info.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize("args, says", [
    (["--lrs", "0.1,20"], "learning rate = 20.0"),  # every run's configuration is checked before any trains
    (["--lr", "0.1"], "--lr cannot be combined with --lrs"),
    (["--seed", "2", "--seeds", "1-2"], "--seed cannot be combined with --seeds"),
    (["--arms", "bn,batchrenorm"], "picked networks = batchrenorm"),  # the --arms of every command (RunConfig.arms)
])
def test_bad_settings_are_refused_before_training(capsys, args, says):
    assert cli.main(["sweep", "--dataset", "digits", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_sweep_help_imports_no_torch():
    proc, report = cli_in_subprocess("sweep", "--help")
    assert report == {"code": 0, "torch": False}, proc.stderr
    assert "--lrs" in proc.stdout and "--arms" in proc.stdout and "--optimizer" in proc.stdout


def test_the_sweep_figure_has_log_lr_axes_and_marks_each_outcome(swept):
    from bn_demo.ui.sweep_view import sweep_figure

    doc = sweep.loads(swept["out"].read_bytes())
    fig = sweep_figure(doc, "en")
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "log"
    symbols = {(tr.legendgroup, tr.marker.symbol) for tr in fig.data if tr.mode == "markers"}
    assert symbols == {("bn", "circle"), ("bn", "triangle-down"), ("plain", "circle"), ("plain", "x")}
    steps = {tr.legendgroup: (list(tr.x), list(tr.y)) for tr in fig.data if tr.mode == "lines+markers"}
    assert steps == {"bn": ([0.3], [10]), "plain": ([0.3], [50])}
    # each twin's highest rate reaching the target (0.3 for both), drawn on both panels and named once
    assert {shape.x0 for shape in fig.layout.shapes if shape.x0 == shape.x1} == {0.3}
    named = [a for a in fig.layout.annotations if a.text.startswith((t("twin_bn"), t("twin_plain")))]
    assert len(named) == 2 and [a.x for a in named] == pytest.approx([math.log10(0.3)] * 2)
    korean = sweep_figure(doc, "ko")
    assert korean.layout.annotations[0].text == t("sweep_panel_steps", "ko", target="50%")
