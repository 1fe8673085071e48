"""The run record: the one declared format between the engine and every reader.

The engine and the runner write it; the page, its figures, the CLI, the downloads, `reproduce`,
the benchmarks and replays of saved files only read it. It holds numbers and codes, never a
sentence: every word a person reads is chosen by the reader (the page's are in `ui/strings.py`).

Format, version RECORD_VERSION (a record is a dict; series are numpy arrays in memory and plain
lists in JSON, NaN and ±inf written as null)::

    format          "bn-lab-run"
    version         RECORD_VERSION
    run_id          int: the run's number in the process that trained it
    status          code: queued | running | paused | finished | stopped | diverged | failed
                    (finished: the run reached its last step, even if one twin diverged on the way;
                     diverged: every twin diverged)
    stop_reason     code or null: user | budget | released | idle   (why a `stopped` run stopped)
    error           null or {"code": data_unavailable | invalid_config | exception | worker_lost, and its data:
                             data_unavailable: dataset, problem (data.DataUnavailable.PROBLEMS), detail
                                 (a download error's own words, path-free), file and counts;
                             invalid_config: ConfigError.as_dict() with its rule code under
                                 "rule": field, value, rule, facts, conflict;
                             exception: type (the exception's class; its traceback is in the server log);
                             worker_lost: type (the run's worker process died: bn_demo/backends, Ray)}
    config          RunConfig.to_dict()
    device          "cpu", "cuda:0", … or null before the run has started
    versions        {"python", "torch", "torchvision", …}
    dataset         Dataset.describe(): name, classes, image_shape, n_train, n_test, splits
                    ({"train"|"test": {"file": train|test, "start", "stop"}}: which rows of which
                    file each split is), partial (code or null: why only the test file was used),
                    plus fallback_from (the dataset asked for, when the offline one replaced it)
    progress        step, total_steps, steps_per_epoch, fraction, samples_per_second, eta_seconds,
                    train_seconds, queue_position (1-based, null when not queued), slot_released (a run
                    paused past pause_grace seconds gave its training slot back); while a run is live
                    also lr (the learning rate its next step trains with) and pause_at (the step after
                    which it pauses by itself, or null)
    budget          null, or what the server allows one run: seconds (holding a slot), work (steps ×
                    batch × parameters), step_limit (work in steps), hit: seconds | work | null
    fallback        null, or the data_unavailable error that made this run use the offline dataset
    engine_version  bumped by the engine on every write: equal versions, equal record
    cursor          null before the run's networks exist, else [int]: each experiment's engine version at this
                    record (the first seed's, then the other seeds' in `repeats` order). A reader that keeps
                    this record may ask the run for record(since=cursor): the answer is a delta (below)
    since           null in a whole record; in a delta, the cursor it continues from
    cadence         probe_every, ics_every, eval_every (steps)
    n_layers        hidden layers; layer i (0-based) is "hidden i+1", layer n_layers is the output
    probe           size (examples in the fixed probe batch), percentile_ranks (TensorBoard's nine),
                    paper_ranks (15, 50, 85)
    gallery         labels (int), images (uint8, n × h × w): the held-out split's first examples
    events          [{"step", "kind", …}]: things that happened to the whole run at a step, in order:
                    kind "lr": {"step", "kind": "lr", "lr", "previous"}: every twin trains with learning
                    rate lr from this step on (step is the first step trained with it; previous is the
                    rate before; config.lr stays the rate the run started with)
    twins           {arm: twin}, keyed by arm code (config.ARMS, in that order; config.twins says which):
                    "bn" (BatchNorm), "plain" (none), "layernorm" (nn.LayerNorm in BN's place), "noisy-bn"
                    (BatchNorm plus Santurkar et al.'s time-varying noise after it: model.BatchNoise).
                    Each twin:
        status              code, as the run's but per twin (running | finished | stopped | diverged)
        reason              null | nan | inf | exploded (diverged) | collapsed (a collapse is stated, not
                            enforced: the twin keeps training and its status stays); reason_values
                            {"loss", "limit", "factor"} for exploded
        diverged_at_step    int or null
        collapsed_at_step   int or null; collapsed_layers: layer indices whose ReLUs all output 0
        parameters          trainable parameter count
        parameter_groups    {group: count} per model.PARAMETER_GROUPS code present: linear_weight, linear_bias,
                            norm_weight (γ), norm_bias (β) (absent in records written before it existed)
        weight_decay_on     the groups the optimizer decays with config.weight_decay: every group when it
                            is above 0 (γ and β included), [] at 0 (absent in older records)
        train               step, loss, acc: the training mini-batch, train mode, before the update
        eval                step, epoch, loss, acc (eval mode: BN running statistics, whole held-out
                            split), acc_batch_stats (train-mode arithmetic on held-out mini-batches of
                            the training batch size; NaN for a twin without BatchNorm). noisy-bn: the
                            noise replaced by its mean (×1.125), no draw
        final               train_loss (mean of the last train_loss_window batch losses), test_loss,
                            test_acc, test_acc_batch_stats, eval_step (the step of that evaluation)
        probes              step and, per layer, per kind (linear: the Linear output; bn: the normalisation
                            layer's output: BN, LayerNorm, or for noisy-bn BN plus the noise of the step
                            after the probe; act: the nonlinearity's output): edges (fixed for the run, equal
                            across twins), counts per bin (the last bin includes its right edge), under,
                            over, nonfinite, percentiles (TensorBoard's nine), paper_percentiles,
                            mean, std; per layer grad_norm, weight_norm, inactive_share, unit_w1 (the
                            input to the nonlinearity: W1 of each unit's probe values from its own at the
                            first probe, averaged over units: probes.unit_w1; absent in older records)
                            and for a BN
                            twin (bn, noisy-bn) bn_internals; output_grad_norm, output_weight_norm, unit_percentiles
                            (step × unit × 3: each last-layer unit's input to the nonlinearity).
                            Mode: train-mode batch statistics of the probe batch, after the step's
                            update, BN running statistics untouched.
        ics                 step, l2, cos, rel (step × layer, layers 2…output): Santurkar et al.'s ICS
                            on the step's training batch: l2 = ‖G − G′‖, cos = cos(G, G′), rel = ‖G − G′‖ / ‖G‖
                            (NaN where ‖G‖ = 0; absent in records written before it existed), where G is the
                            layer's weight gradient before the update and G′ the same with the layers below
                            already updated
        gallery             step, predictions (eval mode) of the gallery images
    repeats         null for a run of one seed (config.repeats 1). Else the run's other seeds, config.seed + 1 …
                    config.seed + repeats − 1: trained in lockstep with the first seed on the same settings, each
                    with its own initial weights, batch order and probe batch, without probes or ICS (so they
                    cost training and evaluation only). {"seeds": [seed + 1, …], "twins": {arm: [one entry per
                    seed, in that order: status, reason, diverged_at_step, collapsed_at_step, and train, eval,
                    final as in `twins`]}}. Everything else in the record is the first seed's; seed_spread()
                    gives one series' mean ± sd over all the seeds.

A delta is a record whose `since` is not null: every field is as in a whole record at its own cursor,
except each twin's series sections (train, eval, probes, ics; in `repeats` entries train and eval),
which hold only the rows that changed, and the twin's (and each repeats entry's) `kept`
{section: n}: keep the first n rows of that section held at `since`, then append these. n is 0 when
the series was thinned since (history.BoundedSeries), so the whole section comes again. merge()
makes the whole record; a backend may always answer with a whole record instead.

Probe summaries are always taken on the fixed edges chosen at the first probe, so histograms of
different steps and twins share one axis; values outside them are counted in under/over. The drift
readers (drift_series, drift) compare each twin with its own first probe (step 0) on those edges; their
Wasserstein-1 distance counts under/overflow at the nearest edge, a lower bound once values leave the
range (their share is reported beside it as `outside`).
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import math
import os
import platform
import tempfile

import numpy as np

from .config import ARMS, BATCH_STAT_ARMS, NORM_ARMS

RECORD_VERSION = 1
FORMAT = "bn-lab-run"
MAX_RECORD_BYTES = 16 * 1024 * 1024  # a replayed file may be at most this large
STATUSES = ("queued", "running", "paused", "finished", "stopped", "diverged", "failed")
ENDED = ("finished", "stopped", "diverged", "failed")
STOP_REASONS = ("user", "budget", "released", "idle")
DIVERGENCE_REASONS = ("nan", "inf", "exploded")
TWIN_REASONS = (*DIVERGENCE_REASONS, "collapsed")
ERROR_CODES = ("data_unavailable", "invalid_config", "exception", "worker_lost")
MODES = ("train", "eval", "eval_batch_stats", "probe")  # how each kind of number was measured
KINDS = ("linear", "bn", "act")
# Where lists become numpy arrays when a record is read back: the series, not the metadata.
_ARRAY_SECTIONS = ("twins", "gallery", "probe", "repeats")
_LIST_KEYS = {"percentile_ranks", "paper_ranks", "collapsed_layers", "events", "weight_decay_on", "seeds"}


class RecordError(ValueError):
    """A file that is not a run record this version can read; `code` says why, for the page."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def library_versions() -> dict:
    """The versions that decide a run's numbers (imported lazily: reading records needs no torch).
    torchvision's comes from its package metadata, not an import: importing it costs a run a second or
    two (it pulls in torch._dynamo) and a run on files already on disk never uses it. None when absent."""
    import torch

    try:
        torchvision = importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        torchvision = None
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision,
            "numpy": np.__version__}


