"""Run record (bn_demo/record.py) → Plotly figure, one pure function per chart (no Streamlit here, so
tests call them directly; `snap` is always a record).

Every figure gets `layout.uirevision` tied to the chart and the run, so a user's zoom survives the
page's refreshes but resets for a new run. Arrays go out as float32 (Plotly serialises numpy arrays
as compact base64), long series are thinned to a few hundred points, and histograms arrive already
binned by the engine on its fixed edges: one refresh stays small whatever the run's length.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..record import nonlinearity_input_kind, seed_spread
from .strings import dataset_name, layer_label, layer_labels, net_name, split_label, t, twin_label

# One colour per arm (config.ARMS), the same in every chart; TWIN_RGB is the same colour as numbers.
TWIN_COLORS = {"bn": "#2563eb", "plain": "#ea580c", "layernorm": "#16a34a", "noisy-bn": "#9333ea"}
TWIN_RGB = {"bn": (37, 99, 235), "plain": (234, 88, 12), "layernorm": (22, 163, 74), "noisy-bn": (147, 51, 234)}
PAST_COLORS = ("#64748b", "#a855f7", "#0d9488", "#be185d", "#ca8a04")
LAYER_DASH = {"bn": "solid", "plain": "dash", "layernorm": "dot", "noisy-bn": "dashdot"}  # per-layer charts: per arm
MAX_POINTS = 500  # points per line sent to the browser
HEATMAP_COLUMNS = 160  # probe steps per heatmap
SMOOTHING = 0.8  # TensorBoard-style exponential smoothing of the noisy per-batch training curve
LOG_TICKS = [m * 10.0**e for e in range(-4, 5) for m in (1, 2, 5)]  # 1-2-5 ticks read better than 2…9
FONT = "Source Sans Pro, -apple-system, Segoe UI, sans-serif"

# A small template instead of Plotly's default (which alone adds ~8 KB to every figure's JSON).
TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family=FONT, size=13, color="#1f2937"),
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    colorway=["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2"],
    xaxis=dict(gridcolor="#e5e7eb", zerolinecolor="#d1d5db", linecolor="#9ca3af", ticks="outside",
               tickcolor="#9ca3af", automargin=True),
    yaxis=dict(gridcolor="#e5e7eb", zerolinecolor="#d1d5db", linecolor="#9ca3af", ticks="outside",
               tickcolor="#9ca3af", automargin=True),
    hoverlabel=dict(font=dict(family=FONT)),
))


# -- small helpers ------------------------------------------------------------------------------------


def rgba(twin: str, alpha: float) -> str:
    r, g, b = TWIN_RGB.get(twin, (100, 116, 139))
    return f"rgba({r},{g},{b},{alpha})"


def thin_index(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Evenly spaced indices into a series of n points, first and last always kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def smooth(values, weight: float = SMOOTHING) -> np.ndarray:
    """TensorBoard's debiased exponential moving average; non-finite values pass through."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    last, norm = 0.0, 0.0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            out[i] = v
            continue
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = last / norm
    return out


def twin_names(snap: dict) -> list[str]:
    return list(snap.get("twins", {}))


def run_key(snap: dict) -> str:
    return str(snap.get("run_id", 0))


def new_figure(chart: str, snap: dict, *, title: str = "", height: int = 380, **layout) -> go.Figure:
    fig = go.Figure()
    style(fig, chart, snap, title=title, height=height, **layout)
    return fig


def legend_y(height: int, titled: bool, gap: float = 66) -> float:
    """The legend's top, `gap` px under the plot area (below the tick labels and the x-axis title), in
    Plotly's units of plot-area height. The plot area is the figure less its title margin and about 110 px
    under it for ticks, the axis title and one or two legend rows; a fixed fraction put short charts'
    legends over their axis title (issue 10)."""
    plot_height = max(80, height - (48 if titled else 16) - 110)
    return -gap / plot_height


def style(fig: go.Figure, chart: str, snap: dict, *, title: str = "", height: int = 380, **layout) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)),
        height=height,
        margin=dict(l=10, r=10, t=48 if title else 16, b=10),
        legend=dict(orientation="h", yanchor="top", y=legend_y(height, bool(title)), xanchor="left", x=0,
                    font=dict(size=12)),
        hovermode="x unified",
        uirevision=f"{chart}:{run_key(snap)}",
        meta={"chart": chart},
        **layout,
    )
    return fig


def add_note(fig: go.Figure, text: str, *, xref="paper", yref="paper", x=0.5, y=0.5) -> None:
    fig.add_annotation(text=text, xref=xref, yref=yref, x=x, y=y, showarrow=False,
                       font=dict(size=14, color="#6b7280"))


def mark_events(fig: go.Figure, snap: dict, lang: str) -> go.Figure:
    """Draw the run's events (record `events`: a learning-rate change at a step) as marked vertical lines
    on every panel of a figure whose x axis is the training step. Call after the traces are added
    (Plotly leaves out panels that have none)."""
    for event in snap.get("events") or ():
        if event.get("kind") != "lr":
            continue
        fig.add_vline(x=event["step"], line=dict(color="#6b7280", width=1.2, dash="dash"),
                      annotation_text=t("marker_lr", lang, lr=f"{event['lr']:g}"), annotation_position="top left",
                      annotation_font=dict(size=11, color="#4b5563"))
    return fig


