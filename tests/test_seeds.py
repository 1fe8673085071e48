"""Seeds (bn_demo/seeds.py, `python -m bn_demo train --seeds`): one configuration trained once per seed;
the mean ± sd summary checked against its per-seed runs, the seeds spec's errors, the seeds file's round
trip, `show` of a seeds file, and a `--help` that still imports no torch."""

from __future__ import annotations

import contextlib
import io
import json
import math
import statistics
import subprocess
import sys

import pandas as pd
import pytest

from bn_demo import cli, seeds
from bn_demo import record as rec
from bn_demo.ui import strings
from bn_demo.ui.strings import t
from conftest import REPO, assert_file_round_trips, assert_refused, cli_in_subprocess

# Digits, SGD, 60 steps. At lr 0.3 every seed finishes and the final accuracies differ between seeds (a
# spread to summarise); at lr 10, measured on seeds 1-3: BN collapses on every seed (steps 30, 40, 20), the
# plain twin collapses on seeds 1 and 2 (steps 10, 5) and diverges on seed 3 (step 6).
SHORT = ["--dataset", "digits", "--optimizer", "sgd", "--steps", "60", "--probe-every", "5", "--eval-every", "10",
         "--device", "cpu", "--quiet"]
SEEDS = (1, 2, 3)


def train(*args) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["train", *SHORT, *args])
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """`train --seeds 1-3` at lr 0.3, and each seed trained on its own with `train --seed k --out`."""
    folder = tmp_path_factory.mktemp("seeds")
    out, csv_path = folder / "seeds.json", folder / "seeds.csv"
    code, table = train("--lr", "0.3", "--seeds", "1-3", "--out", str(out), "--csv", str(csv_path))
    singles = {}
    for seed in SEEDS:
        path = folder / f"seed{seed}.json"
        assert train("--lr", "0.3", "--seed", str(seed), "--out", str(path))[0] == 0
        singles[seed] = rec.loads(path.read_text())
    return {"code": code, "table": table, "out": out, "csv": csv_path, "singles": singles}


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds-failing") / "seeds.json"
    code, table = train("--lr", "10", "--seeds", "1-3", "--out", str(out))
    return {"code": code, "table": table, "doc": seeds.loads(out.read_bytes())}


# -- the summary ------------------------------------------------------------------------------------------


def test_a_seed_summary_equals_the_mean_and_sd_of_its_per_seed_runs(seeded):
    """Each twin's summary in the seeds file is statistics.mean / statistics.stdev (n − 1) of the same
    numbers read off the per-seed runs: both the runs saved in the seeds file and each seed trained on its
    own (`train --seed k --out`), which must agree with them exactly."""
    assert seeded["code"] == 0
    written = json.loads(seeded["out"].read_text())
    assert written["seeds"] == list(SEEDS) and [r["seed"] for r in written["runs"]] == list(SEEDS)
    for name in ("bn", "plain"):
        saved = written["summary"][name]
        assert saved["runs"] == 3 and saved["outcomes"] == {"finished": 3, "diverged": 0, "collapsed": 0, "stopped": 0}
        for metric, key in (("final_test_acc", "test_acc"), ("final_test_loss", "test_loss"),
                            ("final_train_loss", "train_loss")):
            in_file = [r["twins"][name][metric] for r in written["runs"]]
            alone = [float(seeded["singles"][s]["twins"][name]["final"][key]) for s in SEEDS]
            assert in_file == alone, (name, metric)  # a seed in the loop trains as it does on its own
            assert saved[metric]["n"] == 3
            assert saved[metric]["mean"] == pytest.approx(statistics.mean(alone), rel=1e-12, abs=1e-15)
            assert saved[metric]["sd"] == pytest.approx(statistics.stdev(alone), rel=1e-9, abs=1e-15)
        assert saved["diverged_at_step"] == saved["collapsed_at_step"] == {"mean": None, "sd": None, "n": 0}
    accs = [r["twins"]["bn"]["final_test_acc"] for r in written["runs"]]
    assert len(set(accs)) > 1  # the seeds differ: the sd is not trivially 0


def test_the_summary_counts_outcomes_and_averages_only_what_happened(failing):
    doc = failing["doc"]
    assert failing["code"] == 0 and doc["complete"]
    plain, bn = doc["summary"]["plain"], doc["summary"]["bn"]
    assert plain["outcomes"] == {"finished": 0, "diverged": 1, "collapsed": 2, "stopped": 0}
    assert bn["outcomes"]["collapsed"] == 3
    steps = {r["seed"]: r["twins"]["plain"] for r in doc["runs"]}
    assert plain["diverged_at_step"] == {"mean": steps[3]["diverged_at_step"], "sd": None, "n": 1}
    collapsed = [steps[s]["collapsed_at_step"] for s in (1, 2)]
    assert plain["collapsed_at_step"]["n"] == 2
    assert plain["collapsed_at_step"]["mean"] == pytest.approx(statistics.mean(collapsed))
    assert plain["collapsed_at_step"]["sd"] == pytest.approx(statistics.stdev(collapsed))
    # the tables: one row per seed and twin, then "diverged 1/3, collapsed 2/3" for plain
    table = failing["table"]
    assert t("cli_sweep_outcome_count", outcome=t("status_diverged"), count=1, runs=3) in table
    assert t("cli_sweep_outcome_count", outcome=t("cli_outcome_collapsed"), count=3, runs=3) in table
    rows = [line.split() for line in table.splitlines() if line[:2] in ("1 ", "2 ", "3 ")]
    assert [r[:3] for r in rows] == [[str(s), t(f"twin_{n}"), (t("status_diverged") if (s, n) == (3, "plain")
                                                              else t("cli_outcome_collapsed"))]
                                     for s in SEEDS for n in ("bn", "plain")]
    assert "(n − 1 in the denominator)" in table


