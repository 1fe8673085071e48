"""Reproductions, measured by the app's own engine on lockstep twins.

    python -m bn_demo reproduce fig1        # Ioffe & Szegedy 2015, Fig. 1 (a, b, c)
    python -m bn_demo reproduce santurkar   # Santurkar et al. 2018: ICS per layer, landscape along g

Each figure is trained on DEFAULT_SEEDS seeds (--seeds): its drawing and detailed tables are the first
seed's, and a table of the headline numbers gives their mean ± sample sd over every seed.

Training is the Experiment the app runs. Everything measured here is a pure function of the models
and batches it is handed (MLP.run with parameter overrides, torch.autograd.grad on copies), so a
measurement never moves the weights, their .grad, the optimizer state, the BN running statistics or
the batch stream: the twins train exactly as they would unobserved.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import record as rec
from .backends import BACKENDS, get_backend
from .cli import _spec, open_backend
from .config import PRESETS, RunConfig
from .data import Dataset, load_dataset
from .engine import Experiment
from .seeds import stat
from .ui.figures import TWIN_COLORS
from .ui.strings import dataset_name, layer_labels, partial_note, split_label

PAPER_STEPS = 50_000  # §4.1
ACCURACY_AT = (1_000, 5_000, 10_000, 50_000)
# Fractions of the run; 0 = the initial weights. 2% and 10% catch the nets while they still learn: on
# MNIST's 8,000 training images both have nearly zero training loss long before 25%.
LANDSCAPE_AT = (0.0, 0.02, 0.1, 0.25, 0.5, 1.0)
# Step sizes along −g, as multiples of the training learning rate: from well inside one SGD step to
# far beyond it, where a gradient that predicts the landscape badly shows.
ETA_MULTIPLES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
LANDSCAPE_GROUPS = 8  # mini-batches (each with its own BN statistics) averaged per landscape point
LANDSCAPE_SEED_OFFSET = 104_729  # own generator, like the probe batch: costs the batch stream nothing
TWIN_TITLES = {"bn": "with BN", "plain": "without BN"}
COLORS = {name: TWIN_COLORS[name] for name in ("bn", "plain")}  # each arm's colour, the same as on the page
FIGURES = ("fig1", "santurkar", "all")  # all: one training run per seed, both figures
DEFAULT_SEEDS = 3  # from the preset's seed: one seed cannot tell a finding from luck


def paper_config(steps: int = PAPER_STEPS, dataset: str = "mnist", **overrides) -> RunConfig:
    """The `ioffe2015` preset with a step count (and any other override)."""
    return PRESETS["ioffe2015"].config(dataset=dataset, steps=steps, epochs=0, **overrides).validate()


# -- training --------------------------------------------------------------------------------------


def run_twins(config: RunConfig, dataset: Dataset, *, probe_points: int = 200, eval_points: int = 250,
              ics_points: int = 50, landscape_at=(), accuracy_at=ACCURACY_AT, progress=None) -> dict:
    """Train the lockstep twins on the CPU; return the run record plus landscape records.

    `landscape_at` lists steps (0 = before the first update) at which `landscape` runs on both
    twins; `accuracy_at` steps always get a held-out evaluation, whatever the cadence."""
    steps = config.steps
    config = config.replace(probe_every=max(1, steps // probe_points), eval_every=max(1, steps // eval_points),
                            ics_every=max(1, steps // max(1, ics_points)), device="cpu").validate()
    exp = Experiment(config, dataset, "cpu")
    batch = landscape_batch(dataset, config)
    etas = landscape_etas(config)
    marks = set(landscape_at)
    surfaces = {name: [] for name in exp.twins}

    def measure_landscape():
        for name, twin in exp.twins.items():
            if twin.status != "diverged":  # "finished" at the last step still counts
                surfaces[name].append({"step": exp.step, **landscape(twin.model, *batch, etas)})

    started = time.perf_counter()
    exp.begin()
    if 0 in marks:
        measure_landscape()
    report_every = max(1, steps // 10)
    while not exp.done:
        exp.train_step()
        if exp.step in accuracy_at and any(t.evals.latest[0] != exp.step for t in exp.twins.values() if t.active):
            exp.evaluate()
        if exp.step in marks:
            measure_landscape()
        if progress and exp.step % report_every == 0:
            progress(exp.step, steps, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    record = rec.assemble(run_id=0, status="finished", config=config.to_dict(), parts=exp.record_parts(),
                          device="cpu", versions=rec.library_versions(), dataset=dataset.describe(),
                          progress={"train_seconds": seconds})
    return {"record": record, "landscape": surfaces, "etas": list(etas), "seconds": seconds}


def train_seeds(config: RunConfig, dataset: Dataset, seeds, *, backend="thread", threads: int = 1,
                progress=None, **measures) -> list[dict]:
    """run_twins once per seed. `backend`: an open backend (backends.get_backend, as the CLI's open_backend
    gives it) or its name. thread: one after another in this process (`progress(seed)` gives each its
    progress callback). ray: each seed a Ray task in a worker process of its own with one CPU, as many at
    once as the cluster has CPUs (the Ray backend connects this process to Ray; given by name, it is
    opened here and shut down afterwards); results come back as plain data, in the order of `seeds`."""
    if getattr(backend, "name", backend) != "ray":
        return [run_twins(config.replace(seed=seed), dataset, progress=progress(seed) if progress else None,
                          **measures) for seed in seeds]
    if isinstance(backend, str):
        opened = get_backend(backend)
        try:
            return train_seeds(config, dataset, seeds, backend=opened, threads=threads, progress=progress,
                               **measures)
        finally:
            opened.shutdown()
    import ray

    task = ray.remote(num_cpus=1)(_run_twins_in_worker)
    shared = ray.put(dataset)
    return ray.get([task.remote(config.replace(seed=seed), shared, threads, measures) for seed in seeds])


def _run_twins_in_worker(config: RunConfig, dataset: Dataset, threads: int, measures: dict) -> dict:
    torch.set_num_threads(threads)  # as run_cli does in its own process
    return run_twins(config, dataset, **measures)


def landscape_steps(steps: int, fractions=LANDSCAPE_AT) -> list[int]:
    return sorted({int(round(f * steps)) for f in fractions})


def landscape_batch(dataset: Dataset, config: RunConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed (groups, batch, features) set of training examples: every landscape point sees the
    same data, each group normalised with its own statistics as a training mini-batch would be."""
    n = min(LANDSCAPE_GROUPS, max(1, dataset.train_x.shape[0] // config.batch_size))
    generator = torch.Generator().manual_seed(config.seed + LANDSCAPE_SEED_OFFSET)
    idx = torch.randperm(dataset.train_x.shape[0], generator=generator)[: n * config.batch_size]
    x = dataset.train_x[idx].reshape(n, config.batch_size, -1)
    return x, dataset.train_y[idx].reshape(n, config.batch_size)


def landscape_etas(config: RunConfig) -> list[float]:
    return [config.lr * m for m in ETA_MULTIPLES]


# -- pure measures ---------------------------------------------------------------------------------


def _loss_and_grad(model, params: dict, x, y) -> tuple[float, dict]:
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        logits = model.run(x, bn_mode="batch", params=leaves)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        grads = torch.autograd.grad(loss, list(leaves.values()))
    return float(loss.detach()), {k: g.detach() for k, g in zip(leaves, grads)}


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.pow(2).sum()) for t in tensors))