# Projector mode: every text of a chart at least this large (issue 10: 11-13 px was unreadable at the back).
PROJECTOR_FONT = 16


def enlarge(fig: go.Figure) -> go.Figure:
    """The figure's text at projector size: titles, ticks, axis titles, legends, notes and colour bars."""
    fig.update_layout(font=dict(size=PROJECTOR_FONT), title_font_size=PROJECTOR_FONT + 3,
                      legend_font_size=PROJECTOR_FONT, hoverlabel_font_size=PROJECTOR_FONT)
    fig.update_annotations(font_size=PROJECTOR_FONT)
    fig.update_xaxes(tickfont_size=PROJECTOR_FONT, title_font_size=PROJECTOR_FONT)
    fig.update_yaxes(tickfont_size=PROJECTOR_FONT, title_font_size=PROJECTOR_FONT)
    if fig.layout.height:  # larger tick labels and axis title: the legend moves down with them
        fig.update_layout(legend_y=legend_y(fig.layout.height, bool(fig.layout.title.text), gap=82))
    return fig


def line(x, y, *, name: str, color: str, width: float = 2.0, dash: str = "solid", opacity: float = 1.0,
         mode: str = "lines", group: str | None = None, showlegend: bool = True, hover: str | None = None,
         **kw) -> go.Scatter:
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    keep = thin_index(len(x))
    return go.Scatter(x=x[keep], y=f32(y[keep]), name=name, mode=mode, opacity=opacity, legendgroup=group,
                      showlegend=showlegend, line=dict(color=color, width=width, dash=dash),
                      hovertemplate=hover, **kw)


# -- loss and accuracy ------------------------------------------------------------------------------------


def spread_band(spread: dict, *, color: str, group: str, floor: float | None = None) -> go.Scatter:
    """The ±1 sd band around a mean over seeds (record.seed_spread): one closed shape, out along mean + sd and
    back along mean − sd (held at `floor` on a log axis, which cannot show 0 or less), toggled with its
    mean's legend entry."""
    keep = thin_index(len(spread["step"]))
    x, mean, sd = spread["step"][keep], spread["mean"][keep], np.nan_to_num(spread["sd"][keep])
    low = mean - sd if floor is None else np.maximum(mean - sd, floor)
    return go.Scatter(x=np.concatenate([x, x[::-1]]), y=f32(np.concatenate([mean + sd, low[::-1]])),
                      fill="toself", fillcolor=color, line=dict(width=0), mode="lines", hoverinfo="skip",
                      showlegend=False, legendgroup=group)


def curves_figure(snap: dict, metric: str, lang: str = "en", past: list | tuple = (), *,
                  smoothing: float = SMOOTHING, with_train: bool = True, height: int = 380) -> go.Figure:
    """Loss or accuracy per step: the training batch (train mode, smoothed by `smoothing`) unless
    `with_train` is False, and the held-out split (eval mode) for both twins, plus held-out curves of
    earlier runs in `past`. A run of several seeds (config.repeats) draws each curve as the mean over its
    seeds with a ±1 sd band (each seed's training curve smoothed first)."""
    assert metric in ("loss", "acc")
    title = t("title_loss" if metric == "loss" else "title_acc" if with_train else "title_acc_heldout", lang)
    fig = new_figure(f"curves-{metric}", snap, title=title, height=height)
    value_fmt = ".2%" if metric == "acc" else ".4f"
    floor = LOG_TICKS[0] if metric == "loss" else None  # the loss axis is logarithmic
    for name in twin_names(snap):
        twin = snap["twins"][name]
        net = twin_label(name, lang)
        held = seed_spread(snap, name, "eval", metric) or {"step": twin["eval"]["step"], "mean": twin["eval"][metric]}
        seeds = held.get("seeds")
        if with_train and len(twin["train"]["step"]):  # smoothed only when drawn: the lesson's chart has no train curve
            train = seed_spread(snap, name, "train", metric, lambda v: smooth(v, smoothing)) \
                or {"step": twin["train"]["step"], "mean": smooth(twin["train"][metric], smoothing)}
            label = t("series_train_seeds" if seeds else "series_train", lang, net=net, n=seeds)
            if seeds:
                fig.add_trace(spread_band(train, color=rgba(name, 0.12), group=name, floor=floor))
            fig.add_trace(line(train["step"], train["mean"], name=label, color=rgba(name, 0.45), width=1.5, group=name,
                               hover=f"%{{y:{value_fmt}}}"))
        if len(held["step"]):
            # Held-out curves alone: the title says what they are, the legend only which network.
            label = (t("series_heldout_seeds" if seeds else "series_heldout", lang, net=net, n=seeds) if with_train
                     else t("series_seeds", lang, net=net_name(name, lang), n=seeds) if seeds else net_name(name, lang))
            if seeds:
                fig.add_trace(spread_band(held, color=rgba(name, 0.2), group=name, floor=floor))
            fig.add_trace(line(held["step"], held["mean"], name=label,
                               color=TWIN_COLORS[name], width=2.5, mode="lines+markers", group=name,
                               marker=dict(size=5), hover=f"%{{y:{value_fmt}}}"))
    for k, run in enumerate(past):
        for name, series in run["twins"].items():
            fig.add_trace(line(series["step"], series[metric],
                               name=t("series_past", lang, run=run["run_id"], net=twin_label(name, lang)),
                               color=PAST_COLORS[k % len(PAST_COLORS)], width=1.8,
                               dash="dot" if name == "bn" else "dashdot", group=f"past-{run['run_id']}",
                               hover=f"%{{y:{value_fmt}}}"))
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang), rangemode="tozero")
    if metric == "acc":
        fig.update_yaxes(title_text=t("ax_acc", lang), tickformat=".0%", range=[0, 1.02])
        n_classes = len((snap.get("dataset") or {}).get("classes") or range(10))
        fig.add_hline(y=1 / n_classes, line=dict(color="#9ca3af", width=1, dash="dot"),
                      annotation_text=t("chance", lang, share=f"{1 / n_classes:.0%}"),
                      annotation_position="bottom right",
                      annotation_font=dict(size=11, color="#6b7280"))
    else:
        fig.update_yaxes(title_text=t("ax_loss", lang) + " (log)", type="log", tickvals=LOG_TICKS,
                         ticktext=[f"{v:g}" for v in LOG_TICKS])
    return mark_events(fig, snap, lang)