# -- building ---------------------------------------------------------------------------------------------


def columns(rows: list, names: tuple[str, ...]) -> dict:
    """Rows of numbers → one array per column; the step column is an integer array."""
    if not rows:
        out = {n: np.zeros(0) for n in names}
    else:
        arr = np.array(rows, dtype=np.float64)
        out = {n: arr[:, i] for i, n in enumerate(names)}
    out["step"] = out["step"].astype(np.int64)
    return out


def empty(run_id: int, status: str, config: dict) -> dict:
    """The record of a run that has not built its experiment yet (queued, loading, failed early)."""
    return {
        "format": FORMAT, "version": RECORD_VERSION, "run_id": run_id, "status": status, "stop_reason": None,
        "error": None, "config": config, "device": None, "versions": {}, "dataset": None,
        "progress": {"step": 0, "total_steps": config.get("steps") or None, "steps_per_epoch": None, "fraction": 0.0,
                     "samples_per_second": 0.0, "eta_seconds": None, "train_seconds": 0.0, "queue_position": None},
        "cadence": None, "n_layers": len(config.get("hidden", ())), "probe": None, "gallery": None, "events": [],
        "budget": None, "fallback": None, "engine_version": 0, "cursor": None, "since": None, "twins": {},
        "repeats": None,
    }