def landscape(model, x, y, etas) -> dict:
    """Santurkar et al. §3.1 along the gradient g = ∇L(w), over all parameters (γ, β included):
    L(w − ηg) and the gradient predictiveness ‖∇L(w) − ∇L(w − ηg)‖ for each η, and the effective
    β-smoothness max_η ‖∇L(w) − ∇L(w − ηg)‖ / ‖ηg‖. Pure: parameters are overridden, never set;
    BN uses batch statistics (per group of x) and its running buffers are not touched."""
    w = {k: p.detach() for k, p in model.named_parameters()}
    loss0, g = _loss_and_grad(model, w, x, y)
    g_norm = _norm(g.values())
    losses, changes = [], []
    for eta in etas:
        loss, g_eta = _loss_and_grad(model, {k: w[k] - eta * g[k] for k in w}, x, y)
        losses.append(loss)
        changes.append(_norm(g_eta[k] - g[k] for k in w))
    finite = [v for v in [loss0, *losses] if math.isfinite(v)]
    return {
        "eta": [float(e) for e in etas],
        "loss0": loss0,
        "loss": losses,
        "grad_norm": g_norm,
        "grad_change": changes,
        "loss_variation": (max(finite) - min(finite)) if finite else math.nan,
        "beta_smoothness": max((c / (e * g_norm) for c, e in zip(changes, etas)), default=math.nan)
        if g_norm > 0 else math.nan,
    }


def band_drift(band) -> dict:
    """How far a {15, 50, 85} percentile band has moved from its first probe (step 0, before any
    update), at every probe: absolute numbers from the net's own start, so no twin is the other's
    reference, and a value at a step does not depend on how often the band was sampled before it.

    band: (probes, 3) or (probes, units, 3); every series has the band's leading shape without the 3.
    median_shift = p50(t) − p50(0); spread_ratio = (p85 − p15)(t) / (p85 − p15)(0) (NaN for a zero spread)."""
    band = np.asarray(band, dtype=np.float64)
    median, spread = band[..., 1], band[..., 2] - band[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread[0] > 0, spread / spread[0], np.nan)
    return {"median": median, "spread": spread, "median_shift": median - median[0], "spread_ratio": ratio}