# -- activation distributions -----------------------------------------------------------------------------


def kind_label(kind: str, lang: str, twin: str | None = None) -> str:
    if kind == "linear" and twin == "plain":
        return t("kind_linear_plain", lang)
    if kind == "bn" and twin in ("layernorm", "noisy-bn"):  # the normalisation layer's output, named for the arm
        return t(f"kind_bn_{twin}", lang)
    return t(f"kind_{kind}", lang)


def layer_kind(snap: dict, twin: str, layer: int, kind: str) -> dict | None:
    """One twin's probe summaries of one quantity; kind "input" is the input to the nonlinearity,
    whichever recorded quantity that is for this twin (BN's output, or the Linear output)."""
    layers = snap["twins"][twin]["probes"]["layers"]
    if layer >= len(layers):
        return None
    if kind == "input":
        kind = nonlinearity_input_kind(snap, twin)
    entry = layers[layer].get(kind)
    return entry if entry is not None and len(entry["counts"]) else None


def panel_title(snap: dict, twin: str, kind: str | None, lang: str, panels: int = 2) -> str:
    """A twin's panel title; for the input to the nonlinearity it also says which quantity that is. Beside
    more than two panels the title is the short name over its quantity: long ones ran into each other."""
    wide = panels <= 2
    name = net_name(twin, lang) if wide else twin_label(twin, lang)
    if kind != "input":
        return name
    quantity = kind_label(nonlinearity_input_kind(snap, twin), lang, twin)
    return t("panel_input", lang, net=name, kind=quantity) if wide else f"{name}<br>{quantity}"


def _twin_subplots(snap: dict, chart: str, title: str, lang: str, *, height: int = 400,
                   shared_yaxes: bool = True, names: list[str] | None = None,
                   kind: str | None = None) -> tuple[go.Figure, list[str]]:
    """One panel per twin, side by side on a shared value axis."""
    names = names or twin_names(snap) or ["bn", "plain"]
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=shared_yaxes, horizontal_spacing=0.04,
                        subplot_titles=[panel_title(snap, n, kind, lang, len(names)) for n in names])
    style(fig, chart, snap, title=title, height=height)
    if len(names) > 2:  # two-line panel titles (panel_title) need room under the figure's title
        fig.update_layout(margin_t=fig.layout.margin.t + 18)
    for ann in fig.layout.annotations:  # subplot titles: left-aligned, twin-coloured
        ann.update(font=dict(size=13, color="#374151"))
    return fig, names


def bands_figure(snap: dict, layer: int, kind: str, lang: str = "en", *, height: int = 400) -> go.Figure:
    """TensorBoard's distribution view: bands between the min/7/16/31 and 69/84/93/max percentiles,
    median as a line, per twin side by side on a shared value axis."""
    title = t("title_bands", lang, layer=_layer_name(snap, layer, lang), kind=kind_label(kind, lang))
    fig, names = _twin_subplots(snap, f"bands-{layer}-{kind}", title + _missing_note(snap, kind, lang), lang,
                                names=_twins_with(snap, layer, kind), height=height, kind=kind)
    for col, name in enumerate(names, start=1):
        entry = layer_kind(snap, name, layer, kind) if name in snap.get("twins", {}) else None
        if entry is None or len(entry["counts"]) < 2:  # a band needs two probes (step 0 and a later one)
            _panel_note(fig, col, t("waiting_data", lang))
            continue
        _add_bands(fig, snap, name, entry, lang, row=1, col=col)
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=t("ax_value", lang), row=1, col=1)
    return mark_events(fig, snap, lang)