def assemble(*, run_id: int, status: str, config: dict, parts: dict | None = None, stop_reason: str | None = None,
             error: dict | None = None, device: str | None = None, versions: dict | None = None,
             dataset: dict | None = None, progress: dict | None = None) -> dict:
    """A whole record: the experiment's parts (Experiment.record_parts) plus what the runner knows."""
    record = empty(run_id, status, config)
    if parts is not None:
        record.update({k: v for k, v in parts.items() if k != "progress"})
        record["progress"].update(parts["progress"])
    record["progress"].update(progress or {})
    record.update(stop_reason=stop_reason, error=error, device=device, versions=versions or {}, dataset=dataset)
    return record


EVAL_COLUMNS = ("step", "epoch", "loss", "acc", "acc_batch_stats")


def twin_record(raw: dict, edges: dict, n_layers: int, last_width: int) -> dict:
    """One twin's part of the record from the engine's plain rows (Experiment.record_parts); with the
    rows of a delta (raw["kept"] not None), the twin's part of a delta."""
    gallery = raw["gallery"]
    twin = {
        "status": raw["status"],
        "diverged_at_step": raw["diverged_at_step"],
        # A collapse is stated, not enforced: the twin's status stays as it is, its reason says "collapsed".
        "reason": raw["reason"] or ("collapsed" if raw["collapsed_at_step"] is not None else None),
        "reason_values": raw["reason_values"],
        "collapsed_at_step": raw["collapsed_at_step"],
        "collapsed_layers": raw["collapsed_layers"],
        "parameters": raw["parameters"],
        "parameter_groups": dict(raw.get("parameter_groups") or {}),
        "weight_decay_on": list(raw.get("weight_decay_on") or []),
        "train": columns(raw["train"], ("step", "loss", "acc")),
        "eval": columns(raw["eval"], EVAL_COLUMNS),
        "final": final_numbers(raw["recent"], raw["last_eval"]),
        "probes": probe_columns(raw["probes"], edges, n_layers, last_width),
        "ics": ics_columns(raw["ics"]),
        "gallery": ({"step": gallery[0], "predictions": gallery[1]} if gallery
                    else {"step": None, "predictions": np.zeros(0, dtype=np.int64)}),
    }
    if raw.get("kept") is not None:
        twin["kept"] = raw["kept"]
    return twin


SUMMARY_KEYS = ("under", "over", "nonfinite", "mean", "std")


def probe_columns(records: list, edges: dict, n_layers: int, last_width: int) -> dict:
    """Probe records (one dict per probe step) → per layer and kind, one array per summary field."""
    layers = []
    for i in range(n_layers):
        entry = {}
        for kind in KINDS:
            if records and kind in records[0]["layers"][i]:
                summaries = [r["layers"][i][kind] for r in records]
                entry[kind] = {"edges": edges[(i, kind)],
                               **{k: np.stack([s[k] for s in summaries])
                                  for k in ("counts", "percentiles", "paper_percentiles")},
                               **{k: np.array([s[k] for s in summaries]) for k in SUMMARY_KEYS}}
        for key in ("grad_norm", "weight_norm", "inactive_share", "unit_w1"):
            entry[key] = np.array([r["layers"][i].get(key, math.nan) for r in records], dtype=np.float64)
        if records and "bn_internals" in records[0]["layers"][i]:
            names = records[0]["layers"][i]["bn_internals"].keys()
            entry["bn_internals"] = {k: np.array([r["layers"][i]["bn_internals"][k] for r in records]) for k in names}
        layers.append(entry)
    return {
        "step": np.array([r["step"] for r in records], dtype=np.int64),
        "layers": layers,
        "output_grad_norm": np.array([r["output_grad_norm"] for r in records], dtype=np.float64),
        "output_weight_norm": np.array([r["output_weight_norm"] for r in records], dtype=np.float64),
        "unit_percentiles": (np.stack([r["unit_percentiles"] for r in records]) if records
                             else np.zeros((0, last_width, 3))),
    }


ICS_KEYS = ("l2", "cos", "rel")  # the engine's row: (step, l2, cos, rel), one value per layer each


