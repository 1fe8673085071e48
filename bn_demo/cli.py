"""Command line: the same engine, headless.

    python -m bn_demo train --preset tutorial --dataset digits --out run.json --csv run.csv
    python -m bn_demo show run.json
    python -m bn_demo presets
    python -m bn_demo reproduce fig1 --steps 2000 --dataset digits --out /tmp/fig1
    python -m bn_demo sweep --dataset digits --lrs 0.0001:10:6 --out sweep.json --csv sweep.csv
    python -m bn_demo train --preset high-lr --epochs 3 --seeds 1-3 --out seeds.json   # mean ± sd (seeds.py)

Everything the CLI reports comes from the run record (bn_demo/record.py): the summary table, `--out`
(the record itself) and `--csv` (record.to_csv). Every sentence it prints is in bn_demo/ui/strings.py,
in English. The torch side (runner, engine, data, reproduce) is imported inside the commands that
train, so `--help`, `presets` and `show` start without torch.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import tempfile

from .backends import BACKENDS, BackendUnavailable
from .config import CLI_FLAGS, PRESETS, ConfigError, RunConfig, parse_hidden, shorten
from .ui import strings

LANG = "en"  # the CLI speaks English; the words are the page's (bn_demo/ui/strings.py)
LONG_WORD = re.compile(r"'[^']*'|\"[^\"]*\"|\S+")  # a quoted value or a bare word in an argparse message
MESSAGE_CHARS = 300
PROGRESS_SECONDS = 0.25  # the progress bar's refresh: it reads progress() and status, never a whole record


def t(key: str, **values) -> str:
    return strings.t(key, LANG, **values)


class Parser(argparse.ArgumentParser):
    """argparse echoes the offending value whole ("invalid choice: '<100 KB>'"): cut each value, and
    the message, so an error stays a short line."""

    def error(self, message):
        message = LONG_WORD.sub(lambda m: shorten(m.group(0)), message)
        super().error(shorten(message, MESSAGE_CHARS))


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field (config.CLI_FLAGS); defaults stay None so only what the user typed
    overrides the preset."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tutorial")
    parser.add_argument("--data-dir", help=t("cli_help_data_dir"))
    for flag in CLI_FLAGS:
        help_key = f"cli_help_{flag.name}"
        parser.add_argument(flag.flag, type=_hidden if flag.type is parse_hidden else flag.type, choices=flag.choices,
                            help=t(help_key) if help_key in strings.EN else None)
    parser.add_argument("--no-probes", action="store_true", help=t("cli_help_no_probes"))


def _hidden(text):
    try:
        return parse_hidden(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


CONFIG_FLAGS = tuple(flag.name for flag in CLI_FLAGS)


def config_from_args(args) -> RunConfig:
    """The run's configuration, checked as far as it can be before training (the batch against the
    training split on disk included)."""
    overrides = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    if overrides.get("arms") and overrides.get("model", "arms") != "arms":  # --arms picks the networks alone
        raise ConfigError("model", overrides["model"], "arms_model", conflict="arms")
    if overrides.get("steps") and "epochs" not in overrides:
        overrides["epochs"] = 0
    return PRESETS[args.preset].config(**overrides).validate().check_training_split(args.data_dir)


def build_parser(with_reproduce: bool = False) -> Parser:
    """The whole command line. `reproduce` brings torch with it, so its own flags are only added when
    that command is run: `--help` and `presets` stay light."""
    parser = Parser(prog="python -m bn_demo", description=t("cli_description"))
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help=t("cli_help_train"))
    add_config_flags(train)
    train.add_argument("--out", help=t("cli_help_out"))
    train.add_argument("--csv", help=t("cli_help_csv"))
    train.add_argument("--quiet", action="store_true", help=t("cli_help_quiet"))
    train.add_argument("--backend", choices=BACKENDS, default=None, help=t("cli_help_backend"))
    train.add_argument("--seeds", type=_spec("parse_seeds"), help=t("cli_seeds_help"))  # bn_demo/seeds.py
    show = sub.add_parser("show", help=t("cli_help_show"))
    show.add_argument("record", help=t("cli_help_record"))
    sub.add_parser("presets", help=t("cli_help_presets"))
    add_sweep_parser(sub)
    reproduce = sub.add_parser("reproduce", help=t("cli_help_reproduce"))
    if with_reproduce:
        from . import reproduce as reproduce_module

        reproduce_module.add_arguments(reproduce)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(with_reproduce=command == "reproduce").parse_args(argv)
    if args.command == "presets":
        return cmd_presets()
    if args.command == "show":
        return cmd_show(args.record)
    if args.command == "reproduce":
        from . import reproduce

        return reproduce.run_cli(args)
    if args.command == "sweep":
        return cmd_sweep(args)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(t("cli_error", message=config_problem(exc)), file=sys.stderr)
        return 2
    for flag, path in (("--out", args.out), ("--csv", args.csv)):
        problem = path and unwritable(path)
        if problem:  # found now, not after a long run
            print(t("cli_unwritable", flag=flag, path=shorten(path), why=problem), file=sys.stderr)
            return 2
    return cmd_train(config, args)


def config_problem(error) -> str:
    """One short line for an invalid setting (a ConfigError or a record's invalid_config error), in the
    page's words; the error's own line should the phrasing ever fail, so the error is never hidden."""
    try:
        return shorten(strings.config_problem(error, LANG), MESSAGE_CHARS)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return shorten(str(error), MESSAGE_CHARS)


def unwritable(path: str) -> str | None:
    """Why `path` cannot be written, or None. Opens it for appending (nothing is truncated) and removes
    a file this check created, so a run that then fails leaves nothing behind."""
    if os.path.isdir(path):
        return t("cli_is_directory")
    existed = os.path.lexists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if not existed:
        os.remove(path)
    return None


def cmd_presets() -> int:
    width = max(len(n) for n in PRESETS)
    for name in PRESETS:
        print(f"{name:<{width}}  {strings.preset_summary(name, LANG)}")
    return 0


def cmd_show(path: str) -> int:
    """The summary table of a saved record, exactly as `train` printed it."""
    from . import record as rec

    try:
        with open(path, "rb") as f:
            text = f.read(rec.MAX_RECORD_BYTES + 1)
    except OSError as exc:
        print(t("cli_unreadable", path=shorten(path), why=exc.strerror or type(exc).__name__), file=sys.stderr)
        return 2
    try:
        record = rec.loads(text)
    except rec.RecordError as exc:
        if exc.code == "not_a_record" and b"bn-lab-seeds" in text:
            from .seeds import show_file

            return show_file(path, text)
        if exc.code == "not_a_record" and b"bn-lab-sweep" in text:
            return show_sweep(path, text)
        why = t(f"cli_record_{exc.code}", detail=shorten(exc.detail, 40), version=rec.RECORD_VERSION,
                limit=rec.MAX_RECORD_BYTES // (1024 * 1024))
        print(t("cli_bad_record", path=shorten(path), why=why), file=sys.stderr)
        return 2
    try:
        table = summary_table(record)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # passes the check, lacks a detail
        why = t("cli_record_bad_field", detail=shorten(str(exc), 40))
        print(t("cli_bad_record", path=shorten(path), why=why), file=sys.stderr)
        return 2
    print(table)
    return 0


def open_backend(args):
    """The backend `--backend` names (thread by default), or None after one line saying why it cannot be used."""
    from .backends import get_backend

    try:
        return get_backend(getattr(args, "backend", None) or "thread")
    except BackendUnavailable as exc:
        facts = {k: shorten(str(v)) for k, v in exc.facts.items()}
        print(t("cli_error", message=t(f"backend_{exc.code}", **facts)), file=sys.stderr)
        return None


def cmd_train(config: RunConfig, args) -> int:
    backend = open_backend(args)
    if backend is None:
        return 1
    try:
        if getattr(args, "seeds", None):
            from .seeds import train_seeds

            return train_seeds(backend, config, args)
        return train_on(backend, config, args)
    finally:
        backend.shutdown()


def train_on(backend, config: RunConfig, args) -> int:
    from . import record as rec

    # bn_demo.data logs the data folder for a server's operator; here it is printed with the error.
    logging.getLogger("bn_demo.data").setLevel(logging.ERROR)
    runner = backend.start(config, data_dir=args.data_dir, probes_on=not args.no_probes)
    try:
        while runner.alive:
            runner.join(PROGRESS_SECONDS)
            if not args.quiet:
                _progress_bar(runner.progress(), runner.status)
    except KeyboardInterrupt:
        runner.stop()
        runner.join()
        if not args.quiet:
            _progress_bar(runner.progress(), runner.status)
    if not args.quiet:
        print(file=sys.stderr)
    record = runner.record()
    if record["status"] == "failed":
        return report_failure(record, args.data_dir)
    if not record.get("versions"):
        record["versions"] = rec.library_versions()
    print(summary_table(record))
    saved = save_outputs(args, record, rec)
    return 0 if saved and record["status"] in ("finished", "diverged") else 1


def report_failure(record: dict, data_dir) -> int:
    """A failed run's one line from its error code, plus, for missing data, where and what else."""
    error = record.get("error") or {}
    code = error.get("code")
    if code == "data_unavailable":
        from .data import DataUnavailable, raw_folder, resolve_data_dir

        print(t("cli_error", message=strings.data_problem(error, LANG)), file=sys.stderr)
        # The page's sentence names no server path; here the user runs the server, so name the folder.
        folder = raw_folder(error["dataset"], resolve_data_dir(data_dir)).resolve()
        print(t("cli_data_folder", folder=folder), file=sys.stderr)
        print(t("cli_offline_hint", dataset=DataUnavailable.fallback), file=sys.stderr)
        return 1
    print(t("cli_error", message=strings.run_error(error, LANG)), file=sys.stderr)
    return 2 if code == "invalid_config" else 1


def save_outputs(args, document: dict, writer) -> bool:
    """Write `document` where --out and --csv ask, as `writer`'s dumps / to_csv give it (record.py for a
    run, sweep.py for a sweep, seeds.py for seeds), each file atomically (record.write_atomic); False if a
    write failed (the file then went to a temporary path)."""
    from . import record as rec

    saved = True
    if args.out:
        saved &= save(args.out, lambda path: rec.write_atomic(path, writer.dumps(document)), ".json")
    if args.csv:
        saved &= save(args.csv, lambda path: rec.write_atomic(path, writer.to_csv(document)), ".csv")
    return saved


def save(path: str, write, suffix: str) -> bool:
    """Write a finished run's file with `write(path)`; if that fails (a full disk, a path that changed
    during the run), keep the result in a temporary file and say where: a run is never lost to its
    output path."""
    try:
        write(path)
        return True
    except OSError as exc:
        fd, kept = tempfile.mkstemp(prefix="bn_demo-", suffix=suffix)
        os.close(fd)
        write(kept)
        print(t("cli_save_failed", path=shorten(path), why=exc.strerror or type(exc).__name__, kept=kept),
              file=sys.stderr)
        return False


def _progress_bar(p: dict, status: str) -> None:
    bar = "#" * int(30 * min(1.0, p["fraction"] or 0.0))
    eta = f"{p['eta_seconds']:.0f}s" if p["eta_seconds"] is not None else "?"
    line = t("cli_progress", step=f"{p['step']:,}", total=f"{p['total_steps'] or 0:,}",
             rate=f"{p['samples_per_second'] or 0:,.0f}", eta=eta, status=t(f"status_{status}"))
    sys.stderr.write(f"\r[{bar:<30}] {line}   ")
    sys.stderr.flush()


# -- the summary table: read off a record --------------------------------------------------------------


def outcome_word(code: str) -> str:
    return t("cli_outcome_collapsed") if code == "collapsed" else t(f"status_{code}")


def twin_notes(name: str, twin: dict, n_layers: int) -> list[str]:
    """What happened to a twin, in order: a collapse (its layers), then a divergence (its reason)."""
    notes = []
    net = strings.net_name(name, LANG)
    if twin.get("collapsed_at_step") is not None:
        notes.append(t("collapsed", net=net, step=strings.number(twin["collapsed_at_step"]),
                       reason=strings.collapse_reason(twin, n_layers, LANG)))
    if twin.get("status") == "diverged" and twin.get("diverged_at_step") is not None:
        notes.append(t("diverged", net=net, step=strings.number(twin["diverged_at_step"]),
                       reason=strings.divergence_reason(twin, LANG)))
    return notes


def dataset_lines(ds: dict | None) -> list[str]:
    """What the splits of a run's dataset really are (and why, when only a test file was there)."""
    if not ds:
        return []
    lines = [t("cli_dataset_line", train=strings.split_label(ds, "train", LANG),
               test=strings.split_label(ds, "test", LANG))]
    note = strings.partial_note(ds, LANG)
    return lines + [t("cli_note", note=note)] if note else lines


def summary_table(record: dict) -> str:
    """The run at a glance: splits, device and speed, then per twin its outcome (a diverged or collapsed
    twin never reads "finished"), the step of that outcome, and its final numbers with the step of the
    evaluation they come from."""
    from .record import mean_samples_per_second, outcome_step, seed_finals, twin_outcome

    lines = dataset_lines(record.get("dataset"))
    p = record["progress"]
    seconds = p.get("train_seconds") or 0.0
    rate = mean_samples_per_second(record)
    lines.append(t("cli_run_line", device=record.get("device") or "—", step=f"{p['step']:,}",
                   total=f"{p['total_steps']:,}" if p.get("total_steps") else "—", seconds=f"{seconds:.1f}",
                   rate=f"{rate:,.0f}", status=t(f"status_{record['status']}")))
    if record.get("error"):
        lines.append(t("cli_error", message=strings.run_error(record["error"], LANG)))
    heads = [t(k) for k in ("cli_col_twin", "cli_col_outcome", "cli_col_at_step", "cli_col_train_loss",
                            "cli_col_test_loss", "cli_col_test_acc", "cli_col_eval_step")]
    rows, notes = [], []
    n_layers = record.get("n_layers") or len(record["config"].get("hidden", ()))
    for name, twin in record["twins"].items():
        code = twin_outcome(twin)
        final = twin["final"]
        at = outcome_step(twin, code)
        rows.append([strings.twin_label(name, LANG), outcome_word(code), _step(at), _fmt(final.get("train_loss")),
                     _fmt(final.get("test_loss")), _fmt(final.get("test_acc"), pct=True), _step(final.get("eval_step"))])
        notes += twin_notes(name, twin, n_layers)
    lines += ["", *_table(heads, rows)]
    config = record["config"]
    if config.get("repeats", 1) > 1:  # the table is the first seed's; the other seeds trained beside it
        from .seeds import stat

        spreads = []
        for name in record["twins"]:
            acc = stat(seed_finals(record, name, "test_acc"))
            spreads.append(f"{strings.twin_label(name, LANG)} {_mean_sd(acc['mean'], acc['sd'], pct=True)} (n={acc['n']})")
        lines.append(t("cli_repeats_line", first=config["seed"], last=config["seed"] + config["repeats"] - 1,
                       spreads=", ".join(spreads)))
    lines += notes
    facts = strings.arms_facts(record, LANG)  # each network's parameters and where weight decay applies
    if facts:
        lines.append(facts)
    lines.append(t("cli_footnote"))
    return "\n".join(lines)


def _step(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def _fmt(value, pct=False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * value:.2f}%" if pct else f"{value:.4f}"


# -- sweep: the twins at each learning rate of a grid (bn_demo/sweep.py computes; this phrases) -----------

SWEEP_LRS = "0.0001:10:6"  # six decades: SGD and Adam on digits each fail at the top, learn slowly at the bottom
SWEEP_TARGET = 0.9
PROGRESS_WIDTH = 79  # a run's line is padded to this width, so it covers the progress line it replaces


def add_sweep_parser(sub) -> None:
    """`sweep`: the training flags of `train` (one per RunConfig field) plus the grid's. Its specs are
    parsed by bn_demo/sweep.py, imported only when a sweep is run."""
    sweep = sub.add_parser("sweep", help=t("cli_help_sweep"))
    add_config_flags(sweep)
    sweep.add_argument("--lrs", type=_spec("parse_lrs"), default=SWEEP_LRS, help=t("cli_help_lrs", default=SWEEP_LRS))
    sweep.add_argument("--seeds", type=_spec("parse_seeds"), help=t("cli_help_seeds"))
    sweep.add_argument("--target", type=_target, default=SWEEP_TARGET, help=t("cli_help_target", default=SWEEP_TARGET))
    sweep.add_argument("--out", help=t("cli_help_sweep_out"))
    sweep.add_argument("--csv", help=t("cli_help_sweep_csv"))
    sweep.add_argument("--quiet", action="store_true", help=t("cli_help_quiet"))
    sweep.add_argument("--backend", choices=BACKENDS, default=None, help=t("cli_help_backend"))


def _spec(name):
    def parse(text):
        from . import sweep

        try:
            return getattr(sweep, name)(text)
        except sweep.SweepError as exc:
            facts = {k: ", ".join(v) if isinstance(v, tuple) else shorten(v) for k, v in exc.facts.items()}
            raise argparse.ArgumentTypeError(t(f"cli_sweep_{exc.code}", **facts)) from None
    parse.__name__ = name  # argparse names the type in its message
    return parse


def _target(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(t("cli_sweep_target", value=shorten(text)))
    return value


def sweep_config(args) -> tuple[RunConfig, tuple, tuple]:
    """The sweep's base configuration, rates and seeds, every run's configuration checked before any
    trains. The sweep reads no ICS: unless --ics-every is given, none is measured (it costs time)."""
    from .config import MAX_STEPS

    for flag, other, clash in (("--lr", "--lrs", args.lr is not None), ("--seed", "--seeds", args.seed is not None
                                                                        and args.seeds is not None),
                               ("--model", "--arms", args.model is not None and args.arms is not None)):
        if clash:
            raise SweepConflict(flag, other)
    if args.ics_every is None:
        args.ics_every = MAX_STEPS
    config = config_from_args(args)
    seeds = args.seeds or (config.seed,)
    for lr in args.lrs:
        for seed in seeds:
            config.replace(lr=lr, seed=seed).validate()
    return config, args.lrs, seeds


class SweepConflict(Exception):
    def __init__(self, flag: str, other: str):
        self.flag, self.other = flag, other


def cmd_sweep(args) -> int:
    from . import sweep

    try:
        config, lrs, seeds = sweep_config(args)
    except ConfigError as exc:
        print(t("cli_error", message=config_problem(exc)), file=sys.stderr)
        return 2
    except SweepConflict as exc:
        print(t("cli_error", message=t("cli_sweep_conflict", flag=exc.flag, other=exc.other)), file=sys.stderr)
        return 2
    for flag, path in (("--out", args.out), ("--csv", args.csv)):
        problem = path and unwritable(path)
        if problem:
            print(t("cli_unwritable", flag=flag, path=shorten(path), why=problem), file=sys.stderr)
            return 2
    logging.getLogger("bn_demo.data").setLevel(logging.ERROR)

    def on_progress(index, total, lr, seed, runner):
        p = runner.progress()
        line = t("cli_sweep_progress", index=index + 1, total=total, lr=_lr(lr), seed=seed, step=f"{p['step']:,}",
                 steps=_step(p["total_steps"] or None))
        sys.stderr.write(f"\r{line:<{PROGRESS_WIDTH}}")
        sys.stderr.flush()

    def on_run(index, total, entry):
        outcomes = ", ".join(_arm_outcome(name, arm) for name, arm in entry["arms"].items())
        line = t("cli_sweep_run", index=index + 1, total=total, lr=_lr(entry["lr"]), seed=entry["seed"],
                 outcomes=outcomes or t(f"status_{entry['status']}"), seconds=f"{entry['seconds']:.1f}")
        sys.stderr.write(f"\r{line:<{PROGRESS_WIDTH}}\n")
        sys.stderr.flush()

    quiet = args.quiet
    backend = open_backend(args)
    if backend is None:
        return 1
    try:
        doc = sweep.run_sweep(backend, config, lrs, seeds, target=args.target, data_dir=args.data_dir,
                              probes_on=not args.no_probes, on_run=None if quiet else on_run,
                              on_progress=None if quiet else on_progress)
    finally:
        backend.shutdown()
    if doc.get("failure") is not None:
        code = report_failure(doc["failure"], args.data_dir)
        if not doc["runs"]:
            return code
    print(sweep_table(doc))
    saved = save_outputs(args, doc, sweep)
    return 0 if saved and doc["complete"] else 1


def show_sweep(path: str, text: bytes) -> int:
    from . import sweep

    try:
        doc = sweep.loads(text)
    except sweep.SweepError as exc:
        key = {"wrong_version": "cli_record_wrong_version", "not_json": "cli_record_not_json"}.get(
            exc.code, "cli_record_bad_field")
        why = t(key, detail=shorten(exc.facts.get("version") or exc.facts.get("field") or "", 40),
                version=sweep.SWEEP_VERSION)
        print(t("cli_bad_record", path=shorten(path), why=why), file=sys.stderr)
        return 2
    print(sweep_table(doc))
    return 0


def _lr(value) -> str:
    return "—" if value is None else f"{value:g}"


def _arm_outcome(name: str, arm: dict) -> str:
    word = outcome_word(arm["outcome"])
    if arm["outcome_step"] is None:
        return t("cli_sweep_arm_outcome", twin=strings.twin_label(name, LANG), outcome=word)
    return t("cli_sweep_arm_outcome_at", twin=strings.twin_label(name, LANG), outcome=word,
             step=strings.number(arm["outcome_step"]))


def _table(heads: list[str], rows: list[list[str]], left: int = 2) -> list[str]:
    """Columns padded to their widest cell: the first `left` left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    return ["  ".join(f"{c:<{w}}" if i < left else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in [heads, *rows]]


def sweep_table(doc: dict) -> str:
    """The sweep at a glance: per rate and arm its outcome and steps to the target (over seeds: mean ± sd
    and how many reached it); then the highest rate each arm tolerates; then the arms at the same rate."""
    summary, target = doc["summary"], doc["target"]
    pct = f"{100 * target:g}%"
    many = len(doc["seeds"]) > 1
    lines = dataset_lines(doc.get("dataset"))
    runs = doc["runs"]
    steps = runs[0]["total_steps"] if runs else None
    lines.append(t("cli_sweep_line", device=doc.get("device") or "—", runs=len(runs), lrs=len(doc["lrs"]),
                   seeds=len(doc["seeds"]), steps=_step(steps), seconds=f"{doc['seconds']:.1f}"))
    if not doc["complete"]:
        lines.append(t("cli_sweep_incomplete", done=len(runs), total=len(doc["lrs"]) * len(doc["seeds"])))
    heads = [t("cli_col_lr"), t("cli_col_twin"), t("cli_col_outcome"), t("cli_col_at_step"),
             t("cli_sweep_col_steps", target=pct), *([t("cli_sweep_col_reached")] if many else []),
             t("cli_sweep_col_final_acc")]
    rows = []
    for c in summary["cells"]:
        if not c["runs"]:
            continue
        rows.append([_lr(c["lr"]), strings.twin_label(c["arm"], LANG), _cell_outcome(c), _step(c["first_failure_step"]),
                     _mean_sd(c["steps_to_target_mean"], c["steps_to_target_sd"]),
                     *([f"{c['reached']}/{c['runs']}"] if many else []),
                     _mean_sd(c["final_test_acc_mean"], c["final_test_acc_sd"], pct=True)])
    lines += ["", *_table(heads, rows, left=3)]
    lines += ["", t("cli_sweep_tolerance", low=_lr(min(doc["lrs"])), high=_lr(max(doc["lrs"])))]
    heads = [t("cli_col_twin"), t("cli_sweep_col_highest_target", target=pct), t("cli_sweep_col_highest_trained"),
             t("cli_sweep_col_fastest", target=pct)]
    rows = []
    for arm, tol in summary["tolerance"].items():
        fastest = "—" if tol["fastest_lr"] is None else t(
            "cli_sweep_fastest", lr=_lr(tol["fastest_lr"]), steps=_step(round(tol["fastest_steps"])))
        rows.append([strings.twin_label(arm, LANG),
                     _highest(tol["highest_lr_reaching_target"], tol["reaching_at_grid_top"]),
                     _highest(tol["highest_lr_without_failure"], tol["without_failure_at_grid_top"]), fastest])
    lines += _table(heads, rows, left=1)
    reference = summary["reference"]
    for arm, tol in summary["tolerance"].items():
        if reference and arm != reference:
            lines.append(t("cli_sweep_ratio", twin=strings.twin_label(arm, LANG),
                           reference=strings.twin_label(reference, LANG), target=pct,
                           reaching=_ratio(tol["lr_ratio_reaching_target"]),
                           trained=_ratio(tol["lr_ratio_without_failure"])))
    if reference:
        lines += ["", t("cli_sweep_same_rate", target=pct)]
        ref = strings.twin_label(reference, LANG)
        heads = [t("cli_col_lr"), t("cli_col_twin"), t("cli_sweep_col_steps", target=pct),
                 t("cli_sweep_col_ref_steps", reference=ref), t("cli_sweep_col_saved"), t("cli_sweep_col_final_acc"),
                 t("cli_sweep_col_ref_acc", reference=ref), t("cli_sweep_col_gain")]
        rows = [[_lr(s["lr"]), strings.twin_label(s["arm"], LANG), _mean_sd(s["steps"], None),
                 _mean_sd(s["reference_steps"], None),
                 t("cli_sweep_saved", steps=f"{s['steps_saved']:+,.0f}", speedup=_ratio(s["speedup"])),
                 _fmt(s["final_test_acc"], pct=True), _fmt(s["reference_final_test_acc"], pct=True),
                 t("points", value=f"{100 * s['acc_gain']:+.2f}") if s["acc_gain"] is not None else "—"]
                for s in summary["same_rate"]]
        lines += _table(heads, rows) if rows else [t("cli_sweep_same_rate_none", target=pct)]
    eval_every = runs[0]["cadence"]["eval_every"] if runs and runs[0].get("cadence") else None
    lines += ["", t("cli_sweep_footnote", target=pct, eval_every=_step(eval_every))]
    return "\n".join(lines)


def _cell_outcome(c: dict) -> str:
    """The outcome shared by every seed, else each outcome that happened with its count."""
    counts = {code: n for code, n in c["outcomes"].items() if n}
    if len(counts) == 1:
        return outcome_word(next(iter(counts)))
    return ", ".join(t("cli_sweep_outcome_count", outcome=outcome_word(code), count=n, runs=c["runs"])
                     for code, n in counts.items())


def _mean_sd(mean, sd, pct=False) -> str:
    if mean is None:
        return "—"
    if sd is None:
        return _fmt(mean, pct=True) if pct else f"{mean:,.0f}"
    return f"{100 * mean:.2f} ± {100 * sd:.2f}%" if pct else f"{mean:,.0f} ± {sd:,.0f}"


def _highest(lr, at_top: bool) -> str:
    if lr is None:
        return "—"
    return f"≥ {_lr(lr)}" if at_top else _lr(lr)


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3g}×"


if __name__ == "__main__":
    raise SystemExit(main())