def typical_unit(unit_bands: dict) -> int:
    """'One typical unit' of the layer, chosen the same way for every twin: rank the units by the size of
    their net median shift at the last probe within each twin; the typical unit is the one nearest the
    middle rank in the twin where it is furthest from it (ties: the lower index). unit_bands: twin →
    (probes, units, 3)."""
    distances = []
    for band in unit_bands.values():
        shift = np.abs(band_drift(band)["median_shift"][-1])
        ranks = np.argsort(np.argsort(np.nan_to_num(shift, nan=np.inf), kind="stable"), kind="stable")
        distances.append(np.abs(ranks - (len(ranks) - 1) / 2))
    return int(np.argmin(np.max(distances, axis=0)))


def _at_steps(steps, wanted) -> list[int]:
    """Indices of the probes at `wanted` steps (the last probe at or before each), in order, no repeats."""
    steps = np.asarray(steps)
    found = [int(np.searchsorted(steps, s, side="right")) - 1 for s in wanted if s >= steps[0]]
    return sorted({i for i in found if i >= 0} | ({len(steps) - 1} if len(steps) else set()))


def fig1_measures(result: dict, accuracy_at=ACCURACY_AT) -> dict:
    """Plain-data numbers and series behind Fig. 1: accuracy curves, the typical unit's band for each
    twin, and how far the last hidden layer's input to the nonlinearity moved from step 0: per unit
    (band_drift: the typical unit, and medians over units) and for the whole layer (record.drift_series:
    net median shift, spread ratio, W1 to the step-0 histogram) at the accuracy steps and the end."""
    record = result["record"]
    twins = record["twins"]
    layer = record["n_layers"] - 1
    unit = typical_unit({n: t["probes"]["unit_percentiles"] for n, t in twins.items()})
    out = {"unit": unit, "layer": layer, "twins": {}}
    for name, t in twins.items():
        steps, bands = t["probes"]["step"], t["probes"]["unit_percentiles"]
        units = band_drift(bands)
        one = band_drift(bands[:, unit])
        layer_series = rec.drift_series(record, name, layer)
        evals = t["eval"]
        acc = {}
        for s in accuracy_at:
            hit = np.flatnonzero(evals["step"] == s)
            if hit.size:
                acc[s] = float(evals["acc"][hit[-1]])
        out["twins"][name] = {
            "status": t["status"],
            "accuracy_at": acc,
            "final_accuracy": float(evals["acc"][-1]) if len(evals["acc"]) else math.nan,
            "final_step": int(evals["step"][-1]) if len(evals["step"]) else 0,
            "kind": layer_series["kind"] if layer_series else rec.nonlinearity_input_kind(record, name),
            "from_step": int(steps[0]),
            "unit_drift": {"median_start": float(one["median"][0]), "median_end": float(one["median"][-1]),
                           "median_shift": float(one["median_shift"][-1]),
                           "spread_start": float(one["spread"][0]), "spread_end": float(one["spread"][-1]),
                           "spread_ratio": float(one["spread_ratio"][-1])},
            # a signed shift would cancel across units: its median is of magnitudes
            "median_over_units": {"abs_median_shift": float(np.nanmedian(np.abs(units["median_shift"][-1]))),
                                  "spread_ratio": float(np.nanmedian(units["spread_ratio"][-1]))},
            "layer_drift": [{"step": int(layer_series["step"][i]),
                             **{k: float(layer_series[k][i]) for k in (*rec.DRIFT_METRICS, "outside")}}
                            for i in _at_steps(layer_series["step"], accuracy_at)] if layer_series else [],
            "series": {"eval_step": evals["step"], "acc": evals["acc"], "probe_step": steps, "band": bands[:, unit],
                       **({k: layer_series[k] for k in rec.DRIFT_METRICS} if layer_series else {})},
        }
    return out


def santurkar_measures(result: dict) -> dict:
    """Plain data for Santurkar et al.: ICS per layer over training (as the engine records it) and
    the landscape records, with per-layer medians as summary numbers."""
    record = result["record"]
    out = {"layers": layer_labels(record["n_layers"], "en", output=True)[1:], "etas": result["etas"], "twins": {},
           "comparison": rec.ics_comparison(record)}  # overall and per phase (learning / memorised)
    for name, t in record["twins"].items():
        ics = t["ics"]
        out["twins"][name] = {
            "ics": {"step": ics["step"], **{k: ics[k] for k in rec.ICS_KEYS if k in ics}},
            "ics_median": {k: _nanmedian_cols(ics[k]) for k in rec.ICS_KEYS if k in ics},
            "memorised_from": rec.memorised_from(t),
            "landscape": result["landscape"].get(name, []),
            "final_accuracy": float(t["eval"]["acc"][-1]) if len(t["eval"]["acc"]) else math.nan,
        }
    return out


def _nanmedian_cols(a) -> list[float]:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return []
    return [float(np.nanmedian(c)) if np.isfinite(c).any() else math.nan for c in a.T]


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


# -- figures -----------------------------------------------------------------------------------------


