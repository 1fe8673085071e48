"""The learning-rate sweep on the page: a sweep file (bn_demo/sweep.py) → a log-lr Plotly figure.

`sweep_tab(lang)` (the page's "LR sweep" tab) draws a sweep the user opens (a `sweep --out` file), or
the bundled example; `sweep_figure(doc, lang)` is the pure function behind it, tested without Streamlit.

Top panel: steps to the target held-out accuracy per arm and rate (mean over seeds; a rate some seed
never reached is left out). Bottom panel: final held-out accuracy (eval mode), each run's outcome as its
marker (finished ●, diverged ✕, collapsed ▼), the target as a dotted line. A dashed line marks each
arm's highest rate reaching the target: how far apart those lines are is "BN tolerates a higher rate";
how far apart the top panel's curves are at one rate is "BN is better at the same rate".
"""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import TEMPLATE, TWIN_COLORS
from .strings import t, twin_label

SYMBOLS = {"finished": "circle", "diverged": "x", "collapsed": "triangle-down", "stopped": "circle-open"}


def sweep_figure(doc: dict, lang: str) -> go.Figure:
    summary, target = doc["summary"], doc["target"]
    pct = f"{100 * target:g}%"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(t("sweep_panel_steps", lang, target=pct), t("sweep_panel_acc", lang)))
    for arm in doc["arms"]:
        color, name = TWIN_COLORS.get(arm, "#64748b"), twin_label(arm, lang)
        cells = [c for c in summary["cells"] if c["arm"] == arm and c["runs"]]
        reached = [c for c in cells if c["reached"] == c["runs"]]
        fig.add_trace(go.Scatter(x=[c["lr"] for c in reached], y=[c["steps_to_target_mean"] for c in reached],
                                 name=name, legendgroup=arm, mode="lines+markers", line=dict(color=color, width=2.5),
                                 hovertemplate=t("sweep_hover_steps", lang) + "<extra>" + name + "</extra>"),
                      row=1, col=1)
        for outcome, symbol in SYMBOLS.items():
            runs = [(r["lr"], r["arms"][arm]) for r in doc["runs"] if r["arms"].get(arm, {}).get("outcome") == outcome]
            if not runs:
                continue
            fig.add_trace(go.Scatter(
                x=[lr for lr, _ in runs], y=[a["final_test_acc"] for _, a in runs], mode="markers",
                name=t("sweep_legend_outcome", lang, twin=name, outcome=_outcome(outcome, lang)), legendgroup=arm,
                marker=dict(color=color, symbol=symbol, size=10, line=dict(color=color, width=2)),
                hovertemplate=t("sweep_hover_acc", lang) + "<extra>" + name + "</extra>"), row=2, col=1)
        highest = summary["tolerance"].get(arm, {}).get("highest_lr_reaching_target")
        if highest is not None:
            fig.add_vline(x=highest, line=dict(color=color, width=1.2, dash="dash"))  # both panels
            # an annotation on a log axis takes log10 of its position (a shape takes the rate itself)
            fig.add_annotation(x=math.log10(highest), xref="x", y=0.98, yref="y domain", yanchor="top",
                               xanchor="right" if arm == doc["arms"][0] else "left", showarrow=False,
                               text=t("sweep_highest", lang, twin=name, lr=f"{highest:g}"),
                               font=dict(size=11, color=color))
    fig.add_hline(y=target, line=dict(color="#9ca3af", width=1, dash="dot"), row=2, col=1)
    fig.update_xaxes(type="log", dtick=1, tickformat="~g")  # one tick a decade, 0.001 rather than 1m
    fig.update_xaxes(title_text=t("sweep_axis_lr", lang), row=2, col=1)
    fig.update_yaxes(title_text=t("sweep_axis_steps", lang), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text=t("sweep_axis_acc", lang), range=[0, 1.02], tickformat=".0%", row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=620, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0),
                      meta={"chart": "sweep"})
    return fig


def _outcome(code: str, lang: str) -> str:
    return t("cli_outcome_collapsed", lang) if code == "collapsed" else t(f"status_{code}", lang)


# Made by `python -m bn_demo sweep --dataset digits --optimizer sgd --seeds 1-3 --lrs 0.001:10:5
# --out assets/sweep-digits-sgd.json` (18.8 s on the 2-core build VM).
EXAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sweep-digits-sgd.json"


def sweep_tab(lang: str) -> None:
    """A sweep's figure on the page: a `sweep --out` file the user opens, else the bundled example."""
    import streamlit as st

    from .. import sweep
    from .controls import projector_on
    from .figures import enlarge
    from .strings import dataset_name

    st.caption(t("sweep_intro", lang))
    upload = st.file_uploader(t("sweep_upload", lang), type=["json"], key="sweep_upload")
    try:
        doc = sweep.loads(upload.getvalue() if upload is not None else EXAMPLE.read_bytes())
    except sweep.SweepError:
        st.warning(t("sweep_bad_file", lang))
        return
    if upload is None:
        st.caption(t("sweep_example", lang, dataset=dataset_name(doc["config"]["dataset"], lang),
                     optimizer=t(f"opt_{doc['config']['optimizer']}", lang),
                     lrs=", ".join(f"{lr:g}" for lr in doc["lrs"]), seeds=", ".join(map(str, doc["seeds"])),
                     runs=len(doc["runs"])))
    fig = sweep_figure(doc, lang)
    st.plotly_chart(enlarge(fig) if projector_on() else fig, key="chart_sweep", theme=None)
