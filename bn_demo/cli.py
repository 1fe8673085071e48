"""Command line: the same engine, headless.

    python -m bn_demo train --preset tutorial --dataset digits --out run.json
    python -m bn_demo presets
    python -m bn_demo reproduce fig1 --steps 2000 --dataset digits --out /tmp/fig1
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys

import numpy as np

from .config import (
    ACTIVATIONS,
    BN_PLACEMENTS,
    DATASETS,
    DEVICES,
    INITS,
    MODELS,
    OPTIMIZERS,
    PRESETS,
    ConfigError,
    RunConfig,
    parse_hidden,
)
from .data import DataUnavailable
from .runner import Runner

TWIN_LABELS = {"bn": "BN", "plain": "plain"}


def versions() -> dict:
    import torch
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field; defaults stay None so only what the user typed overrides the preset."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tutorial")
    parser.add_argument("--dataset", choices=DATASETS)
    parser.add_argument("--data-dir", help="where datasets are downloaded/read (else $BN_DEMO_DATA_DIR, else ./data)")
    parser.add_argument("--model", choices=MODELS, help="both = lockstep BN and plain twins")
    parser.add_argument("--hidden", type=_hidden, help="hidden widths, e.g. 32,32")
    parser.add_argument("--activation", choices=ACTIVATIONS)
    parser.add_argument("--bn-placement", choices=BN_PLACEMENTS)
    parser.add_argument("--bn-momentum", type=float)
    parser.add_argument("--bn-eps", type=float)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--steps", type=int, help="train exactly this many steps (overrides --epochs)")
    parser.add_argument("--init", choices=INITS)
    parser.add_argument("--init-std", type=float, help="σ of the Gaussian init")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", choices=DEVICES)
    parser.add_argument("--probe-every", type=int, help="steps between probes (0 = automatic)")
    parser.add_argument("--probe-size", type=int)
    parser.add_argument("--ics-every", type=int)
    parser.add_argument("--eval-every", type=int)
    parser.add_argument("--pace", type=float, help="at most this many steps per second (0 = full speed)")
    parser.add_argument("--no-probes", action="store_true", help="train without any observation")


def _hidden(text):
    try:
        return parse_hidden(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


CONFIG_FLAGS = ("dataset", "model", "hidden", "activation", "bn_placement", "bn_momentum", "bn_eps", "optimizer",
                "lr", "weight_decay", "batch_size", "epochs", "steps", "init", "init_std", "seed", "device",
                "probe_every", "probe_size", "ics_every", "eval_every", "pace")


def config_from_args(args) -> RunConfig:
    overrides = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    if overrides.get("steps") and "epochs" not in overrides:
        overrides["epochs"] = 0
    return PRESETS[args.preset].config(**overrides).validate()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bn_demo", description="BatchNorm Lab, headless.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train (lockstep BN/plain twins by default) and report")
    add_config_flags(train)
    train.add_argument("--out", help="write the full result as JSON")
    train.add_argument("--csv", help="write per-step metrics as CSV")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("presets", help="list the presets")
    from . import reproduce

    reproduce.add_arguments(sub.add_parser("reproduce", help="reproduce a paper figure (fig1, santurkar)"))
    args = parser.parse_args(argv)
    if args.command == "presets":
        return cmd_presets()
    if args.command == "reproduce":
        return reproduce.run_cli(args)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return cmd_train(config, args)


def cmd_presets() -> int:
    width = max(len(n) for n in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  {preset.summary}")
    return 0


def cmd_train(config: RunConfig, args) -> int:
    runner = Runner(config, data_dir=args.data_dir, probes_on=not args.no_probes).start()
    try:
        while runner.alive:
            runner.join(0.25)
            if not args.quiet:
                _progress_bar(runner)
    except KeyboardInterrupt:
        runner.stop()
        runner.join()
    if not args.quiet:
        print(file=sys.stderr)
    snap = runner.snapshot()
    if runner.status == "failed":
        print(f"error: {runner.message}", file=sys.stderr)
        if isinstance(runner.message, str) and DataUnavailable.__name__ in runner.message:
            print(f"hint: --dataset {DataUnavailable.fallback} works offline", file=sys.stderr)
        return 1
    result = result_document(snap)
    print(summary_table(result, snap))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, default=_json_default)
    if args.csv:
        write_csv(args.csv, snap)
    return 0 if runner.status in ("finished", "diverged") else 1


def _progress_bar(runner: Runner) -> None:
    p = runner.progress()
    total = p["total_steps"] or 0
    frac = p["fraction"]
    bar = "#" * int(30 * frac)
    eta = f"{p['eta_seconds']:.0f}s" if p["eta_seconds"] is not None else "?"
    sys.stderr.write(f"\r[{bar:<30}] step {p['step']:,}/{total:,}  {p['samples_per_second']:,.0f} samples/s  "
                     f"ETA {eta}  {runner.status}   ")
    sys.stderr.flush()


def result_document(snap: dict) -> dict:
    """The JSON a run writes: config, versions, device, per-twin status, finals, history, timing."""
    progress = snap["progress"]
    trained = snap["step"] * snap["config"]["batch_size"]
    runs = {}
    for name, twin in snap["twins"].items():
        runs[name] = {
            "status": twin["status"],
            "diverged_at_step": twin["diverged_at_step"],
            "reason": twin["reason"] or None,
            "final": {k: twin["final"][k] for k in ("train_loss", "test_loss", "test_acc")}
            | ({"test_acc_batch_stats": twin["final"]["test_acc_batch_stats"]} if name == "bn" else {}),
            "history": {
                "train": {k: v for k, v in twin["train"].items()},
                "eval": {k: v for k, v in twin["eval"].items() if name == "bn" or k != "acc_batch_stats"},
                "ics": twin["ics"],
            },
        }
    return {
        "config": snap["config"],
        "versions": versions(),
        "device": snap["device"],
        "dataset": snap["dataset"],
        "status": snap["status"],
        "message": snap["message"],
        "steps": snap["step"],
        "modes": snap.get("modes"),
        "runs": runs,
        "timing": {
            "train_seconds": progress["train_seconds"],
            "samples_per_second": trained / progress["train_seconds"] if progress["train_seconds"] else None,
        },
    }


def summary_table(result: dict, snap: dict) -> str:
    ds = result["dataset"] or {}
    lines = [
        f"dataset: train = {ds.get('train_split')}, held-out = {ds.get('test_split')}",
        *( [f"note: {ds['note']}"] if ds.get("note") else [] ),
        f"device: {result['device']}   steps: {result['steps']:,}   "
        f"train time: {result['timing']['train_seconds']:.1f}s   "
        f"samples/s: {result['timing']['samples_per_second'] or 0:,.0f}",
        "",
        f"{'model':<7}{'status':<10}{'train loss':>11}{'test loss':>11}{'test acc':>10}  note",
    ]
    for name, run in result["runs"].items():
        f = run["final"]
        note = f"diverged at step {run['diverged_at_step']:,}: {run['reason']}" if run["diverged_at_step"] else ""
        lines.append(f"{TWIN_LABELS[name]:<7}{run['status']:<10}{_fmt(f['train_loss']):>11}"
                     f"{_fmt(f['test_loss']):>11}{_fmt(f['test_acc'], pct=True):>10}  {note}")
    lines.append("train loss: mean batch loss of the last steps (train mode); "
                 "test: held-out split, eval mode (running BN statistics)")
    return "\n".join(lines)


def _fmt(value, pct=False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.2f}%" if pct else f"{value:.4f}"


def write_csv(path: str, snap: dict) -> None:
    """Long format: one row per (model, series, step)."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["model", "series", "mode", "step", "loss", "accuracy"])
        for name, twin in snap["twins"].items():
            for i, step in enumerate(twin["train"]["step"]):
                out.writerow([name, "train_batch", "train", int(step), twin["train"]["loss"][i], twin["train"]["acc"][i]])
            for i, step in enumerate(twin["eval"]["step"]):
                out.writerow([name, "held_out", "eval", int(step), twin["eval"]["loss"][i], twin["eval"]["acc"][i]])


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return [_json_default(v) if isinstance(v, (np.floating, float)) else v for v in obj.tolist()]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