def fig1_figure(measures: dict, title: str):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    unit = measures["unit"]
    twins = measures["twins"]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07, subplot_titles=(
        "(a) held-out accuracy",
        f"(b) without BN: unit {unit + 1}, sigmoid input",
        f"(c) with BN: unit {unit + 1}, sigmoid input (γx̂+β)"))
    for name in ("bn", "plain"):
        if name in twins:
            s = twins[name]["series"]
            fig.add_trace(go.Scatter(x=s["eval_step"], y=s["acc"], mode="lines", name=TWIN_TITLES[name],
                                     line=dict(color=COLORS[name])), row=1, col=1)
    for col, name in ((2, "plain"), (3, "bn")):
        if name not in twins:
            continue
        s = twins[name]["series"]
        band, x, color = s["band"], s["probe_step"], COLORS[name]
        fig.add_trace(go.Scatter(x=x, y=band[:, 2], mode="lines", line=dict(width=0.5, color=color),
                                 name=f"{TWIN_TITLES[name]}: 85th", showlegend=False), row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=band[:, 0], mode="lines", line=dict(width=0.5, color=color),
                                 fill="tonexty", fillcolor=_rgba(color, 0.2),
                                 name=f"{TWIN_TITLES[name]}: 15th", showlegend=False), row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=band[:, 1], mode="lines", line=dict(width=2, color=color),
                                 name=f"{TWIN_TITLES[name]}: median (15–85th shaded)"), row=1, col=col)
    lows = [twins[n]["series"]["band"][:, 0].min() for n in twins]
    highs = [twins[n]["series"]["band"][:, 2].max() for n in twins]
    pad = 0.05 * (max(highs) - min(lows) or 1.0)
    for col in (2, 3):  # one y range for (b) and (c): the bands compare at a glance
        fig.update_yaxes(range=[min(lows) - pad, max(highs) + pad], row=1, col=col)
    # The full axis, not the paper's 0.7–1: that range hid the plain net's stall at 50 % at step 1,000.
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], row=1, col=1)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="training step", row=1, col=col)
    fig.update_layout(title=title, width=1500, height=480, template="plotly_white",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def santurkar_figure(measures: dict, title: str):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.08, subplot_titles=(
        "(a) ICS: ‖G − G′‖₂ per layer", "(b) ICS: cos(G, G′) per layer",
        "(c) loss along −g, relative: L(w − ηg) / L(w)", "(d) gradient predictiveness ‖∇L(w) − ∇L(w − ηg)‖"))
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    for name, t in measures["twins"].items():
        color = COLORS[name]
        for i, layer in enumerate(measures["layers"]):
            dash = dashes[i % len(dashes)]
            for col, key in ((1, "l2"), (2, "cos")):
                values = np.asarray(t["ics"][key])
                if values.size:
                    fig.add_trace(go.Scatter(x=t["ics"]["step"], y=values[:, i], mode="lines",
                                             line=dict(color=color, dash=dash, width=1.5),
                                             name=f"{TWIN_TITLES[name]}, {layer}", legendgroup=f"ics-{name}-{i}",
                                             showlegend=col == 1), row=1, col=col)
        points = t["landscape"]
        for k, point in enumerate(points):
            opacity = 0.35 + 0.65 * (k + 1) / len(points)
            label = f"{TWIN_TITLES[name]}, step {point['step']:,}"
            # relative: late in training L(w) is ~1e-3, and a difference would hide every later curve
            fig.add_trace(go.Scatter(x=point["eta"], y=np.asarray(point["loss"]) / point["loss0"], mode="lines+markers",
                                     line=dict(color=color), opacity=opacity, name=label,
                                     legendgroup=f"ls-{name}-{k}"), row=2, col=1)
            fig.add_trace(go.Scatter(x=point["eta"], y=point["grad_change"], mode="lines+markers",
                                     line=dict(color=color), opacity=opacity, name=label,
                                     legendgroup=f"ls-{name}-{k}", showlegend=False), row=2, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[-1.05, 1.05], row=1, col=2)
    fig.update_yaxes(type="log", row=2, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="training step", row=1, col=col)
        fig.update_xaxes(title_text="η (step size along −g)", type="log", row=2, col=col)
    fig.update_layout(title=title, width=1400, height=950, template="plotly_white")
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def write_figure(fig, out_dir: Path, stem: str, png: bool = True) -> list[Path]:
    """HTML always (plotly.js from its CDN: a 100 KB file instead of 5 MB, interactive in any browser
    that is online); PNG through kaleido, which drives a system Chromium (never downloads one). A
    failed PNG is reported, not fatal."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"{stem}.html"
    fig.write_html(html, include_plotlyjs="cdn", full_html=True)
    written = [html]
    if png:
        if "BROWSERS_PATH" not in os.environ and Path("/usr/bin/chromium").exists():
            os.environ["BROWSERS_PATH"] = "/usr/bin/chromium"
        try:
            fig.write_image(out_dir / f"{stem}.png", scale=1)
            written.append(out_dir / f"{stem}.png")
        except Exception as exc:  # no kaleido or no Chromium: the HTML still stands
            print(f"warning: PNG export failed ({type(exc).__name__}: {exc}); wrote the HTML only", file=sys.stderr)
    return written


# -- tables --------------------------------------------------------------------------------------------


def _pct(v) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{100 * v:.2f}%"


def _num(v, digits: int = 3) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def run_header(result: dict, seeds) -> list[str]:
    c, d = result["record"]["config"], result["record"]["dataset"]
    many = f"; seeds {_seed_list(seeds)}: the tables below give seed {c['seed']}, the last one mean ± sd over all"
    lines = [
        f"- data: train = {split_label(d, 'train', 'en')}, held-out = {split_label(d, 'test', 'en')}",
        *([f"- note: {partial_note(d, 'en')}"] if d.get("partial") else []),
        f"- setup: {'-'.join(map(str, [int(np.prod(d['image_shape'])), *c['hidden'], len(d['classes'])]))} "
        f"{c['activation']}, BN {c['bn_placement']} every hidden nonlinearity; init {c['init']}"
        + (f" σ={c['init_std']}" if c["init"] == "gaussian" else "")
        + f"; {c['optimizer']} lr {c['lr']}; batch {c['batch_size']}; {c['steps']:,} steps"
        + (many if len(seeds) > 1 else f"; seed {c['seed']}"),
        f"- trained in {' / '.join(f'{t:.0f}' for t in result.get('seconds_per_seed', [result['seconds']]))} s"
        + (" (seed by seed)" if len(seeds) > 1 else "") + f" on the CPU ({torch.get_num_threads()} thread(s))",
    ]
    return lines


def fig1_table(result: dict, measures: dict, seeds=()) -> str:
    twins = measures["twins"]
    names = [n for n in ("bn", "plain") if n in twins]
    lines = ["# Ioffe & Szegedy 2015, Fig. 1 — reproduced", "", *run_header(result, seeds or [measures_seed(result)]), ""]
    lines += ["| held-out accuracy (eval mode) | " + " | ".join(TWIN_TITLES[n] for n in names) + " |",
              "|---|" + "---:|" * len(names)]
    steps = sorted({s for n in names for s in twins[n]["accuracy_at"]})
    for s in steps:
        lines.append(f"| step {s:,} | " + " | ".join(_pct(twins[n]["accuracy_at"].get(s)) for n in names) + " |")
    lines.append(f"| final (step {twins[names[0]]['final_step']:,}) | "
                 + " | ".join(_pct(twins[n]["final_accuracy"]) for n in names) + " |")
    probe = result["record"].get("probe") or {}
    lines += ["", f"Drift of the last hidden layer's sigmoid input (with BN: the BN output γx̂+β; without: the "
              f"Linear output) from step 0, before any update, on the fixed probe batch ({probe.get('size', '?')} "
              f"training images, train mode). Each twin is compared with itself at step 0, so neither is the "
              f"reference and no number depends on how often the probes sampled: net median shift = "
              f"p50(t) − p50(0); spread ratio = (p85 − p15)(t) / (p85 − p15)(0); W1 = Wasserstein-1 distance "
              f"between the layer's histogram at t and at step 0 on the run's fixed bins (mass uniform within "
              f"a bin; values outside the bins count at the nearest edge, so W1 is then a lower bound: their "
              f"share is shown). All units of the layer pooled:", "",
              "| twin | step | net median shift | spread ratio | W1 to step 0 | outside the bins |",
              "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        for d in twins[n]["layer_drift"]:
            lines.append(f"| {TWIN_TITLES[n]} | {d['step']:,} | {_num(d['median_shift'])} | {_num(d['spread_ratio'])} "
                         f"| {_num(d['w1'])} | {_pct(d['outside'])} |")
    lines += ["", f"Per unit (each unit's own 15–50–85 band over the probe batch). Typical unit = "
              f"#{measures['unit'] + 1}, the unit nearest the middle of both twins' rankings by the size of "
              f"the net median shift; the median over units is of the shift's size.", "",
              "| twin | what | p50 step 0 → end | net median shift | 15–85 spread step 0 → end | spread ratio |",
              "|---|---|---|---:|---|---:|"]
    for n in names:
        u, m = twins[n]["unit_drift"], twins[n]["median_over_units"]
        lines.append(f"| {TWIN_TITLES[n]} | typical unit | {_num(u['median_start'])} → {_num(u['median_end'])} "
                     f"| {_num(u['median_shift'])} | {_num(u['spread_start'])} → {_num(u['spread_end'])} "
                     f"| {_num(u['spread_ratio'])} |")
        lines.append(f"| {TWIN_TITLES[n]} | median over units | | {_num(m['abs_median_shift'])} (size) | "
                     f"| {_num(m['spread_ratio'])} |")
    return "\n".join(lines) + "\n"


def santurkar_table(result: dict, measures: dict, seeds=()) -> str:
    twins = measures["twins"]
    names = [n for n in ("bn", "plain") if n in twins]
    lines = ["# Santurkar et al. 2018 — ICS and landscape, measured", "", *run_header(result, seeds or [measures_seed(result)]),
             ""]
    ics_steps = next(iter(twins.values()))["ics"]["step"]
    lines += [f"Internal covariate shift (Def. 2.1), median over {len(ics_steps)} measurements"
              + (f" (steps {ics_steps[0]:,}–{ics_steps[-1]:,})" if len(ics_steps) else "")
              + "; G, G′ on the training batch of that step; relative = ‖G−G′‖ / ‖G‖:", "",
              "| layer | " + " | ".join(f"‖G−G′‖ {TWIN_TITLES[n]} | relative {TWIN_TITLES[n]} | cos {TWIN_TITLES[n]}"
                                      for n in names) + " |",
              "|---|" + "---:|---:|---:|" * len(names)]
    for i, layer in enumerate(measures["layers"]):
        cells = []
        for n in names:
            m = twins[n]["ics_median"]
            cells += [_num(m[k][i] if m.get(k) else math.nan) for k in ("l2", "rel", "cos")]
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    lines += ["", *ics_phase_lines(measures, names)]
    lines += ["", f"Landscape along −g (all parameters, {LANDSCAPE_GROUPS} fixed training mini-batches, BN batch "
              f"statistics per mini-batch), η = lr × {{{', '.join(f'{m:g}' for m in ETA_MULTIPLES)}}}:", "",
              "| twin | step | loss L(w) | ‖g‖ | loss variation (max−min over η) "
              "| ‖∇L(w)−∇L(w−ηg)‖ at η = lr | max over η | effective β-smoothness |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    at_lr = ETA_MULTIPLES.index(1.0)
    for n in names:
        for point in twins[n]["landscape"]:
            lines.append(f"| {TWIN_TITLES[n]} | {point['step']:,} | {_num(point['loss0'])} | {_num(point['grad_norm'])} "
                         f"| {_num(point['loss_variation'])} | {_num(point['grad_change'][at_lr])} "
                         f"| {_num(max(point['grad_change']))} | {_num(point['beta_smoothness'])} |")
    lines.append("")
    lines.append("| twin | final held-out accuracy |")
    lines.append("|---|---:|")
    for n in names:
        lines.append(f"| {TWIN_TITLES[n]} | {_pct(twins[n]['final_accuracy'])} |")
    return "\n".join(lines) + "\n"


def ics_phase_lines(measures: dict, names: list[str]) -> list[str]:
    """The ICS medians over all layers, overall and per phase, with the bn / plain ratios."""
    c = measures.get("comparison")
    if not c or len(names) < 2:
        return []

    def starts(n):
        step = c["memorised_from"][n]
        return f"{TWIN_TITLES[n]} from step {step:,}" if step is not None else f"{TWIN_TITLES[n]} never"

    lines = [f"Per phase. A net has memorised its training set from the first step after which its training-batch "
             f"accuracy, averaged over the last {c['window']:,} steps ({rec.MEMORISED_WINDOW} or, in a long run's "
             f"thinned history, {rec.MEMORISED_MIN_BATCHES} recorded batches), stays ≥ {c['threshold']:.0%}; "
             f"before that it is learning. Each net is split on "
             f"its own accuracy ({', '.join(starts(n) for n in names)}). Medians over every layer and measurement; "
             f"ratio = with BN / without BN:", "",
             "| phase | measurements (with / without BN) | ‖G−G′‖ with / without BN | ratio "
             "| relative with / without BN | ratio |", "|---|---:|---:|---:|---:|---:|"]
    rows = [("all", {"abs": {k: c[k] for k in ("bn", "plain", "ratio")}, "rel": c["rel"]},
             [len(measures["twins"][n]["ics"]["step"]) for n in names])]
    rows += [(p, c["phases"][p], [c["counts"][n][p] for n in names]) for p in rec.PHASES]
    for label, summary, counts in rows:
        cells = [" / ".join(str(k) for k in counts)]
        for key in ("abs", "rel"):
            v = summary[key]
            cells += [f"{_num(_finite(v['bn']))} / {_num(_finite(v['plain']))}", _num(_finite(v["ratio"]))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _finite(v) -> float:
    return math.nan if v is None else v


# -- over seeds ------------------------------------------------------------------------------------------


def measures_seed(result: dict) -> int:
    return result["record"]["config"]["seed"]


def _seed_list(seeds) -> str:
    seeds = list(seeds)
    consecutive = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
    return f"{seeds[0]}–{seeds[-1]}" if consecutive else ", ".join(map(str, seeds))


def fig1_over_seeds(per_seed: list[dict]) -> dict:
    """Fig. 1's headline numbers over seeds, each {"mean", "sd", "n"} (seeds.stat): held-out accuracy at
    the accuracy steps and at the end, and the layer's drift from step 0 (pooled: net median shift, spread
    ratio, W1; per unit: the median over units of the shift's size and of the spread ratio) at its last probe."""
    out = {}
    for name in per_seed[0]["twins"]:
        twins = [m["twins"][name] for m in per_seed]
        steps = sorted({s for t in twins for s in t["accuracy_at"]})
        ends = [t["layer_drift"][-1] for t in twins if t["layer_drift"]]
        out[name] = {
            "accuracy_at": {s: stat([t["accuracy_at"].get(s) for t in twins]) for s in steps},
            "final_accuracy": stat([t["final_accuracy"] for t in twins]),
            "end_step": max((d["step"] for d in ends), default=None),
            "layer_drift_end": {k: stat([d[k] for d in ends]) for k in (*rec.DRIFT_METRICS, "outside")},
            "median_over_units": {k: stat([t["median_over_units"][k] for t in twins])
                                  for k in ("abs_median_shift", "spread_ratio")},
        }
    return out


