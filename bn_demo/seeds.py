"""Seeds: one configuration trained once per seed, and the spread of its results.

    python -m bn_demo train --preset high-lr --epochs 3 --seeds 1-3 --out seeds.json --csv seeds.csv
    python -m bn_demo show seeds.json

Each seed is one ordinary run of `train` (the backend's run handle, for the default thread backend a
runner.Runner in this process), the seeds one after another; the dataset is loaded by the first run
and handed to the rest. The seeds file keeps numbers read off each run record (bn_demo/record.py) and
drops the record. `summarize` turns them into a mean and a sample standard deviation per twin and
metric: numbers and codes only. The CLI's tables (`seeds_table`) phrase them with the words of
bn_demo/ui/strings.py (keys cli_seeds_*). Nothing here imports torch when the module loads.

Seeds file, format FORMAT ("bn-lab-seeds"), version SEEDS_VERSION (NaN and ±inf written as null)::

    format, version
    complete        false when interrupted (Ctrl-C): `runs` holds the seeds that ended
    config          RunConfig.to_dict() of the first seed's run (only `seed` varies between runs)
    seeds           the seeds asked for, in the order they were run
    twins           twin codes, in the record's order, e.g. ["bn", "plain"]
    dataset, device, versions    as in the first seed's run record
    seconds         wall time of all seeds
    runs            one entry per seed that ended, in order:
        seed, status (the run record's), steps, total_steps, train_seconds, seconds (wall, setup included),
        cadence {probe_every, ics_every, eval_every},
        twins {twin: {outcome (finished | diverged | collapsed | stopped: record.twin_outcome),
               outcome_step (where it diverged or collapsed, else null), diverged_at_step,
               collapsed_at_step, collapsed_layers, final_test_acc, final_test_loss (eval mode, whole
               held-out split, from the evaluation at final_eval_step: for a diverged twin its last one
               before it diverged), final_train_loss (mean batch loss of the last steps, train mode),
               final_eval_step, parameters, eval {step, acc, loss} (the held-out series, eval mode)}}
    summary         summarize(runs): {twin: {"runs": n, "outcomes": {code: count},
                                             metric: {"mean", "sd", "n"} for each of STAT_METRICS}}
                    (recomputed from `runs` when a file is read)

A metric's mean and sd are taken over the seeds where it is a finite number (n of them): a diverged
twin's train loss is usually missing, and diverged_at_step / collapsed_at_step exist only for the seeds
where that happened. sd is the sample standard deviation (n − 1 in the denominator), null for n < 2.
"""

from __future__ import annotations

import math
import sys
import time
from functools import partial

from . import record as rec

FORMAT = "bn-lab-seeds"
SEEDS_VERSION = 1
OUTCOMES = ("finished", "diverged", "collapsed", "stopped")
FAILED = ("diverged", "collapsed")
METRICS = ("final_test_acc", "final_test_loss", "final_train_loss")
STEP_METRICS = ("diverged_at_step", "collapsed_at_step")
STAT_METRICS = (*METRICS, *STEP_METRICS)
CSV_COLUMNS = ("seed", "twin", "outcome", "outcome_step", "final_test_acc", "final_test_loss", "final_train_loss",
               "final_eval_step", "steps", "total_steps")


class SeedsError(ValueError):
    """A file that is not a seeds file this version can read: `code` (not_json | not_seeds | wrong_version |
    bad_field) and its facts, for the reader to phrase."""

    def __init__(self, code: str, **facts):
        self.code, self.facts = code, facts
        super().__init__(f"{code}: {facts}" if facts else code)


# -- reading one run's record ------------------------------------------------------------------------------


def twin_result(twin: dict) -> dict:
    """One twin of one seed's run, as numbers and codes."""
    outcome = rec.twin_outcome(twin)
    final, evals = twin["final"], twin["eval"]
    return {
        "outcome": outcome,
        "outcome_step": rec.outcome_step(twin, outcome),
        "diverged_at_step": twin.get("diverged_at_step"),
        "collapsed_at_step": twin.get("collapsed_at_step"),
        "collapsed_layers": [int(i) for i in (twin.get("collapsed_layers") or [])],
        "final_test_acc": rec.finite_or_none(final.get("test_acc")),
        "final_test_loss": rec.finite_or_none(final.get("test_loss")),
        "final_train_loss": rec.finite_or_none(final.get("train_loss")),
        "final_eval_step": final.get("eval_step"),
        "parameters": twin.get("parameters"),
        "eval": {"step": [int(s) for s in evals["step"]], "acc": [rec.finite_or_none(a) for a in evals["acc"]],
                 "loss": [rec.finite_or_none(v) for v in evals["loss"]]},
    }