def _add_bands(fig: go.Figure, snap: dict, twin: str, entry: dict, lang: str, *, row: int, col: int,
               showlegend: bool = True) -> None:
    steps = snap["twins"][twin]["probes"]["step"]
    keep = thin_index(len(steps))
    steps, pct = steps[keep], entry["percentiles"][keep]
    n = pct.shape[1]
    for k in range(n // 2):  # outer band first; nested fills darken towards the median
        lower, upper = pct[:, k], pct[:, n - 1 - k]
        fig.add_trace(go.Scatter(x=steps, y=f32(lower), mode="lines", line=dict(width=0, color=rgba(twin, 0)),
                                 showlegend=False, hoverinfo="skip"), row=row, col=col)
        fig.add_trace(go.Scatter(x=steps, y=f32(upper), mode="lines", fill="tonexty",
                                 fillcolor=rgba(twin, 0.16), line=dict(width=0, color=rgba(twin, 0)),
                                 showlegend=False, hoverinfo="skip"), row=row, col=col)
    fig.add_trace(go.Scatter(x=steps, y=f32(pct[:, n // 2]), mode="lines", name=t("series_median", lang,
                             net=twin_label(twin, lang)), line=dict(color=TWIN_COLORS[twin], width=2),
                             legendgroup=twin, showlegend=showlegend, hovertemplate="%{y:.3g}"), row=row, col=col)


GRID_ROW_HEIGHT = 170  # px per layer in the all-layers grid


def bands_grid_figure(snap: dict, kind: str, lang: str = "en") -> go.Figure:
    """Small multiples: the distribution bands of every hidden layer (rows) for each twin (columns).
    A row shares its value axis across the twins, so a layer's two panels compare directly."""
    names = _twins_with(snap, 0, kind)
    n_layers = snap["n_layers"]
    fig = make_subplots(rows=n_layers, cols=len(names), shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.04, vertical_spacing=min(0.08, 0.35 / max(1, n_layers)),
                        row_titles=layer_labels(n_layers, lang),
                        column_titles=[panel_title(snap, n, kind, lang, len(names)) for n in names])
    style(fig, f"bands-grid-{kind}", snap, title=t("title_bands_grid", lang, kind=kind_label(kind, lang))
          + _missing_note(snap, kind, lang), height=100 + GRID_ROW_HEIGHT * n_layers)
    for layer in range(n_layers):
        for col, name in enumerate(names, start=1):
            entry = layer_kind(snap, name, layer, kind) if name in snap.get("twins", {}) else None
            if entry is not None:
                _add_bands(fig, snap, name, entry, lang, row=layer + 1, col=col, showlegend=layer == 0)
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang), row=n_layers)
    return mark_events(fig, snap, lang)


def _layer_name(snap: dict, layer: int, lang: str = "en") -> str:
    return layer_label(layer, snap["n_layers"], lang)


def _twins_with(snap: dict, layer: int, kind: str) -> list[str]:
    """The twins that record this quantity (the plain twin has no post-BN values)."""
    names = [n for n in twin_names(snap) if layer_kind(snap, n, layer, kind) is not None]
    return names or twin_names(snap)


def _missing_note(snap: dict, kind: str, lang: str) -> str:
    if kind == "bn" and "plain" in snap.get("twins", {}):
        return f"<br><sup>{t('no_bn_in_plain', lang)}</sup>"
    return ""


def _panel_note(fig: go.Figure, col: int, text: str) -> None:
    axis = "" if col == 1 else str(col)
    fig.add_annotation(text=text, xref=f"x{axis} domain", yref=f"y{axis} domain", x=0.5, y=0.5,
                       showarrow=False, font=dict(size=13, color="#6b7280"))


def bin_centres(edges: np.ndarray) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    return (edges[:-1] + edges[1:]) / 2


def heatmap_figure(snap: dict, layer: int, kind: str, lang: str = "en") -> go.Figure:
    """Step × fixed-bin picture per twin: x = probe step, y = bin centre, colour = log(1 + count)."""
    title = t("title_heatmap", lang, layer=_layer_name(snap, layer, lang), kind=kind_label(kind, lang))
    fig, names = _twin_subplots(snap, f"heatmap-{layer}-{kind}", title + _missing_note(snap, kind, lang), lang,
                                names=_twins_with(snap, layer, kind), kind=kind)
    zmax = 0.0
    entries = {}
    for name in names:
        entry = layer_kind(snap, name, layer, kind) if name in snap.get("twins", {}) else None
        if entry is not None:
            entries[name] = entry
            zmax = max(zmax, float(np.log1p(entry["counts"].max())))
    for col, name in enumerate(names, start=1):
        entry = entries.get(name)
        if entry is None:
            _panel_note(fig, col, t("waiting_data", lang))
            continue
        steps = snap["twins"][name]["probes"]["step"]
        keep = thin_index(len(steps), HEATMAP_COLUMNS)
        z = np.log1p(entry["counts"][keep].astype(np.float64)).T
        fig.add_trace(go.Heatmap(x=steps[keep], y=f32(bin_centres(entry["edges"])), z=f32(z),
                                 coloraxis="coloraxis",
                                 hovertemplate="step %{x}<br>bin %{y:.3g}<br>log(1+count) %{z:.2f}<extra></extra>"),
                      row=1, col=col)
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=0, cmax=max(zmax, 1.0),
                                     colorbar=dict(title=dict(text=t("heatmap_colour", lang), side="right"),
                                                   thickness=12)),
                      hovermode="closest")
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=t("ax_bin", lang), row=1, col=1)
    return mark_events(fig, snap, lang)