def santurkar_over_seeds(per_seed: list[dict]) -> dict:
    """Santurkar's headline numbers over seeds: the ICS medians with BN and without and their ratio, absolute
    and relative, overall and per phase (record.ics_comparison), and the final held-out accuracy."""
    comparisons = [m["comparison"] for m in per_seed if m.get("comparison")]
    rows = {"all": [{"abs": {k: c[k] for k in ("bn", "plain", "ratio")}, "rel": c["rel"]} for c in comparisons]}
    rows.update({p: [c["phases"][p] for c in comparisons] for p in rec.PHASES})
    return {
        "ics": {phase: {key: {k: stat([e[key][k] for e in entries]) for k in ("bn", "plain", "ratio")}
                        for key in ("abs", "rel")} for phase, entries in rows.items()},
        "final_accuracy": {name: stat([m["twins"][name]["final_accuracy"] for m in per_seed])
                           for name in per_seed[0]["twins"]},
    }


def _mean_sd(s: dict, pct: bool = False) -> str:
    """seeds.stat's numbers as "mean ± sd" ("—" without a finite value; sd left out for one)."""
    if s["mean"] is None:
        return "—"
    scale, unit, digits = (100, " %", 2) if pct else (1, "", 3)
    mean = f"{scale * s['mean']:.2f}" if pct else _num(s["mean"], digits)
    if s["sd"] is None:
        return mean + unit
    sd = f"{scale * s['sd']:.2f}" if pct else _num(s["sd"], 2)
    return f"{mean} ± {sd}{unit}"


