"""Learning-rate sweep: the lockstep twins trained at each rate of a grid, one run after another.

    python -m bn_demo sweep --dataset digits --lrs 0.0001:10:6 --target 0.9 --out sweep.json --csv sweep.csv

Each (learning rate, seed) is one ordinary run of `train` on the chosen backend (bn_demo/backends: by
default a runner.Runner with one torch thread in this process, with --backend ray an actor) training
every arm in lockstep; the sweep keeps numbers read off its run record
(bn_demo/record.py) and drops the record. From them it computes two separate things:

- tolerance: per arm, the highest rate of the grid at which every seed reaches the target held-out
  accuracy, and the highest at which no seed diverges or collapses ("BN tolerates a higher rate");
- same rate: at each rate where every seed of both arms reaches the target, the steps to the target and
  the final accuracy of each arm against the reference arm, plain ("BN is better at the same rate").

Numbers and codes only: readers phrase them (the CLI's words are in bn_demo/ui/strings.py). Nothing here
imports torch when the module loads.

Accuracy is the run record's `eval` series: eval mode (BN running statistics) on the whole held-out
split, measured every `cadence.eval_every` steps and at every epoch end, so a step to the target is the
first such evaluation at or above it (its resolution is the evaluation cadence).

Sweep file, format "bn-lab-sweep", version SWEEP_VERSION (NaN and ±inf written as null)::

    format, version
    complete        false when the sweep was interrupted: `runs` holds the runs that ended
    target          the held-out accuracy a run must reach (0-1); metric: "eval_acc" (see above)
    lrs, seeds      the grid, in the order it was run (lr outer, seed inner)
    arms            arm codes, e.g. ["bn", "plain"]; reference: the arm others are compared with, or null
    config          RunConfig.to_dict() of the first run (lr and seed vary per run)
    dataset, device, versions    as in the run record
    seconds         wall time of the whole sweep
    runs            one entry per (lr, seed):
        lr, seed, status (the run record's), error (its error or null), steps, total_steps,
        train_seconds, seconds (wall, setup included), cadence {probe_every, ics_every, eval_every},
        arms {arm: {outcome (finished | diverged | collapsed | stopped), outcome_step (where it
              diverged or collapsed, else null), diverged_at_step, collapsed_at_step, collapsed_layers,
              steps_to_target (null: never reached), best_test_acc, final_test_acc, final_test_loss,
              final_eval_step, parameters, eval {step, acc}}}
    summary         summarize(): cells, tolerance, same_rate (recomputed from `runs` on load)
"""

from __future__ import annotations

import math
import time
from functools import partial

from . import record as rec
from .config import ARMS, MODEL_ARMS
from .seeds import train_one

FORMAT = "bn-lab-sweep"
SWEEP_VERSION = 1
REFERENCE_ARM = "plain"
MODEL_OF_ARMS = {arms: model for model, arms in MODEL_ARMS.items()}
METRIC = "eval_acc"
MAX_RATES = 30
MAX_SEEDS = 20
SIGNIFICANT_DIGITS = 3  # a log grid's rates are rounded to this many digits (its ends stay exact)
OUTCOMES = ("finished", "diverged", "collapsed", "stopped")
FAILED = ("diverged", "collapsed")
CSV_COLUMNS = ("lr", "seed", "arm", "outcome", "outcome_step", "steps_to_target", "target", "final_test_acc",
               "final_eval_step", "best_test_acc", "total_steps")


class SweepError(ValueError):
    """A bad grid, seed list, arm list or sweep file: `code` and its facts, for the reader to phrase."""

    def __init__(self, code: str, **facts):
        self.code, self.facts = code, facts
        super().__init__(f"{code}: {facts}" if facts else code)


# -- the command line's specs ---------------------------------------------------------------------------