def probe_index_at(steps: np.ndarray, fraction: float) -> int:
    """Index of the probe nearest to `fraction` of the way through the probes recorded so far."""
    if not len(steps):
        return 0
    target = steps[0] + fraction * (steps[-1] - steps[0])
    return int(np.abs(steps - target).argmin())


def outside_share(snap: dict, layer: int, kind: str) -> float:
    """Largest share (over twins) of the latest probe's values outside the fixed bins."""
    worst = 0.0
    for name in twin_names(snap):
        entry = layer_kind(snap, name, layer, kind)
        if entry is None:
            continue
        outside = entry["under"][-1] + entry["over"][-1] + entry["nonfinite"][-1]
        worst = max(worst, outside / max(1, outside + entry["counts"][-1].sum()))
    return worst


def histogram_figure(snap: dict, layer: int, kind: str, fractions: tuple[float, ...], lang: str = "en") -> go.Figure:
    """Histograms at the chosen points of the run, BN and plain on one set of axes (the engine's fixed
    edges), as the share of probe values per bin. Earlier step dashed, later step solid."""
    title = t("title_hist", lang, layer=_layer_name(snap, layer, lang), kind=kind_label(kind, lang))
    fig = new_figure(f"hist-{layer}-{kind}", snap, title=title + _missing_note(snap, kind, lang))
    fractions = sorted(set(fractions))
    for name in twin_names(snap):
        entry = layer_kind(snap, name, layer, kind)
        if entry is None:
            continue
        steps = snap["twins"][name]["probes"]["step"]
        chosen = sorted({probe_index_at(steps, f) for f in fractions})
        edges = np.asarray(entry["edges"], dtype=np.float64)
        for rank, idx in enumerate(chosen):
            counts = entry["counts"][idx].astype(np.float64)
            total = counts.sum() + entry["under"][idx] + entry["over"][idx] + entry["nonfinite"][idx]
            share = counts / max(total, 1)
            latest = rank == len(chosen) - 1
            fig.add_trace(go.Scatter(
                x=f32(edges), y=f32(np.append(share, share[-1])), mode="lines", line_shape="hv",
                name=t("series_step", lang, net=twin_label(name, lang), step=f"{int(steps[idx]):,}"),
                line=dict(color=TWIN_COLORS[name], width=2.2 if latest else 1.6, dash="solid" if latest else "dot"),
                fill="tozeroy", fillcolor=rgba(name, 0.14 if latest else 0.04), legendgroup=name,
                hovertemplate="%{x:.3g}: %{y:.1%}"))
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    fig.update_xaxes(title_text=kind_label(kind, lang))
    fig.update_yaxes(title_text=t("ax_share", lang), tickformat=".0%", rangemode="tozero")
    return fig


def paper_figure(snap: dict, unit: int, lang: str = "en") -> go.Figure:
    """Ioffe & Szegedy Fig. 1(b, c): one unit's {15, 50, 85}th percentile of its input to the
    nonlinearity in the last hidden layer, over training, per twin on a shared axis."""
    last = snap["n_layers"] - 1
    fig, twins = _twin_subplots(snap, f"paper-{unit}", t("title_paper", lang, unit=unit,
                                layer=layer_label(last, snap["n_layers"], lang)), lang)
    for col, name in enumerate(twins, start=1):
        probes = snap["twins"].get(name, {}).get("probes") if snap.get("twins") else None
        if probes is None or not len(probes["step"]):
            _panel_note(fig, col, t("waiting_data", lang))
            continue
        keep = thin_index(len(probes["step"]))
        steps = probes["step"][keep]
        unit_pct = probes["unit_percentiles"][keep, min(unit, probes["unit_percentiles"].shape[1] - 1)]
        fig.add_trace(go.Scatter(x=steps, y=f32(unit_pct[:, 0]), mode="lines", showlegend=False,
                                 line=dict(width=1, color=rgba(name, 0.6)), hovertemplate="p15 %{y:.3g}"),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=steps, y=f32(unit_pct[:, 2]), mode="lines", fill="tonexty",
                                 fillcolor=rgba(name, 0.2), line=dict(width=1, color=rgba(name, 0.6)),
                                 name=t("series_band", lang, net=twin_label(name, lang)), hovertemplate="p85 %{y:.3g}"),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=steps, y=f32(unit_pct[:, 1]), mode="lines",
                                 name=t("series_median", lang, net=twin_label(name, lang)),
                                 line=dict(color=TWIN_COLORS[name], width=2.2), hovertemplate="p50 %{y:.3g}"),
                      row=1, col=col)
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=t("ax_unit_input", lang), row=1, col=1)
    return mark_events(fig, snap, lang)


# -- gradients and inactive units -----------------------------------------------------------------------


def layer_colors(n: int) -> list[str]:
    """Deep to shallow: a sequential palette, so 'lower layers' read as one end of it."""
    palette = ["#1d4ed8", "#059669", "#d97706", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777",
               "#4b5563", "#0f766e", "#a16207", "#111827", "#9333ea"]
    return [palette[i % len(palette)] for i in range(n)]


