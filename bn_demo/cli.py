"""Command line: the same engine, headless.

    python -m bn_demo train --preset tutorial --dataset digits --out run.json --csv run.csv
    python -m bn_demo show run.json
    python -m bn_demo presets
    python -m bn_demo reproduce fig1 --steps 2000 --dataset digits --out /tmp/fig1

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
    show = sub.add_parser("show", help=t("cli_help_show"))
    show.add_argument("record", help=t("cli_help_record"))
    sub.add_parser("presets", help=t("cli_help_presets"))
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


def cmd_train(config: RunConfig, args) -> int:
    from .backends import get_backend

    try:
        backend = get_backend(getattr(args, "backend", None) or "thread")
    except BackendUnavailable as exc:
        facts = {k: shorten(str(v)) for k, v in exc.facts.items()}
        print(t("cli_error", message=t(f"backend_{exc.code}", **facts)), file=sys.stderr)
        return 1
    try:
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
    saved = True
    if args.out:
        saved &= save(args.out, lambda path: rec.write_json(path, record), ".json")
    if args.csv:
        saved &= save(args.csv, lambda path: rec.write_csv(path, record), ".csv")
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


def outcome_step(twin: dict, code: str):
    if code == "diverged":
        return twin.get("diverged_at_step")
    if code == "collapsed":
        return twin.get("collapsed_at_step")
    return None


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


def summary_table(record: dict) -> str:
    """The run at a glance: splits, device and speed, then per twin its outcome (a diverged or collapsed
    twin never reads "finished"), the step of that outcome, and its final numbers with the step of the
    evaluation they come from."""
    from .record import mean_samples_per_second, twin_outcome

    lines = []
    ds = record.get("dataset")
    if ds:
        lines.append(t("cli_dataset_line", train=strings.split_label(ds, "train", LANG),
                       test=strings.split_label(ds, "test", LANG)))
        note = strings.partial_note(ds, LANG)
        if note:
            lines.append(t("cli_note", note=note))
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
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    lines.append("")
    for row in [heads, *rows]:
        cells = [f"{row[0]:<{widths[0]}}", f"{row[1]:<{widths[1]}}", *(f"{c:>{w}}" for c, w in zip(row[2:], widths[2:]))]
        lines.append("  ".join(cells).rstrip())
    lines += notes
    lines.append(t("cli_footnote"))
    return "\n".join(lines)


def _step(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def _fmt(value, pct=False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * value:.2f}%" if pct else f"{value:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