def ics_columns(rows: list) -> dict:
    if not rows:
        return {"step": np.zeros(0, dtype=np.int64), **{k: np.zeros((0, 0)) for k in ICS_KEYS}}
    return {"step": np.array([r[0] for r in rows], dtype=np.int64),
            **{k: np.array([r[1 + j] for r in rows], dtype=np.float64) for j, k in enumerate(ICS_KEYS)}}


def final_numbers(train_recent: list, last_eval: tuple | None) -> dict:
    """`final` from the latest training losses and the latest evaluation's row (EVAL_COLUMNS), if any."""
    step, _, loss, acc, acc_batch_stats = last_eval if last_eval is not None else (None, 0, *(math.nan,) * 3)
    return {
        "train_loss": float(np.mean(train_recent)) if train_recent else math.nan,
        "train_loss_window": len(train_recent),
        "test_loss": float(loss),
        "test_acc": float(acc),
        "test_acc_batch_stats": float(acc_batch_stats),
        "eval_step": int(step) if step is not None else None,
    }


# -- reading facts off a record (numbers; the reader phrases them) -----------------------------------------


REPEAT_KEYS = ("status", "reason", "diverged_at_step", "collapsed_at_step", "train", "eval", "final")


def repeats_block(seeds, parts: list[dict]) -> dict:
    """The record's `repeats` from the other seeds' Experiment.record_parts(), in the order of `seeds`."""
    arms = parts[0]["twins"] if parts else {}
    return {"seeds": list(seeds), "twins": {arm: [_repeat_entry(p["twins"][arm]) for p in parts] for arm in arms}}


def _repeat_entry(twin: dict) -> dict:
    entry = {k: twin[k] for k in REPEAT_KEYS}
    if "kept" in twin:  # a delta: the entry's own series sections only
        entry["kept"] = {section: twin["kept"][section] for section in ("train", "eval")}
    return entry


def merge(held: dict | None, fresh: dict) -> dict | None:
    """The whole record a reader has after `fresh`, the run's answer to record(since=held["cursor"]): fresh
    itself when it is whole, else held with fresh's changes (new arrays; neither record is changed). None
    when fresh does not continue held (another run, another cursor): ask for the whole record then."""
    if fresh.get("since") is None:
        return fresh
    if held is None or held.get("run_id") != fresh["run_id"] or held.get("cursor") != fresh["since"]:
        return None
    try:
        twins = {arm: _merge_twin(held["twins"][arm], twin) for arm, twin in fresh["twins"].items()}
        repeats = fresh.get("repeats")
        if repeats:
            held_entries = held["repeats"]["twins"]
            repeats = {**repeats, "twins": {arm: [_merge_twin(old, new) for old, new in
                                                  zip(held_entries[arm], entries, strict=True)]
                                            for arm, entries in repeats["twins"].items()}}
    except (KeyError, TypeError, ValueError):  # shapes or sections that do not line up: not a continuation
        return None
    return {**fresh, "since": None, "twins": twins, "repeats": repeats}


def _merge_twin(held: dict, twin: dict) -> dict:
    merged = {k: v for k, v in twin.items() if k != "kept"}
    for section, keep in twin["kept"].items():
        merged[section] = _append(held[section], twin[section], keep)
    return merged


def _append(held, new, keep: int):
    """A series section (a tree of arrays with one row per observation) = held's first `keep` rows + new's.
    new is None, or lacks a field, where the delta has no rows (a probe's kinds come with its first row)."""
    if keep == 0:
        return new
    if isinstance(held, dict):
        new = new or {}
        if not new.keys() <= held.keys():
            raise ValueError("a delta's fields are not the held section's")
        return {key: value if key == "edges" else _append(value, new.get(key), keep) for key, value in held.items()}
    if isinstance(held, list):  # one entry per layer
        return [_append(h, n, keep) for h, n in zip(held, new or [None] * len(held), strict=True)]
    held = np.asarray(held)
    if len(held) < keep:
        raise ValueError("a delta keeps more rows than are held")
    return held[:keep] if new is None or len(new) == 0 else np.concatenate([held[:keep], new])


def seed_finals(record: dict, arm: str, key: str) -> list:
    """One `final` number (e.g. "test_acc") of `arm` for every seed of the run, the first seed first."""
    return [twin["final"][key] for twin in (record["twins"][arm], *other_seeds(record, arm))]


def other_seeds(record: dict, arm: str) -> list:
    """`arm`'s entries for the run's other seeds (the record's `repeats`), [] for a run of one seed."""
    return (record.get("repeats") or {}).get("twins", {}).get(arm) or []