def per_layer_figure(snap: dict, chart: str, title: str, y_title: str, series, lang: str, **yaxis) -> go.Figure:
    """One line per (twin, layer); `series(twin_view)` yields (layer name, values) pairs."""
    fig = new_figure(chart, snap, title=title, height=420)
    for name in twin_names(snap):
        probes = snap["twins"][name]["probes"]
        pairs = list(series(probes))
        colors = layer_colors(len(pairs))
        for (layer_name, values), color in zip(pairs, colors):
            values = np.asarray(values, dtype=np.float64)
            fig.add_trace(line(probes["step"], values, name=t("series_layer", lang, net=twin_label(name, lang),
                               layer=layer_name), color=color, dash=LAYER_DASH[name], group=name,
                               width=2 if name == "bn" else 1.8, hover="%{y:.3g}"))
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=y_title, **yaxis)
    return mark_events(fig, snap, lang)


def grad_figure(snap: dict, lang: str = "en") -> go.Figure:
    names = layer_labels(snap["n_layers"], lang, output=True)

    norms = [np.asarray(v, dtype=np.float64) for twin in snap.get("twins", {}).values()
             for v in [*(layer["grad_norm"] for layer in twin["probes"]["layers"]), twin["probes"]["output_grad_norm"]]]
    positive = np.concatenate([v[v > 0] for v in norms]) if norms else np.zeros(0)
    # A log axis has no 0: a dead layer's zero norm is drawn on a floor a decade below the smallest norm
    # (a line that stops would hide that the layer gets no gradient at all).
    floor = 10.0 ** (np.floor(np.log10(positive.min())) - 1) if positive.size else 1e-12
    has_zero = any(np.any(v == 0) for v in norms)

    def series(probes):
        for i, layer in enumerate(probes["layers"]):
            yield names[i], _on_floor(layer["grad_norm"], floor)
        yield names[-1], _on_floor(probes["output_grad_norm"], floor)

    fig = per_layer_figure(snap, "grad", t("title_grad", lang), t("ax_grad", lang), series, lang,
                           type="log", dtick=1, exponentformat="power")
    if has_zero:
        fig.add_hline(y=floor, line=dict(color="#9ca3af", width=1, dash="dot"), annotation_text=t("zero_floor", lang),
                      annotation_position="bottom right", annotation_font=dict(size=11, color="#6b7280"))
    return fig


def _on_floor(values, floor: float) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.where(values == 0, floor, np.nan))  # NaN (no gradient yet) stays a gap


def inactive_figure(snap: dict, lang: str = "en") -> go.Figure:
    names = layer_labels(snap["n_layers"], lang)
    meaning = t(f"inactive_{snap['config']['activation']}", lang)

    def series(probes):
        for i, layer in enumerate(probes["layers"]):
            yield names[i], layer["inactive_share"]

    return per_layer_figure(snap, "inactive", t("title_inactive", lang, meaning=meaning), t("ax_inactive", lang),
                            series, lang, tickformat=".0%", range=[-0.02, 1.02])


# -- BN internals ----------------------------------------------------------------------------------------------


def _bn_layers(snap: dict):
    """The BN internals of the BN network, else of the noisy-BN one (the same BatchNorm layers)."""
    twins = snap.get("twins", {})
    twin = twins.get("bn") or twins.get("noisy-bn")
    if not twin:
        return None, []
    probes = twin["probes"]
    return probes, [(i, layer["bn_internals"])
                    for i, layer in enumerate(probes["layers"]) if "bn_internals" in layer]


def gamma_beta_figure(snap: dict, lang: str = "en") -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=["γ", "β"])
    style(fig, "gamma-beta", snap, title=t("title_gamma_beta", lang), height=400)
    probes, layers = _bn_layers(snap)
    colors = layer_colors(len(layers))
    for (name, internals), color in zip(layers, colors):
        name = layer_label(name, snap["n_layers"], lang)
        for col, param in ((1, "gamma"), (2, "beta")):
            mean, std = internals[f"{param}_mean"], internals[f"{param}_std"]
            steps = probes["step"]
            fill = _hex_alpha(color, 0.15)
            fig.add_trace(line(steps, mean - std, name="", color=fill, width=0, showlegend=False, group=name,
                               hoverinfo="skip"), row=1, col=col)
            fig.add_trace(line(steps, mean + std, name="", color=fill, width=0, showlegend=False, group=name,
                               fill="tonexty", fillcolor=fill, hoverinfo="skip"), row=1, col=col)
            fig.add_trace(line(steps, mean, name=name, color=color, group=name, showlegend=col == 1,
                               hover=f"{'γ' if param == 'gamma' else 'β'} %{{y:.3g}}"), row=1, col=col)
    if not layers:
        add_note(fig, t("no_bn_in_plain", lang) if snap.get("twins") else t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=t("ax_gamma_beta", lang), row=1, col=1)
    return mark_events(fig, snap, lang)