def parse_lrs(text: str) -> tuple[float, ...]:
    """"lo:hi:count" → count rates spaced evenly in log between lo and hi, both included, each rounded
    to SIGNIFICANT_DIGITS digits; or a comma list ("0.01,0.1,1"). Sorted ascending, no repeats."""
    text = "".join(str(text).split())
    if text.count(":") == 2:
        lo, hi, count = text.split(":")
        low, high = _positive(lo), _positive(hi)
        try:
            n = int(count)
        except ValueError:
            raise SweepError("grid_format", text=text) from None
        if not 2 <= n <= MAX_RATES:
            raise SweepError("grid_count", low=2, high=MAX_RATES)
        if not high > low:
            raise SweepError("grid_order", low=low, high=high)
        ratio = math.log(high / low)
        rates = [low, *(_round(low * math.exp(ratio * i / (n - 1))) for i in range(1, n - 1)), high]
    elif ":" in text or not text:
        raise SweepError("grid_format", text=text)
    else:
        rates = [_positive(part) for part in text.split(",") if part]
        if not rates:
            raise SweepError("grid_format", text=text)
    rates = sorted(set(rates))
    if len(rates) > MAX_RATES:
        raise SweepError("grid_count", low=2, high=MAX_RATES)
    return tuple(rates)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError("grid_format", text=text) from None
    if not (math.isfinite(value) and value > 0):
        raise SweepError("grid_positive", value=text)
    return value


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def parse_seeds(text: str) -> tuple[int, ...]:
    """"1", "1-5", "1,3,5" or "1-3,7" → the seeds in order, no repeats."""
    seeds: list[int] = []
    for part in "".join(str(text).split()).split(","):
        try:
            first, last = (int(v) for v in part.split("-")) if "-" in part else (int(part), int(part))
        except ValueError:  # "", "a", "-3", "1-2-3"
            raise SweepError("seeds_format", text=text) from None
        if last < first:
            raise SweepError("seeds_format", text=text)
        if last - first >= MAX_SEEDS or len(seeds) + last - first >= MAX_SEEDS:
            raise SweepError("seeds_count", high=MAX_SEEDS)
        seeds += range(first, last + 1)
    return tuple(dict.fromkeys(seeds))


def parse_arms(text: str) -> tuple[str, ...]:
    """"bn,plain" → ("bn", "plain") in ARMS order; an unknown or repeated arm is an error."""
    names = [part for part in "".join(str(text).split()).split(",") if part]
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        raise SweepError("arms_unknown", arm=unknown[0], options=ARMS)
    if not names or len(set(names)) != len(names):
        raise SweepError("arms_format", text=text)
    return tuple(a for a in ARMS if a in names)


def model_of(arms: tuple[str, ...]) -> str:
    """The RunConfig `model` that trains these arms in lockstep: a shorthand, else "arms" (RunConfig.arms)."""
    return MODEL_OF_ARMS.get(tuple(a for a in ARMS if a in arms), "arms")


# -- reading one run's record ------------------------------------------------------------------------------


def steps_to_target(evals: dict, target: float) -> int | None:
    """The step of the first held-out evaluation whose accuracy is at least `target`; None if none is."""
    for step, acc in zip(evals["step"], evals["acc"]):
        if acc is not None and math.isfinite(float(acc)) and float(acc) >= target:
            return int(step)
    return None


def arm_result(twin: dict, target: float) -> dict:
    """One arm of one run, as numbers and codes (record.twin_outcome's code)."""
    outcome = rec.twin_outcome(twin)
    evals, final = twin["eval"], twin["final"]
    accs = [float(a) for a in evals["acc"] if a is not None and math.isfinite(float(a))]
    return {
        "outcome": outcome,
        "outcome_step": rec.outcome_step(twin, outcome),
        "diverged_at_step": twin.get("diverged_at_step"),
        "collapsed_at_step": twin.get("collapsed_at_step"),
        "collapsed_layers": list(twin.get("collapsed_layers") or []),
        "steps_to_target": steps_to_target(evals, target),
        "best_test_acc": max(accs) if accs else None,
        "final_test_acc": rec.finite_or_none(final.get("test_acc")),
        "final_test_loss": rec.finite_or_none(final.get("test_loss")),
        "final_eval_step": final.get("eval_step"),
        "parameters": twin.get("parameters"),
        "eval": {"step": [int(s) for s in evals["step"]], "acc": [rec.finite_or_none(a) for a in evals["acc"]]},
    }


def run_entry(record: dict, lr: float, seed: int, target: float, seconds: float) -> dict:
    """The sweep's entry for one run, read off its run record."""
    progress = record["progress"]
    return {
        "lr": lr, "seed": seed, "status": record["status"], "error": record.get("error"),
        "steps": progress.get("step"), "total_steps": progress.get("total_steps"),
        "train_seconds": progress.get("train_seconds"), "seconds": seconds, "cadence": record.get("cadence"),
        "arms": {name: arm_result(twin, target) for name, twin in record["twins"].items()},
    }


# -- the computations ---------------------------------------------------------------------------------------