def fig1_seeds_table(summary: dict, seeds) -> list[str]:
    names = [n for n in ("bn", "plain") if n in summary]
    lines = [f"## Over seeds {_seed_list(seeds)}: mean ± sd (sample sd, n = {len(seeds)})", "",
             "| | " + " | ".join(TWIN_TITLES[n] for n in names) + " |", "|---|" + "---:|" * len(names)]
    first = summary[names[0]]
    for s in first["accuracy_at"]:
        lines.append(f"| held-out accuracy, step {s:,} | "
                     + " | ".join(_mean_sd(summary[n]["accuracy_at"].get(s, {"mean": None}), pct=True) for n in names) + " |")
    lines.append("| held-out accuracy, final | " + " | ".join(_mean_sd(summary[n]["final_accuracy"], pct=True)
                                                          for n in names) + " |")
    if first["end_step"] is not None:
        for key, label in (("median_shift", "net median shift"), ("spread_ratio", "spread ratio"),
                           ("w1", "W1 to step 0")):
            lines.append(f"| layer pooled, step {first['end_step']:,}: {label} | "
                         + " | ".join(_mean_sd(summary[n]["layer_drift_end"][key]) for n in names) + " |")
    for key, label in (("abs_median_shift", "size of the net median shift"), ("spread_ratio", "spread ratio")):
        lines.append(f"| per unit, median over units: {label} | "
                     + " | ".join(_mean_sd(summary[n]["median_over_units"][key]) for n in names) + " |")
    return lines