def _hex_alpha(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def bn_stats_figure(snap: dict, lang: str = "en") -> go.Figure:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=[t("ax_mean", lang), t("ax_variance", lang)])
    style(fig, "bn-stats", snap, title=f"{t('title_bn_stats', lang)}<br><sup>{t('bn_stats_key', lang)}</sup>",
          height=420)
    probes, layers = _bn_layers(snap)
    for (name, internals), color in zip(layers, layer_colors(len(layers))):
        name = layer_label(name, snap["n_layers"], lang)
        for col, stat in ((1, "mean"), (2, "var")):
            fig.add_trace(line(probes["step"], internals[f"running_{stat}"], group=name, color=color,
                               name=t("series_running", lang, layer=name), showlegend=col == 1,
                               hover="%{y:.3g}"), row=1, col=col)
            fig.add_trace(line(probes["step"], internals[f"batch_{stat}"], group=name, color=color, dash="dot",
                               name=t("series_batch", lang, layer=name), showlegend=col == 1,
                               hover="%{y:.3g}"), row=1, col=col)
    if not layers:
        add_note(fig, t("no_bn_in_plain", lang) if snap.get("twins") else t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang))
    return mark_events(fig, snap, lang)


def bn_accuracy_figure(snap: dict, lang: str = "en") -> go.Figure:
    fig = new_figure("bn-acc", snap, title=t("title_bn_acc", lang))
    bn = snap.get("twins", {}).get("bn")
    if bn and len(bn["eval"]["step"]):
        held = bn["eval"]
        fig.add_trace(line(held["step"], held["acc"], name=t("series_heldout", lang, net=twin_label("bn", lang)),
                           color=TWIN_COLORS["bn"], width=2.5, mode="lines+markers", marker=dict(size=5),
                           hover="%{y:.2%}"))
        fig.add_trace(line(held["step"], held["acc_batch_stats"], name=t("series_batchstats", lang,
                           net=twin_label("bn", lang)), color="#7c3aed", width=2, dash="dash",
                           mode="lines+markers", marker=dict(size=5, symbol="diamond"), hover="%{y:.2%}"))
    plain = snap.get("twins", {}).get("plain")
    if plain and len(plain["eval"]["step"]):
        fig.add_trace(line(plain["eval"]["step"], plain["eval"]["acc"], name=t("series_heldout", lang,
                           net=twin_label("plain", lang)), color=rgba("plain", 0.55), width=1.5, hover="%{y:.2%}"))
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    elif not bn:
        add_note(fig, t("no_bn_in_plain", lang), y=0.9)
    fig.update_xaxes(title_text=t("ax_step", lang))
    fig.update_yaxes(title_text=t("ax_acc", lang), tickformat=".0%", range=[0, 1.02])
    return mark_events(fig, snap, lang)


# -- internal covariate shift ----------------------------------------------------------------------------------


def _stacked_layer_figure(snap: dict, lang: str, chart: str, title: str, subtitles: tuple[str, str],
                          names: list[str], series, hovers: tuple[str, str], first_layer: int = 0) -> go.Figure:
    """Two stacked panels sharing the step axis, one line per (twin, layer) in each: `series` yields
    (twin, layer index, steps, top values, bottom values). `names[j]` is layer first_layer + j, and it
    gets that layer's colour, so a layer has one colour in every chart."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=list(subtitles))
    style(fig, chart, snap, title=title, height=520)
    colors = layer_colors(first_layer + len(names))[first_layer:]
    for twin, j, steps, top, bottom in series:
        label = t("series_layer", lang, net=twin_label(twin, lang), layer=names[j])
        for row, values, hover in ((1, top, hovers[0]), (2, bottom, hovers[1])):
            fig.add_trace(line(steps, values, name=label, color=colors[j], dash=LAYER_DASH[twin],
                               group=f"{twin}-{j}", showlegend=row == 1, hover=hover), row=row, col=1)
    if not fig.data:
        add_note(fig, t("waiting_data", lang))
    fig.update_xaxes(title_text=t("ax_step", lang), row=2, col=1)
    return mark_events(fig, snap, lang)


def ics_figure(snap: dict, lang: str = "en") -> go.Figure:
    """Santurkar et al.'s ‖G − G′‖ and cos(G, G′) per layer (layer 2 up to the output), per twin."""
    names = layer_labels(snap["n_layers"], lang, output=True)[1:]  # ICS exists for layers 2 … output

    def series():
        for twin in twin_names(snap):
            ics = snap["twins"][twin]["ics"]
            if len(ics["step"]):
                for j in range(min(len(names), ics["l2"].shape[1])):
                    yield twin, j, ics["step"], ics["l2"][:, j], ics["cos"][:, j]

    fig = _stacked_layer_figure(snap, lang, "ics", t("title_ics", lang), (t("ax_l2", lang), t("ax_cos", lang)),
                                names, series(), ("%{y:.3g}", "%{y:.3f}"), first_layer=1)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=1, col=1)
    fig.update_yaxes(range=[-1.05, 1.05], row=2, col=1)
    return fig


def drift_figure(snap: dict, lang: str = "en") -> go.Figure:
    """Mean and standard deviation of each layer's input to the nonlinearity over the probe batch."""

    def series():
        for twin in twin_names(snap):
            probes = snap["twins"][twin]["probes"]
            kind = nonlinearity_input_kind(snap, twin)
            for i, layer in enumerate(probes["layers"]):
                if kind in layer and len(probes["step"]):
                    yield twin, i, probes["step"], layer[kind]["mean"], layer[kind]["std"]

    return _stacked_layer_figure(snap, lang, "drift", t("title_drift", lang), (t("ax_mean", lang), t("ax_std", lang)),
                                 layer_labels(snap["n_layers"], lang), series(), ("%{y:.3g}", "%{y:.3g}"))