def run_entry(record: dict, seed: int, seconds: float) -> dict:
    """The seeds file's entry for one seed, read off its run record."""
    progress = record["progress"]
    return {
        "seed": seed, "status": record["status"], "steps": progress.get("step"),
        "total_steps": progress.get("total_steps"), "train_seconds": progress.get("train_seconds"),
        "seconds": seconds, "cadence": record.get("cadence"),
        "twins": {name: twin_result(twin) for name, twin in record["twins"].items()},
    }


# -- the summary: mean and sd per twin and metric -----------------------------------------------------------


def stat(values) -> dict:
    """{"mean", "sd", "n"} of the finite numbers among `values`; sd is the sample standard deviation
    (n − 1 in the denominator), None for fewer than two; mean None for none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    mean = math.fsum(xs) / n if n else None
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n >= 2 else None
    return {"mean": mean, "sd": sd, "n": n}


def summarize(runs: list[dict], twins=None) -> dict:
    """Per twin over the seeds in `runs`: how many runs, the count of each outcome, and the mean, sd and
    n of each STAT_METRICS number (numbers only)."""
    if twins is None:
        twins = list(dict.fromkeys(name for r in runs for name in r["twins"]))
    summary = {}
    for name in twins:
        results = [r["twins"][name] for r in runs if name in r["twins"]]
        summary[name] = {
            "runs": len(results),
            "outcomes": {code: sum(a["outcome"] == code for a in results) for code in OUTCOMES},
            **{metric: stat(a.get(metric) for a in results) for metric in STAT_METRICS},
        }
    return summary


# -- running it -------------------------------------------------------------------------------------------


def train_one(backend, config, *, dataset=None, data_dir=None, probes_on: bool = True, tick=None,
              poll_seconds: float = 0.25) -> tuple[dict, object, bool]:
    """One run of `config` through `backend.start`, as `train` does, waited for to its end: `tick(run)` is
    called every `poll_seconds` while it trains; Ctrl-C stops it and waits for it to end. The run is
    discarded once its record is read. Returns (its record, the dataset to hand the next run: `dataset`,
    else the one this run loaded (None from a Ray run, whose data stays in its worker), whether Ctrl-C
    stopped it). Used by run_seeds and sweep.run_sweep."""
    extra = {"dataset": dataset} if dataset is not None else {}
    run = backend.start(config, data_dir=data_dir, probes_on=probes_on, **extra)
    interrupted = False
    try:
        while not run.join(poll_seconds):
            if tick:
                tick(run)
    except KeyboardInterrupt:
        interrupted = True
        run.stop()
        run.join()
    record = run.record()
    dataset = dataset if dataset is not None else run.dataset
    run.discard()
    return record, dataset, interrupted


def run_seeds(backend, config, seeds, *, data_dir=None, probes_on: bool = True, on_run=None, on_progress=None,
              poll_seconds: float = 0.25) -> dict:
    """Train `config` once per seed, one after another, each through `backend.start` as `train` does;
    return the seeds document. A failed run ends the loop (the document's `failure` holds its record, kept
    out of the file); Ctrl-C stops the run in progress and ends the loop with complete = false (the stopped
    seed is left out). While a run trains, `on_progress(index, total, seed, run)` is called every
    `poll_seconds`; as it ends, `on_run(index, total, entry)`."""
    runs, dataset, first, complete, failure = [], None, None, True, None
    started = time.perf_counter()
    for index, seed in enumerate(seeds):
        t0 = time.perf_counter()
        tick = partial(on_progress, index, len(seeds), seed) if on_progress else None  # tick(run)
        record, dataset, interrupted = train_one(backend, config.replace(seed=seed), dataset=dataset,
                                                 data_dir=data_dir, probes_on=probes_on, tick=tick,
                                                 poll_seconds=poll_seconds)
        if record["status"] == "failed":
            complete, failure = False, record
            break
        entry = run_entry(record, seed, time.perf_counter() - t0)
        if on_run:
            on_run(index, len(seeds), entry)
        if interrupted or record["status"] == "stopped":
            complete = False
            break
        first = first or record
        runs.append(entry)
    doc = document(config, seeds, runs, first, time.perf_counter() - started, complete=complete)
    if failure is not None:
        doc["failure"] = failure
    return doc


def document(config, seeds, runs, first_record, seconds, *, complete=True) -> dict:
    """The seeds file's content (see the module's docstring)."""
    first_record = first_record or {}
    twins = list(first_record.get("twins") or config.twins)
    return {
        "format": FORMAT, "version": SEEDS_VERSION, "complete": complete,
        "config": config.replace(seed=seeds[0]).to_dict(), "seeds": list(seeds), "twins": twins,
        "dataset": first_record.get("dataset"), "device": first_record.get("device"),
        "versions": first_record.get("versions") or None, "seconds": seconds,
        "runs": runs, "summary": summarize(runs, twins),
    }


# -- files ---------------------------------------------------------------------------------------------


def dumps(doc: dict, indent: int | None = None) -> str:
    return rec.dumps({k: v for k, v in doc.items() if k != "failure"}, indent=indent)


def loads(text: str | bytes) -> dict:
    """Parse and check a seeds file; its summary is recomputed from its runs. Raises SeedsError."""
    doc = rec.read_json(text, SeedsError)
    check(doc)
    doc["summary"] = summarize(doc["runs"], doc["twins"])
    return doc


def check(doc) -> None:
    """What every reader relies on. Raises SeedsError."""
    rec.check_header(doc, FORMAT, SEEDS_VERSION, {"seeds": list, "twins": list, "runs": list, "config": dict},
                     SeedsError, not_this="not_seeds")
    for i, run in enumerate(doc["runs"]):
        if not (isinstance(run, dict) and isinstance(run.get("seed"), int) and isinstance(run.get("twins"), dict)):
            raise SeedsError("bad_field", field=f"runs.{i}")
        for name, twin in run["twins"].items():
            if not (isinstance(twin, dict) and twin.get("outcome") in OUTCOMES
                    and all(k in twin for k in ("outcome_step", *METRICS, *STEP_METRICS))):
                raise SeedsError("bad_field", field=f"runs.{i}.twins.{name}")


def to_csv(doc: dict) -> str:
    """One row per (seed, twin), readable by `pandas.read_csv(path)` as is; empty cells for none."""
    return rec.csv_text(CSV_COLUMNS, (
        [run["seed"], name, twin["outcome"], *(rec.csv_cell(twin[k]) for k in ("outcome_step", *METRICS, "final_eval_step")),
         rec.csv_cell(run["steps"]), rec.csv_cell(run["total_steps"])]
        for run in doc["runs"] for name, twin in run["twins"].items()))




# -- the command line: `train --seeds` and `show` of a seeds file (words from bn_demo/ui/strings.py) --------

PROGRESS_WIDTH = 79  # a seed's line is padded to this width, so it covers the progress line it replaces


def train_seeds(backend, config, args) -> int:
    """`train --seeds`: every seed's configuration checked first, then the seeds trained one after another;
    prints the per-seed table and the mean ± sd table, writes --out / --csv. Exit 0 when every seed ended
    and the files were written, 1 otherwise, 2 for a bad setting."""
    import logging

    from . import cli
    from .config import ConfigError

    t = cli.t
    if args.seed is not None:
        print(t("cli_error", message=t("cli_seeds_conflict", flag="--seed", other="--seeds")), file=sys.stderr)
        return 2
    try:
        for seed in args.seeds:
            config.replace(seed=seed).validate()
    except ConfigError as exc:
        print(t("cli_error", message=cli.config_problem(exc)), file=sys.stderr)
        return 2
    logging.getLogger("bn_demo.data").setLevel(logging.ERROR)

    def on_progress(index, total, seed, run):
        p = run.progress()
        line = t("cli_seeds_progress", index=index + 1, total=total, seed=seed, step=f"{p['step']:,}",
                 steps=cli._step(p["total_steps"] or None))
        sys.stderr.write(f"\r{line:<{PROGRESS_WIDTH}}")
        sys.stderr.flush()

    def on_run(index, total, entry):
        outcomes = ", ".join(_twin_outcome(cli, name, twin) for name, twin in entry["twins"].items())
        line = t("cli_seeds_run", index=index + 1, total=total, seed=entry["seed"],
                 outcomes=outcomes or t(f"status_{entry['status']}"), seconds=f"{entry['seconds']:.1f}")
        sys.stderr.write(f"\r{line:<{PROGRESS_WIDTH}}\n")
        sys.stderr.flush()

    quiet = args.quiet
    doc = run_seeds(backend, config, args.seeds, data_dir=args.data_dir, probes_on=not args.no_probes,
                    on_run=None if quiet else on_run, on_progress=None if quiet else on_progress)
    if doc.get("failure") is not None:
        if not quiet:
            sys.stderr.write(f"\r{'':<{PROGRESS_WIDTH}}\r")
        code = cli.report_failure(doc["failure"], args.data_dir)
        if not doc["runs"]:
            return code
    if not doc["versions"]:
        doc["versions"] = rec.library_versions()
    print(seeds_table(doc))
    saved = cli.save_outputs(args, doc, sys.modules[__name__])
    return 0 if saved and doc["complete"] else 1


def show_file(path: str, text: bytes) -> int:
    """`show` of a seeds file: its tables, exactly as `train --seeds` printed them."""
    from . import cli

    t, shorten = cli.t, cli.shorten
    try:
        doc = loads(text)
    except SeedsError as exc:
        key = {"wrong_version": "cli_record_wrong_version", "not_json": "cli_record_not_json"}.get(
            exc.code, "cli_record_bad_field")
        why = t(key, detail=shorten(exc.facts.get("version") or exc.facts.get("field") or "", 40),
                version=SEEDS_VERSION)
        print(t("cli_bad_record", path=shorten(path), why=why), file=sys.stderr)
        return 2
    print(seeds_table(doc))
    return 0


def _twin_outcome(cli, name: str, twin: dict) -> str:
    from .ui import strings

    word = cli.outcome_word(twin["outcome"])
    if twin["outcome_step"] is None:
        return cli.t("cli_sweep_arm_outcome", twin=strings.twin_label(name, cli.LANG), outcome=word)
    return cli.t("cli_sweep_arm_outcome_at", twin=strings.twin_label(name, cli.LANG), outcome=word,
                 step=strings.number(twin["outcome_step"]))


def _mean_sd(s: dict, runs: int, pct: bool = False, steps: bool = False) -> str:
    """"mean ± sd" (the mean alone for one number, — for none), with "(n=k)" when only k of the runs have it."""
    mean, sd, n = s["mean"], s["sd"], s["n"]
    if mean is None:
        return "—"
    if steps:
        text = f"{mean:,.0f}" if sd is None else f"{mean:,.0f} ± {sd:,.0f}"
    elif pct:
        text = f"{100 * mean:.2f}%" if sd is None else f"{100 * mean:.2f} ± {100 * sd:.2f}%"
    else:
        text = f"{mean:.4f}" if sd is None else f"{mean:.4f} ± {sd:.4f}"
    return text if n >= runs else f"{text} (n={n})"


def _outcome_counts(cli, s: dict) -> str:
    """Each outcome that happened with its count over the seeds, e.g. "finished 2/3, diverged 1/3"."""
    return ", ".join(cli.t("cli_sweep_outcome_count", outcome=cli.outcome_word(code), count=n, runs=s["runs"])
                     for code, n in s["outcomes"].items() if n) or "—"


def seeds_table(doc: dict) -> str:
    """The seeds at a glance: the dataset and run line, one row per seed and twin (as `train` prints a
    run), then per twin the outcome counts and mean ± sd of each final number over the seeds."""
    from . import cli
    from .ui import strings

    t, lang = cli.t, cli.LANG
    lines = cli.dataset_lines(doc.get("dataset"))
    runs = doc["runs"]
    steps = runs[0]["total_steps"] if runs else None
    lines.append(t("cli_seeds_line", device=doc.get("device") or "—", runs=len(runs),
                   seeds=", ".join(str(s) for s in doc["seeds"]), steps=cli._step(steps),
                   seconds=f"{doc['seconds']:.1f}"))
    if not doc["complete"]:
        lines.append(t("cli_seeds_incomplete", done=len(runs), total=len(doc["seeds"])))
    heads = [t("cli_seeds_col_seed"), t("cli_col_twin"), t("cli_col_outcome"), t("cli_col_at_step"),
             t("cli_col_train_loss"), t("cli_col_test_loss"), t("cli_col_test_acc"), t("cli_col_eval_step")]
    rows = [[str(run["seed"]), strings.twin_label(name, lang), cli.outcome_word(tw["outcome"]),
             cli._step(tw["outcome_step"]), cli._fmt(tw["final_train_loss"]), cli._fmt(tw["final_test_loss"]),
             cli._fmt(tw["final_test_acc"], pct=True), cli._step(tw["final_eval_step"])]
            for run in runs for name, tw in run["twins"].items()]
    lines += ["", *cli._table(heads, rows, left=3)]
    lines += ["", t("cli_seeds_over", n=len(runs))]
    heads = [t("cli_col_twin"), t("cli_col_outcome"), t("cli_seeds_col_diverged_at"), t("cli_seeds_col_collapsed_at"),
             t("cli_col_train_loss"), t("cli_col_test_loss"), t("cli_col_test_acc")]
    rows = [[strings.twin_label(name, lang), _outcome_counts(cli, s),
             _mean_sd(s["diverged_at_step"], s["runs"], steps=True), _mean_sd(s["collapsed_at_step"], s["runs"], steps=True),
             _mean_sd(s["final_train_loss"], s["runs"]), _mean_sd(s["final_test_loss"], s["runs"]),
             _mean_sd(s["final_test_acc"], s["runs"], pct=True)]
            for name, s in doc["summary"].items() if s["runs"]]
    lines += cli._table(heads, rows, left=2)
    lines += ["", t("cli_footnote"), t("cli_seeds_footnote")]
    return "\n".join(lines)