def santurkar_seeds_table(summary: dict, seeds) -> list[str]:
    lines = [f"## Over seeds {_seed_list(seeds)}: mean ± sd (sample sd, n = {len(seeds)})", "",
             "ICS medians over every layer and measurement, per seed; ratio = with BN / without BN, per seed:", "",
             "| phase | ‖G−G′‖ with BN | without BN | ratio | relative with BN | without BN | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for phase, entry in summary["ics"].items():
        cells = [_mean_sd(entry[key][k]) for key in ("abs", "rel") for k in ("bn", "plain", "ratio")]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    lines += ["", "| twin | final held-out accuracy |", "|---|---:|"]
    lines += [f"| {TWIN_TITLES[n]} | {_mean_sd(s, pct=True)} |" for n, s in summary["final_accuracy"].items()]
    return lines


# -- command line ---------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("figure", choices=FIGURES,
                        help="fig1: Ioffe & Szegedy Fig. 1; santurkar: ICS + landscape; all: both from one run")
    parser.add_argument("--steps", type=int, default=PAPER_STEPS, help=f"training steps (paper: {PAPER_STEPS:,})")
    parser.add_argument("--dataset", default="mnist", help="mnist (paper), fashion-mnist or digits (offline)")
    parser.add_argument("--data-dir", help="where datasets are read (else $BN_DEMO_DATA_DIR, else ./data)")
    parser.add_argument("--no-download", action="store_true", help="never try to download the dataset")
    parser.add_argument("--seeds", type=_spec("parse_seeds"),
                        help=f"seeds, e.g. 1-3 or 7 (default: {DEFAULT_SEEDS} seeds from the preset's)")
    parser.add_argument("--out", default="assets", help="folder for the HTML, PNG, JSON and Markdown table")
    parser.add_argument("--no-png", action="store_true", help="skip the PNG (it needs kaleido + Chromium)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; 1 is fastest for these small twins on a shared machine")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--backend", choices=BACKENDS, default="thread",
                        help="thread: the seeds one after another here; ray: each seed in a Ray worker, in parallel "
                             "(pip install -r requirements-ray.txt; $BN_DEMO_RAY_ADDRESS or a local Ray)")