# -- held-out digits with predictions ------------------------------------------------------------------------


GALLERY_COLUMNS = 8
GALLERY_PAD = 0.16  # share of a tile left blank around each image


def gallery_figure(snap: dict, lang: str = "en") -> go.Figure:
    """The held-out gallery as one mosaic image, each tile captioned with every twin's predicted label
    (red ✗ for a mistake). One heatmap of uint8 pixels keeps the JSON small."""
    gallery = snap.get("gallery") or {}
    images, labels = gallery.get("images"), gallery.get("labels")
    steps = [snap["twins"][n]["gallery"]["step"] for n in twin_names(snap)
             if snap["twins"][n].get("gallery", {}).get("step") is not None]
    n = 0 if images is None else len(images)
    title = t("title_gallery", lang, n=n, step=f"{max(steps):,}" if steps else "—")
    fig = new_figure("gallery", snap, title=title, height=120 + 150 * max(1, math.ceil(n / GALLERY_COLUMNS)))
    if not n or not steps:
        add_note(fig, t("gallery_none", lang))
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    classes = (snap.get("dataset") or {}).get("classes") or [str(c) for c in range(10)]
    h, w = images.shape[1:]
    rows = math.ceil(n / GALLERY_COLUMNS)
    pad = max(1, round(h * GALLERY_PAD))
    tile_h, tile_w = h + 2 * pad + round(h * 0.55), w + 2 * pad  # room under each image for its caption
    mosaic = np.full((rows * tile_h, GALLERY_COLUMNS * tile_w), 0, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, GALLERY_COLUMNS)
        mosaic[r * tile_h + pad : r * tile_h + pad + h, c * tile_w + pad : c * tile_w + pad + w] = images[k]
    fig.add_trace(go.Heatmap(z=mosaic, colorscale=[[0, "#ffffff"], [1, "#111827"]], showscale=False,
                             hoverinfo="skip", zmin=0, zmax=255))
    for k in range(n):
        r, c = divmod(k, GALLERY_COLUMNS)
        truth = int(labels[k])
        parts = []
        for name in twin_names(snap):
            preds = snap["twins"][name]["gallery"]["predictions"]
            if k >= len(preds):
                continue
            guess = int(preds[k])
            ok = guess == truth
            mark = t("gallery_correct" if ok else "gallery_wrong", lang)
            colour = "#15803d" if ok else "#dc2626"
            parts.append(f"<span style='color:{TWIN_COLORS[name]}'>{twin_label(name, lang)}</span> "
                         f"<span style='color:{colour}'><b>{classes[guess]}</b> {mark}</span>")
        fig.add_annotation(x=c * tile_w + tile_w / 2 - 0.5, y=r * tile_h + pad + h + round(h * 0.3),
                           text="<br>".join(parts), showarrow=False, font=dict(size=11), yanchor="middle",
                           hovertext=t("gallery_truth", lang, label=classes[truth]))
    fig.update_xaxes(visible=False, range=[-0.5, GALLERY_COLUMNS * tile_w - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(hovermode="closest")
    return fig


# -- before the first run ------------------------------------------------------------------------------------


def intro_figure(lang: str = "en") -> go.Figure:
    """What BN does to one unit: a mini-batch of pre-activations before and after normalisation.
    Shown before the first run (it also makes the browser load Plotly before Start is pressed)."""
    values = np.random.default_rng(0).gamma(shape=3.0, scale=1.2, size=512) + 1.0  # skewed, shifted, wide
    normalised = (values - values.mean()) / np.sqrt(values.var() + 1e-5)
    edges = np.linspace(-4, 12, 65)
    fig = new_figure("intro", {"run_id": 0}, title=t("title_intro", lang), height=320)
    for name, data, colour in (("before", values, TWIN_COLORS["plain"]), ("after", normalised, TWIN_COLORS["bn"])):
        counts, _ = np.histogram(data, edges)
        fig.add_trace(go.Bar(x=f32(bin_centres(edges)), y=f32(counts / len(data)), marker_color=colour, opacity=0.75,
                             name=t(f"intro_{name}", lang, mean=f"{data.mean():.1f}", std=f"{data.std():.1f}"),
                             hovertemplate="%{x:.2f}: %{y:.1%}<extra></extra>"))
    fig.update_layout(barmode="overlay", bargap=0, hovermode="closest")
    fig.update_xaxes(title_text=t("ax_unit_input", lang))
    fig.update_yaxes(title_text=t("ax_share_batch", lang), tickformat=".0%")
    return fig


# -- summaries for the page ----------------------------------------------------------------------------------


def dataset_caption(snap: dict, lang: str) -> str:
    ds = snap.get("dataset") or {}
    if not ds:
        return ""
    return t("data_splits", lang, train=split_label(ds, "train", lang), test=split_label(ds, "test", lang)) + \
        f" · {dataset_name(ds['name'], lang)}"