def summarize(runs: list[dict], arms, target: float, lrs=None) -> dict:
    """Per (lr, arm) over its seeds (cells); per arm the highest rates it tolerates (tolerance); and per
    rate where every seed of an arm and of the reference reaches the target, the two compared (same_rate).
    Steps are means over seeds (sd with two or more); a rate "reaches" only when every seed does."""
    lrs = sorted({r["lr"] for r in runs} if lrs is None else lrs)
    cells = [cell(runs, lr, arm) for lr in lrs for arm in arms]
    by = {(c["lr"], c["arm"]): c for c in cells}
    grid = [lr for lr in lrs if any(by[(lr, a)]["runs"] for a in arms)]
    tolerance = {}
    for arm in arms:
        reached = [lr for lr in grid if _reaches(by[(lr, arm)])]
        trained = [lr for lr in grid if _trains(by[(lr, arm)])]
        fastest = min(reached, key=lambda lr: (by[(lr, arm)]["steps_to_target_mean"], lr), default=None)
        tolerance[arm] = {
            "highest_lr_reaching_target": max(reached, default=None),
            "highest_lr_without_failure": max(trained, default=None),
            # the true limit may lie beyond the grid when the arm still succeeds at its top rate
            "reaching_at_grid_top": bool(grid) and bool(reached) and max(reached) == grid[-1],
            "without_failure_at_grid_top": bool(grid) and bool(trained) and max(trained) == grid[-1],
            "fastest_lr": fastest,
            "fastest_steps": by[(fastest, arm)]["steps_to_target_mean"] if fastest is not None else None,
        }
    reference = REFERENCE_ARM if REFERENCE_ARM in arms and len(arms) > 1 else None
    for arm in arms:
        ref = tolerance.get(reference) if reference and arm != reference else None
        tolerance[arm]["lr_ratio_reaching_target"] = _ratio(
            tolerance[arm]["highest_lr_reaching_target"], ref and ref["highest_lr_reaching_target"])
        tolerance[arm]["lr_ratio_without_failure"] = _ratio(
            tolerance[arm]["highest_lr_without_failure"], ref and ref["highest_lr_without_failure"])
    same_rate = []
    for arm in arms:
        if reference is None or arm == reference:
            continue
        for lr in grid:
            mine, theirs = by[(lr, arm)], by[(lr, reference)]
            if not (_reaches(mine) and _reaches(theirs)):
                continue
            steps, ref_steps = mine["steps_to_target_mean"], theirs["steps_to_target_mean"]
            acc, ref_acc = mine["final_test_acc_mean"], theirs["final_test_acc_mean"]
            same_rate.append({
                "lr": lr, "arm": arm, "reference": reference, "steps": steps, "reference_steps": ref_steps,
                "steps_saved": ref_steps - steps, "speedup": ref_steps / steps if steps else None,
                "final_test_acc": acc, "reference_final_test_acc": ref_acc,
                "acc_gain": acc - ref_acc if acc is not None and ref_acc is not None else None,
            })
    return {"target": target, "reference": reference, "cells": cells, "tolerance": tolerance,
            "same_rate": same_rate}


def cell(runs: list[dict], lr: float, arm: str) -> dict:
    """One arm at one rate over its seeds."""
    results = [r["arms"][arm] for r in runs if r["lr"] == lr and arm in r.get("arms", {})]
    steps = [a["steps_to_target"] for a in results if a["steps_to_target"] is not None]
    accs = [a["final_test_acc"] for a in results if a["final_test_acc"] is not None]
    failed_at = [a["outcome_step"] for a in results if a["outcome"] in FAILED and a["outcome_step"] is not None]
    outcomes = {code: sum(a["outcome"] == code for a in results) for code in OUTCOMES}
    return {
        "lr": lr, "arm": arm, "runs": len(results), "reached": len(steps), "outcomes": outcomes,
        "first_failure_step": min(failed_at, default=None),
        "steps_to_target_mean": _mean(steps), "steps_to_target_sd": _sd(steps),
        "final_test_acc_mean": _mean(accs), "final_test_acc_sd": _sd(accs),
    }


def _reaches(c: dict) -> bool:
    return c["runs"] > 0 and c["reached"] == c["runs"]


def _trains(c: dict) -> bool:
    return c["runs"] > 0 and c["outcomes"]["finished"] == c["runs"]


def _ratio(value, reference):
    return value / reference if value is not None and reference else None


def _mean(values):
    return sum(values) / len(values) if values else None


def _sd(values):
    if len(values) < 2:
        return None
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# -- running it -------------------------------------------------------------------------------------------