def run_cli(args) -> int:
    torch.set_num_threads(max(1, args.threads))
    config = paper_config(steps=args.steps, dataset=args.dataset)
    seeds = args.seeds or tuple(range(config.seed, config.seed + DEFAULT_SEEDS))
    backend = open_backend(args)  # as `train` and `sweep` do: one line and exit 1 when it cannot be used
    if backend is None:
        return 1
    try:
        dataset = load_dataset(config.dataset, args.data_dir, download=not args.no_download)
        return reproduce(args.figure, config, dataset, Path(args.out), seeds=seeds, png=not args.no_png,
                         quiet=args.quiet, backend=backend, threads=max(1, args.threads))
    finally:
        backend.shutdown()


def reproduce(figure: str, config: RunConfig, dataset: Dataset, out_dir: Path, *, seeds=None, png: bool = True,
              quiet: bool = False, backend="thread", threads: int = 1) -> int:
    """Train once per seed (default: config.seed alone), measure, and write <out>/<name>.{html,png,json,md}
    for each figure; print the tables. The figure and the detailed tables are the first seed's. `backend`:
    an open backend or its name (train_seeds)."""
    def progress(seed):
        return lambda step, total, seconds: print(f"  seed {seed}: step {step:,}/{total:,}  {seconds:.0f}s",
                                                  file=sys.stderr, flush=True)

    seeds = tuple(seeds or (config.seed,))
    names = ("fig1", "santurkar") if figure == "all" else (figure,)
    santurkar = "santurkar" in names
    results = train_seeds(config, dataset, seeds, backend=backend, threads=threads,
                          progress=None if quiet else progress,
                          landscape_at=landscape_steps(config.steps) if santurkar else (),
                          ics_points=100 if santurkar else 50)
    result = {**results[0], "seconds_per_seed": [r["seconds"] for r in results]}
    subtitle = f"{dataset_name(dataset.name, 'en')}, {config.steps:,} steps, seed {seeds[0]}"
    for name in names:
        if name == "fig1":
            per_seed = [fig1_measures(r) for r in results]
            measures, summary = per_seed[0], fig1_over_seeds(per_seed)
            table = fig1_table(result, measures, seeds) + "\n" + "\n".join(fig1_seeds_table(summary, seeds)) + "\n"
            fig = fig1_figure(measures, f"Ioffe & Szegedy 2015, Fig. 1 — {subtitle} (BatchNorm Lab twins)")
        else:
            per_seed = [santurkar_measures(r) for r in results]
            measures, summary = per_seed[0], santurkar_over_seeds(per_seed)
            table = santurkar_table(result, measures, seeds) + "\n" + "\n".join(santurkar_seeds_table(summary, seeds)) + "\n"
            fig = santurkar_figure(measures, f"Santurkar et al. 2018: ICS and landscape — {subtitle}")
        out_dir.mkdir(parents=True, exist_ok=True)
        document = {key: result["record"][key] for key in ("format", "version", "config", "dataset", "versions")}
        document.update(seconds=[r["seconds"] for r in results], seeds=list(seeds), measures=measures,
                        over_seeds=summary)
        (out_dir / f"{name}.json").write_text(rec.dumps(document, indent=1))
        (out_dir / f"{name}.md").write_text(table)
        written = write_figure(fig, out_dir, name, png=png)
        print(table)
        print("wrote " + ", ".join(str(p) for p in [*written, out_dir / f"{name}.json", out_dir / f"{name}.md"]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bn_demo reproduce", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