def seed_spread(record: dict, arm: str, section: str, metric: str, transform=None) -> dict | None:
    """One series (section "train" or "eval", metric "loss" or "acc") of `arm` over all the run's seeds, each
    seed's values passed through `transform` (e.g. smoothing) first: {"step", "mean", "sd", "n", "seeds"} at
    every step some seed recorded, n the seeds with a finite value there, sd the sample sd (NaN for n < 2).
    None for a run of one seed."""
    others = other_seeds(record, arm)
    first = record["twins"].get(arm)
    if not others or first is None:
        return None
    per_seed = []
    for twin in (first, *others):
        values = np.asarray(twin[section][metric], dtype=np.float64)
        values = transform(values) if transform is not None and len(values) else values
        per_seed.append(dict(zip(np.asarray(twin[section]["step"]).tolist(), values.tolist())))
    steps = np.array(sorted(set().union(*per_seed)), dtype=np.int64)
    table = np.array([[seed.get(step, np.nan) for step in steps.tolist()] for seed in per_seed]).reshape(
        len(per_seed), len(steps))
    finite = np.isfinite(table)
    n = finite.sum(axis=0)
    kept = np.where(finite, table, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, kept.sum(axis=0) / n, np.nan)
        squares = np.where(finite, (table - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
    return {"step": steps, "mean": mean, "sd": sd, "n": n, "seeds": len(per_seed)}


def mean_samples_per_second(record: dict) -> float:
    """Training samples per second over the whole run (0 before any training time)."""
    progress = record["progress"]
    seconds = progress.get("train_seconds") or 0.0
    return progress["step"] * record["config"]["batch_size"] / seconds if seconds else 0.0


def twin_outcome(twin: dict) -> str:
    """What happened to one twin, as a code: diverged | collapsed | the twin's status."""
    if twin["status"] == "diverged":
        return "diverged"
    if twin.get("collapsed_at_step") is not None:
        return "collapsed"
    return twin["status"]


def outcome_step(twin: dict, outcome: str | None = None) -> int | None:
    """The step of a twin's outcome (twin_outcome's code, worked out when not given): where it diverged or
    collapsed; None for any other outcome."""
    outcome = outcome or twin_outcome(twin)
    return twin.get(f"{outcome}_at_step") if outcome in ("diverged", "collapsed") else None


def finite_or_none(value) -> float | None:
    """A number for a JSON file that keeps none but finite ones: NaN, ±inf and None become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def nonlinearity_input_kind(record: dict, twin: str) -> str:
    """The recorded quantity that feeds the nonlinearity: the normalisation layer's output (BN, LayerNorm,
    noisy BN) when it sits before it, else the Linear output. This is the quantity every twin has and the
    one the BN paper plots."""
    placement = record["config"].get("bn_placement", "before")
    return "bn" if twin in NORM_ARMS and placement == "before" else "linear"


def histogram_w1(edges, counts_a, counts_b, under_a: int = 0, over_a: int = 0, under_b: int = 0,
                 over_b: int = 0) -> float:
    """Wasserstein-1 distance between two histograms on the same edges, in the binned quantity's units:
    W1 = ∫ |F_a(x) − F_b(x)| dx, where each F is the histogram's CDF with its values spread uniformly
    inside each bin (piecewise linear between edges; the integral of |linear| over a bin is exact).
    Under- and overflow count as point masses at the first and last edge: that is W1 of the values
    clipped to the bins' range, a lower bound on it whenever values leave the range (clipping moves no
    two values further apart). Non-finite values are left out; each histogram is normalised by its
    finite values. NaN when either histogram is empty."""
    edges = np.asarray(edges, dtype=np.float64)
    cdfs = []
    for counts, under, over in ((counts_a, under_a, over_a), (counts_b, under_b, over_b)):
        counts = np.asarray(counts, dtype=np.float64)
        n = under + counts.sum() + over
        if n <= 0:
            return math.nan
        cdfs.append(np.concatenate([[under], under + np.cumsum(counts)]) / n)  # F at each edge
    d = cdfs[0] - cdfs[1]
    d0, d1, width = d[:-1], d[1:], np.diff(edges)
    a0, a1 = np.abs(d0), np.abs(d1)
    same_sign = d0 * d1 >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(a0 + a1 > 0, (d0 ** 2 + d1 ** 2) / (2 * (a0 + a1)), 0.0)
    return float(np.sum(width * np.where(same_sign, (a0 + a1) / 2, crossing)))


def drift_series(record: dict, twin: str, layer: int, kind: str | None = None) -> dict | None:
    """How one layer's distribution (by default its input to the nonlinearity) moved away from where it
    started, at every probe step. Each number compares the twin with itself at the first probe (step 0,
    before any update), so neither twin is the reference for the other and the value at a step does not
    depend on how often the probes sampled in between:

        median_shift[t] = p50(t) − p50(0)
        spread_ratio[t] = (p85(t) − p15(t)) / (p85(0) − p15(0))          (NaN when the step-0 spread is 0)
        w1[t]           = W1(histogram at t, histogram at step 0)        (histogram_w1, on the run's fixed edges)
        outside[t]      = (under + over) / finite values at t: the share W1 sees only clipped to the edges
        unit_w1[t]      = the typical unit's W1: each unit's probe values at t against its own at the first
                          probe, averaged over units (probes.unit_w1; the input to the nonlinearity only,
                          NaN for another kind or a record written before it existed)

    Percentiles are of every value of the probe batch (all units of the layer), in train mode. The pooled
    numbers mix the units: a shift of each unit that differs from unit to unit (noisy-bn's noise, whose
    per-unit mean changes every step) barely moves the layer's histogram; unit_w1 sees it."""
    kind = kind or nonlinearity_input_kind(record, twin)
    probes = record["twins"].get(twin, {}).get("probes", {})
    layers = probes.get("layers", [])
    if layer >= len(layers) or kind not in layers[layer] or len(layers[layer][kind]["paper_percentiles"]) < 1:
        return None
    entry = layers[layer][kind]
    pct = np.asarray(entry["paper_percentiles"], dtype=np.float64)
    counts = np.asarray(entry["counts"], dtype=np.float64)
    under = np.asarray(entry["under"], dtype=np.float64)
    over = np.asarray(entry["over"], dtype=np.float64)
    spread = pct[:, 2] - pct[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = spread / spread[0] if spread[0] > 0 else np.full(len(spread), math.nan)
        finite = counts.sum(axis=1) + under + over
        outside = np.where(finite > 0, (under + over) / finite, math.nan)
    w1 = np.array([histogram_w1(entry["edges"], counts[t], counts[0], under[t], over[t], under[0], over[0])
                   for t in range(len(counts))])
    steps = np.asarray(probes["step"], dtype=np.int64)
    unit = layers[layer].get("unit_w1") if kind == nonlinearity_input_kind(record, twin) else None
    unit = np.asarray(unit, dtype=np.float64) if unit is not None and len(unit) == len(steps) \
        else np.full(len(steps), math.nan)
    return {"kind": kind, "from_step": int(steps[0]), "step": steps, "median_shift": pct[:, 1] - pct[0, 1],
            "spread_ratio": ratio, "w1": w1, "outside": outside, "unit_w1": unit}


DRIFT_METRICS = ("median_shift", "spread_ratio", "w1")


def drift(record: dict, twin: str, layer: int) -> dict | None:
    """drift_series at the last probe: how far one layer's input to the nonlinearity moved since the
    first probe (step 0): median_shift, spread_ratio, w1 (and outside, the share W1 saw clipped; unit_w1,
    the typical unit's W1). Absolute numbers from each twin's own start, so neither twin is the reference for the other."""
    series = drift_series(record, twin, layer)
    if series is None or len(series["step"]) < 2:
        return None
    return {"from_step": series["from_step"], "to_step": int(series["step"][-1]), "kind": series["kind"],
            **{k: float(series[k][-1]) for k in (*DRIFT_METRICS, "outside", "unit_w1")}}


# The ICS phases. A twin has memorised its training set from the first step after which its smoothed
# training-batch accuracy (mean over the batches of the last MEMORISED_WINDOW steps) never falls below
# MEMORISED_ACC again; before that it is learning. Chosen by measuring the ioffe2015 setting (seeds 1–3,
# 10,000 steps on MNIST's 8,000-image training part; 3,000 on digits at lr 0.5, σ 0.3). At 99 % the
# median training-batch loss drops about tenfold across the boundary (MNIST, BN: 0.15–0.16 before,
# 0.013–0.014 after; digits, both twins: 0.11–0.12 → 0.007–0.016) and on MNIST the held-out accuracy
# gains at most 1.2 points after it. On MNIST 98 % moves the BN boundary 400–1,000 steps earlier and
# 99.5 % 800–1,400 later. BN memorised from steps 4,385–4,761 there; the plain net not within 10,000
# steps, so a 50,000-step run's ICS median for BN is mostly a median over this phase. The rule is per
# twin: each is summarised in the same state of training.
MEMORISED_ACC = 0.99
MEMORISED_WINDOW = 100  # training steps
MEMORISED_MIN_BATCHES = 20  # a long run's history keeps every k-th batch: the window widens to hold 20
PHASES = ("learning", "memorised")


def memorised_window(twin: dict, window: int = MEMORISED_WINDOW) -> int:
    """The smoothing window in steps: `window`, widened to MEMORISED_MIN_BATCHES recorded batches when the
    twin's training history keeps only every k-th batch (a long run's bounded history)."""
    step = np.asarray(twin.get("train", {}).get("step", []), dtype=np.int64)
    return max(window, MEMORISED_MIN_BATCHES * int(np.median(np.diff(step)))) if len(step) > 1 else window


def memorised_from(twin: dict, threshold: float = MEMORISED_ACC, window: int = MEMORISED_WINDOW) -> int | None:
    """The step from which this twin's training-batch accuracy, averaged over the recorded batches of
    the last memorised_window(twin, window) steps, stays ≥ threshold to the end of its record; None if
    it does not (yet). Only steps with a full window (step ≥ first recorded step + window − 1) count."""
    train = twin.get("train", {})
    step = np.asarray(train.get("step", []), dtype=np.int64)
    acc = np.asarray(train.get("acc", []), dtype=np.float64)
    if not len(step):
        return None
    window = memorised_window(twin, window)
    total = np.concatenate([[0.0], np.cumsum(acc)])
    low = np.searchsorted(step, step - window, side="right")  # batches of steps in (s − window, s]
    smoothed = (total[1:] - total[low]) / (np.arange(1, len(step) + 1) - low)
    full = step >= step[0] + window - 1
    bad = np.flatnonzero(~full | ~(smoothed >= threshold))  # NaN accuracy counts as below
    first = bad[-1] + 1 if len(bad) else 0
    return int(step[first]) if first < len(step) else None


def ics_phases(twin: dict) -> np.ndarray:
    """Per ICS measurement of one twin: 0 = learning, 1 = memorised (PHASES), by memorised_from."""
    steps = np.asarray(twin["ics"]["step"], dtype=np.int64)
    start = memorised_from(twin)
    return (steps >= start).astype(np.int64) if start is not None else np.zeros(len(steps), dtype=np.int64)


def ics_comparison(record: dict, arm: str = "bn", reference: str = "plain") -> dict | None:
    """The median absolute ICS ‖G − G′‖ and relative ICS ‖G − G′‖ / ‖G‖ over every measured step and
    layer, per twin, and their ratios arm / reference (any two arms; keys are their codes): overall and
    per phase (each twin split by its own memorised_from, so each is summarised in the same state of
    training). The statement the Covariate shift tab makes is computed from this, never written in
    advance. None until both twins have finite absolute ICS; a phase or measure that a twin lacks (e.g.
    no memorised steps yet) has None."""
    names = (arm, reference)
    if any(n not in record["twins"] for n in names) or arm == reference:
        return None
    out: dict = {"phases": {}, "memorised_from": {}, "counts": {},
                 "window": max(memorised_window(record["twins"][n]) for n in names), "threshold": MEMORISED_ACC}
    for phase in (None, *PHASES):
        summary = {}
        for key, label in (("l2", "abs"), ("rel", "rel")):
            medians = {}
            for name in names:
                twin = record["twins"][name]
                values = np.asarray(twin["ics"].get(key, np.zeros((0, 0))), dtype=np.float64)
                if phase is not None and values.size:
                    values = values[ics_phases(twin) == PHASES.index(phase)]
                finite = values[np.isfinite(values)]
                medians[name] = float(np.median(finite)) if finite.size else None
            ok = medians[arm] is not None and medians[reference] is not None and medians[reference] > 0
            summary[label] = {**medians, "ratio": medians[arm] / medians[reference] if ok else None,
                              "larger": (arm if medians[arm] > medians[reference] else reference) if ok else None}
        if phase is None:
            if summary["abs"]["ratio"] is None:
                return None
            out.update({arm: summary["abs"][arm], reference: summary["abs"][reference]}, ratio=summary["abs"]["ratio"],
                       larger=summary["abs"]["larger"], rel=summary["rel"])
        else:
            out["phases"][phase] = summary
    for name in names:
        twin = record["twins"][name]
        out["memorised_from"][name] = memorised_from(twin)
        phases = ics_phases(twin)
        out["counts"][name] = {p: int(np.sum(phases == i)) for i, p in enumerate(PHASES)}
    return out


# -- JSON: one writer, one reader ---------------------------------------------------------------------------


def plain(obj):
    """A JSON-ready copy: numpy → lists and numbers, NaN/±inf → None (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def dumps(document: dict, indent: int | None = None) -> str:
    return json.dumps(plain(document), indent=indent, allow_nan=False)


def loads(text: str | bytes) -> dict:
    """Parse and check a saved record; numeric series come back as numpy arrays. Raises RecordError."""
    if len(text) > MAX_RECORD_BYTES:
        raise RecordError("too_large", f"{len(text):,} bytes")
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError("not_json", str(exc)[:80]) from None
    check(document)
    return {k: _arrays(v) if k in _ARRAY_SECTIONS else v for k, v in document.items()}


def read_json(text: str | bytes, error):
    """A saved seeds or sweep file's JSON. Past MAX_RECORD_BYTES it raises error("bad_field", field="size"), if it
    is not JSON error("not_json"): `error` is the reader's own exception class."""
    if len(text) > MAX_RECORD_BYTES:
        raise error("bad_field", field="size")
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise error("not_json") from None


def check_header(doc, fmt: str, version: int, fields: dict, error, not_this: str) -> None:
    """What a seeds or sweep file shares with its kind: the format (else error(not_this)), the version (else
    error("wrong_version", version=…)) and the types of its top-level fields (else error("bad_field",
    field=…)); `error` is the reader's own exception class."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(not_this)
    if doc.get("version") != version:
        raise error("wrong_version", version=str(doc.get("version"))[:20])
    for key, kind in fields.items():
        if not isinstance(doc.get(key), kind):
            raise error("bad_field", field=key)


def check(document) -> None:
    """The schema's load-bearing parts: what every reader relies on. Raises RecordError."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RecordError("not_a_record")
    if document.get("version") != RECORD_VERSION:
        raise RecordError("wrong_version", str(document.get("version"))[:20])
    _require(document.get("status") in STATUSES, "status")
    _require(isinstance(document.get("config"), dict), "config")
    _require(isinstance(document.get("twins"), dict), "twins")
    _require(isinstance(document.get("progress"), dict), "progress")
    _require(document.get("error") is None or (document["error"] or {}).get("code") in ERROR_CODES, "error")
    for name, twin in document["twins"].items():
        _require(name in ARMS and isinstance(twin, dict), "twins")
        _check_twin(twin, f"twins.{name}", TWIN_SECTIONS)
    repeats = document.get("repeats")
    if repeats is not None:  # the other seeds: seed_finals, seed_spread and the CSV read every entry
        _require(isinstance(repeats, dict) and isinstance(repeats.get("seeds"), list)
                 and isinstance(repeats.get("twins"), dict), "repeats")
        for name, entries in repeats["twins"].items():
            _require(name in document["twins"] and isinstance(entries, list)
                     and len(entries) == len(repeats["seeds"]), f"repeats.{name}")
            for i, entry in enumerate(entries):
                _require(isinstance(entry, dict), f"repeats.{name}[{i}]")
                _check_twin(entry, f"repeats.{name}[{i}]", REPEAT_SECTIONS)


# The sections of a twin (and of a repeats entry) that readers index into, and the fields each must have.
TWIN_SECTIONS = (("train", ("step", "loss", "acc")), ("eval", ("step", "loss", "acc")), ("probes", ("step", "layers")),
                 ("ics", ("step", "l2", "cos")), ("final", ("test_acc", "eval_step")))
REPEAT_SECTIONS = tuple(part for part in TWIN_SECTIONS if part[0] in ("train", "eval", "final"))


def _check_twin(twin: dict, where: str, sections) -> None:
    for section, keys in sections:
        _require(isinstance(twin.get(section), dict) and all(k in twin[section] for k in keys), f"{where}.{section}")
    _require(twin.get("reason") in (None, *TWIN_REASONS), f"{where}.reason")
    lengths = {len(twin["train"][k]) for k in ("step", "loss", "acc")}
    _require(len(lengths) == 1, f"{where}.train")


def _require(ok: bool, where: str) -> None:
    if not ok:
        raise RecordError("bad_field", where)


def _arrays(obj, key: str = ""):
    if isinstance(obj, dict):
        return {k: _arrays(v, k) for k, v in obj.items()}
    if isinstance(obj, list) and key not in _LIST_KEYS and _numeric(obj):
        arr = np.array(obj, dtype=object)
        if arr.dtype == object and all(isinstance(v, int) and not isinstance(v, bool) for v in arr.flat):
            return arr.astype(np.int64)
        return arr.astype(np.float64)  # None (written for NaN/inf) becomes NaN
    if isinstance(obj, list):
        return [_arrays(v) for v in obj]
    return obj


def _numeric(obj) -> bool:
    if isinstance(obj, list):
        return all(_numeric(v) for v in obj) and len({len(v) if isinstance(v, list) else -1 for v in obj}) <= 1
    return obj is None or (isinstance(obj, (int, float)) and not isinstance(obj, bool))


# -- CSV: one writer --------------------------------------------------------------------------------------


CSV_COLUMNS = ("twin", "series", "mode", "step", "loss", "accuracy", "seed")


def to_csv(record: dict) -> str:
    """Long format, one row per (twin, series, step) and seed, readable by `pandas.read_csv(path)` as is.
    The mode column says how each number was measured (a MODES code); seed is the run's first seed for
    every observed number and one of the other seeds for their curves (`repeats`); the run's metadata is in
    the JSON."""
    return csv_text(CSV_COLUMNS, _csv_rows(record))


def _csv_rows(record: dict):
    seed = record["config"].get("seed")
    repeats = record.get("repeats") or {"seeds": [], "twins": {}}
    for name, twin in record["twins"].items():
        for seed_number, seed_twin in [(seed, twin), *zip(repeats["seeds"], repeats["twins"].get(name, []))]:
            train, held = seed_twin["train"], seed_twin["eval"]
            for i, step in enumerate(train["step"]):
                yield [name, "train_batch", "train", int(step), csv_cell(train["loss"][i]), csv_cell(train["acc"][i]),
                       seed_number]
            for i, step in enumerate(held["step"]):
                yield [name, "held_out", "eval", int(step), csv_cell(held["loss"][i]), csv_cell(held["acc"][i]),
                       seed_number]
                if name in BATCH_STAT_ARMS:
                    yield [name, "held_out", "eval_batch_stats", int(step), "", csv_cell(held["acc_batch_stats"][i]),
                           seed_number]


def csv_text(columns, rows) -> str:
    """A CSV with a header row, "\n" line ends: what every CSV this lab writes looks like (runs, seeds, sweeps)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def csv_cell(value) -> str:
    """A number as a CSV cell (every CSV here: runs, sweeps, seeds): integers as they are, floats exactly
    (repr), none and non-finite values empty, so pandas reads them as NaN."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def write_atomic(path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder: a failure leaves no half-written
    file (a device or pipe is written to directly, never replaced)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path):  # a device or pipe: write to it, never replace it
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bn-lab-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private; a result file gets the usual permissions (or keeps the old file's)
        os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