def test_summarize_on_constructed_runs():
    def entry(seed, acc, loss, outcome="finished", diverged=None):
        return {"seed": seed, "twins": {"bn": {"outcome": outcome, "final_test_acc": acc, "final_test_loss": loss,
                                               "final_train_loss": None if diverged else loss,
                                               "diverged_at_step": diverged, "collapsed_at_step": None}}}
    runs = [entry(1, 0.9, 0.3), entry(2, 0.8, 0.5), entry(3, None, 0.4, "diverged", diverged=7)]
    s = seeds.summarize(runs)["bn"]
    assert s["runs"] == 3 and s["outcomes"]["diverged"] == 1 and s["outcomes"]["finished"] == 2
    assert s["final_test_acc"] == {"mean": pytest.approx(0.85), "sd": pytest.approx(statistics.stdev([0.9, 0.8])),
                                   "n": 2}
    assert s["final_test_loss"]["mean"] == pytest.approx(0.4) and s["final_test_loss"]["sd"] == pytest.approx(0.1)
    assert s["diverged_at_step"] == {"mean": 7.0, "sd": None, "n": 1}
    assert seeds.stat([]) == {"mean": None, "sd": None, "n": 0}
    assert seeds.stat([2.0, math.nan, None]) == {"mean": 2.0, "sd": None, "n": 1}


# -- the seeds spec and bad settings ------------------------------------------------------------------------


@pytest.mark.parametrize("spec, says", [("3-1", "expected seeds such as 1, 1-5 or 1,3,5"),
                                        ("a", "expected seeds such as"), ("1-2-3", "expected seeds such as"),
                                        ("1-100", "at most 20 seeds")])
def test_a_bad_seeds_spec_is_refused_by_the_parser(capsys, spec, says):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--dataset", "digits", "--seeds", spec])
    err = capsys.readouterr().err
    assert info.value.code == 2 and says in err and "Traceback" not in err


@pytest.mark.parametrize("args, says", [
    (["--seed", "2", "--seeds", "1-2"], "--seed cannot be combined with --seeds"),
    (["--seeds", "1,3000000000"], "seed"),  # every seed's configuration is checked before any trains
])
def test_bad_seed_settings_are_refused_before_training(capsys, args, says):
    assert cli.main(["train", "--dataset", "digits", "--quiet", *args]) == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.err.count("\n") == 1 and captured.out == ""


# -- the file, the CSV and `show` --------------------------------------------------------------------------


def test_the_seeds_file_round_trips_and_the_csv_reads_as_is(seeded):
    written = assert_file_round_trips(seeds, seeded["out"])
    assert written["format"] == "bn-lab-seeds" and written["version"] == 1 and written["complete"] is True
    assert written["twins"] == ["bn", "plain"] and written["config"]["seed"] == 1 and written["config"]["lr"] == 0.3
    frame = pd.read_csv(seeded["csv"])
    assert tuple(frame.columns) == seeds.CSV_COLUMNS and len(frame) == 6
    row = frame[(frame.seed == 2) & (frame.twin == "bn")].iloc[0]
    assert row.outcome == "finished" and row.final_test_acc == written["runs"][1]["twins"]["bn"]["final_test_acc"]
    assert_refused(seeds.loads, seeds.SeedsError, [
        *((json.dumps(bad), code) for bad, code in (
            ({**written, "format": "bn-lab-sweep"}, "not_seeds"), ({**written, "version": 2}, "wrong_version"),
            ({**written, "runs": [{"seed": 1, "twins": {"bn": {"outcome": "??"}}}]}, "bad_field"),
            ({**written, "twins": "bn"}, "bad_field"))),
        ("{not json", "not_json")])


def test_show_prints_a_seeds_files_tables_again_without_torch(seeded, tmp_path):
    proc, report = cli_in_subprocess("show", str(seeded["out"]))
    assert report == {"code": 0, "torch": False}, proc.stderr
    assert proc.stdout.rsplit("\n", 2)[0] + "\n" == seeded["table"]  # the tables as train printed them
    broken = tmp_path / "future.json"
    broken.write_text(json.dumps({**json.loads(seeded["out"].read_text()), "version": 2}))
    proc = subprocess.run([sys.executable, "-m", "bn_demo", "show", str(broken)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert "version 2" in proc.stderr and "Traceback" not in proc.stderr


def test_train_help_names_seeds_and_imports_no_torch():
    proc, report = cli_in_subprocess("train", "--help")
    assert report == {"code": 0, "torch": False}, proc.stderr
    assert "--seeds" in proc.stdout and "bn-lab-" in proc.stdout


def test_the_seeds_words_exist_in_english_and_korean():
    keys = [k for k in strings.EN if k.startswith("cli_seeds_")]
    assert len(keys) >= 10
    for key in keys:
        assert strings.KO[key] and strings.KO[key] != strings.EN[key], key
    assert "n − 1" in strings.KO["cli_seeds_footnote"] and "n − 1" in strings.EN["cli_seeds_footnote"]