def run_sweep(backend, config, lrs, seeds, *, target: float, data_dir=None, probes_on: bool = True, on_run=None,
              on_progress=None, poll_seconds: float = 0.25) -> dict:
    """Train one run per (lr, seed), lr outer, one after another, each through `backend.start` as `train`
    does (thread: a Runner in this process with one torch thread; ray: an actor); return the sweep document.

    The dataset is loaded by the first run and handed to the rest. A failed run ends the sweep (the
    document's `failure` holds its entry, with the record's error); Ctrl-C stops the run in progress and
    ends the sweep with complete = false. While a run trains, `on_progress(index, total, lr, seed,
    runner)` is called every `poll_seconds`; as it ends, `on_run(index, total, entry)`."""
    arms = config.twins
    plan = [(lr, seed) for lr in lrs for seed in seeds]
    runs, dataset, first, complete, failure = [], None, None, True, None
    started = time.perf_counter()
    for index, (lr, seed) in enumerate(plan):
        t0 = time.perf_counter()
        tick = partial(on_progress, index, len(plan), lr, seed) if on_progress else None  # tick(runner)
        # a Ctrl-C shows as the record's status "stopped"; a Ray run keeps its own dataset
        record, dataset, _ = train_one(backend, config.replace(lr=lr, seed=seed), dataset=dataset,
                                       data_dir=data_dir, probes_on=probes_on, tick=tick, poll_seconds=poll_seconds)
        entry = run_entry(record, lr, seed, target, time.perf_counter() - t0)
        if on_run:
            on_run(index, len(plan), entry)
        if record["status"] in ("failed", "stopped"):
            complete, failure = False, entry if record["status"] == "failed" else None
            break
        first = first or record
        runs.append(entry)
    return document(config, lrs, seeds, arms, target, runs, first, time.perf_counter() - started,
                    complete=complete, failure=failure)


def document(config, lrs, seeds, arms, target, runs, first_record, seconds, *, complete=True, failure=None) -> dict:
    """The sweep file's content (see the module's docstring). `failure`, the entry of the run that
    failed, is kept out of the file: the reader reports it."""
    first_record = first_record or {}
    doc = {
        "format": FORMAT, "version": SWEEP_VERSION, "complete": complete, "target": target, "metric": METRIC,
        "lrs": list(lrs), "seeds": list(seeds), "arms": list(arms),
        "config": config.replace(lr=lrs[0], seed=seeds[0]).to_dict(),
        "dataset": first_record.get("dataset"), "device": first_record.get("device"),
        "versions": first_record.get("versions") or rec.library_versions(), "seconds": seconds,
        "runs": runs, "summary": summarize(runs, arms, target, lrs),
    }
    if failure is not None:
        doc["failure"] = failure
    return doc


# -- files ---------------------------------------------------------------------------------------------


def dumps(doc: dict, indent: int | None = None) -> str:
    return rec.dumps({k: v for k, v in doc.items() if k != "failure"}, indent=indent)


def loads(text: str | bytes) -> dict:
    """Parse and check a sweep file; its summary is recomputed from its runs. Raises SweepError."""
    doc = rec.read_json(text, SweepError)
    check(doc)
    doc["summary"] = summarize(doc["runs"], doc["arms"], doc["target"], doc["lrs"])
    return doc


def check(doc) -> None:
    """What every reader relies on. Raises SweepError."""
    rec.check_header(doc, FORMAT, SWEEP_VERSION, {"lrs": list, "seeds": list, "arms": list, "runs": list,
                                                  "target": (int, float)}, SweepError, not_this="not_a_sweep")
    for i, run in enumerate(doc["runs"]):
        if not (isinstance(run, dict) and isinstance(run.get("lr"), (int, float)) and isinstance(run.get("arms"), dict)):
            raise SweepError("bad_field", field=f"runs.{i}")
        for name, arm in run["arms"].items():
            if not (isinstance(arm, dict) and arm.get("outcome") in OUTCOMES and "steps_to_target" in arm
                    and "final_test_acc" in arm and "outcome_step" in arm):
                raise SweepError("bad_field", field=f"runs.{i}.arms.{name}")


def to_csv(doc: dict) -> str:
    """One row per (lr, seed, arm), readable by `pandas.read_csv(path)` as is; empty cells for none."""
    return rec.csv_text(CSV_COLUMNS, (
        [repr(float(run["lr"])), run["seed"], name, arm["outcome"], rec.csv_cell(arm["outcome_step"]),
         rec.csv_cell(arm["steps_to_target"]), repr(float(doc["target"])), rec.csv_cell(arm["final_test_acc"]),
         rec.csv_cell(arm["final_eval_step"]), rec.csv_cell(arm["best_test_acc"]), rec.csv_cell(run["total_steps"])]
        for run in doc["runs"] for name, arm in run["arms"].items()))


