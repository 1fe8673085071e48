"""The main area: header, run buttons, the live view (a fragment that refreshes only while a run
trains) with its chart tabs, and the concepts section."""

from __future__ import annotations

import math
import os

import streamlit as st

from ..config import ConfigError, RunConfig
from . import export, figures, state
from .controls import key
from .strings import dataset_name, divergence_reason, duration, field_name, layer_label, net_name, number, t

# The live view's refresh period while a run trains. Each refresh costs the server ~0.1 s of Python (the
# GIL the training thread needs) and the browser a Plotly redraw; at 2 s a browser on the same 2-core
# machine leaves training most of its speed (bench/results/app.md). A shared classroom server may set more.
REFRESH_SECONDS = float(os.environ.get("BN_DEMO_REFRESH_SECONDS", "2.0"))
# A paused run's page still checks in now and then, so the idle reaper (bn_demo/sessions.py) can
# tell an open tab from a closed one without Streamlit's help.
HEARTBEAT_SECONDS = 20.0
FIRST_POINT_REFRESH_SECONDS = 0.3
TABS = ("curves", "distributions", "paper", "gradients", "internals", "ics", "predictions", "downloads")
KINDS = ("linear", "bn", "act")
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def header(lang: str) -> None:
    st.title(":material/science: " + t("page_title", lang))
    st.markdown(t("tagline", lang))


def link_warning(lang: str) -> None:
    problems = st.session_state.get("link_problems") or []
    if problems:
        fields = "; ".join(t("url_field", lang, field=field_name(p.field, lang), value=p.value,
                             allowed=t("url_unknown", lang) if p.allowed == "unknown setting" else p.allowed)
                           for p in problems)
        st.warning(t("url_warning", lang, fields=fields), icon=":material/warning:")


# -- buttons --------------------------------------------------------------------------------------------------


def _on_start(runs: state.SessionRuns, data_dir) -> None:
    from .controls import read_config

    config, error = read_config()
    if error is None:
        st.session_state.pop("link_problems", None)
        runner = state.start_run(runs, config, data_dir, preset=st.session_state[key("preset")])
        state.wait_for_first_point(runner)


def _on_pause(runs: state.SessionRuns) -> None:
    if runs.runner is None:
        return
    if runs.runner.status == "paused":
        runs.runner.resume()
    else:
        runs.runner.pause()


def _on_stop(runs: state.SessionRuns) -> None:
    if runs.runner is not None:
        runs.runner.stop()
        runs.runner.join(timeout=2.0)


def control_bar(runs: state.SessionRuns, config: RunConfig, error: ConfigError | None, lang: str,
                data_dir=None) -> None:
    active = runs.active
    paused = runs.status == "paused"
    cols = st.columns([1.2, 1.2, 1, 1, 4.6], vertical_alignment="center")
    cols[0].button(t("start", lang), type="primary", icon=":material/play_arrow:", key="btn_start",
                   disabled=active or error is not None, on_click=_on_start, args=(runs, data_dir),
                   help=t("start_help", lang), width="stretch")
    cols[1].button(t("resume" if paused else "pause", lang), key="btn_pause", disabled=not active,
                   icon=":material/play_arrow:" if paused else ":material/pause:", on_click=_on_pause, args=(runs,),
                   width="stretch")
    cols[2].button(t("stop", lang), key="btn_stop", icon=":material/stop:", disabled=not active,
                   on_click=_on_stop, args=(runs,), width="stretch")
    cols[3].button(t("reset", lang), key="btn_reset", icon=":material/restart_alt:", disabled=runs.runner is None,
                   on_click=state.reset, args=(runs,), help=t("reset_help", lang), width="stretch")
    if error is not None:
        st.error(t("config_error", lang, field=field_name(error.field, lang), value=error.value,
                   allowed=error.allowed), icon=":material/block:")
    elif active and runs.runner.config.to_dict() != config.to_dict() and runs.fallback is None:
        cols[4].caption(":material/info: " + t("settings_apply_next", lang))


# -- the live view --------------------------------------------------------------------------------------------


def live_view(runs: state.SessionRuns, lang: str, data_dir=None) -> None:
    refreshing = runs.refreshing
    # Until the first measurement exists, check back quickly: the charts should appear within a
    # second or two of Start, not a whole refresh period later.
    loading = runs.status == "running" and not state.has_first_point(runs.runner)  # not while queued
    # run_every is fixed when the fragment is declared, so it is declared anew on every full run:
    # refreshing while a run trains, static otherwise (a paused or finished run costs nothing).
    every = (FIRST_POINT_REFRESH_SECONDS if loading else REFRESH_SECONDS) if refreshing \
        else HEARTBEAT_SECONDS if runs.active else None
    st.fragment(run_every=every)(_live_body)(runs, lang, data_dir, refreshing, loading)


def _live_body(runs: state.SessionRuns, lang: str, data_dir, was_refreshing: bool, was_loading: bool) -> None:
    state.keep_alive(runs)
    if state.fall_back_if_unavailable(runs, data_dir):
        st.rerun()  # a full run, so the sidebar and buttons show the fallback run
    runner = runs.runner
    if runner is None:
        st.info(t("no_run", lang), icon=":material/arrow_back:")
        explained(figures.intro_figure(lang), "chart_intro", t("explain_intro", lang), t("look_intro", lang))
        return
    if was_refreshing and not runs.refreshing:
        state.archive(runs, runner, data_dir)
        st.rerun()  # the run ended or paused: redraw the buttons, stop the timer
    if was_loading and state.has_first_point(runner):
        st.rerun()  # the first point has arrived: the sidebar's data state changes, the timer slows down
    snap = runner.snapshot()
    status_panel(runs, snap, lang)
    if not snap.get("twins"):
        return
    metrics_row(snap, lang)
    chart_tabs(runs, snap, lang)


def status_panel(runs: state.SessionRuns, snap: dict, lang: str) -> None:
    progress = snap["progress"]
    status = snap["status"]
    device = snap.get("device") or "…"
    if runs.fallback:
        st.warning(t("fallback_notice", lang, name=dataset_name(runs.fallback["dataset"], lang),
                     why=runs.fallback["why"]), icon=":material/inventory_2:")
    if status == "failed":
        st.error(t("run_failed", lang, message=snap["message"]), icon=":material/block:")
        return
    if status == "queued":
        queue = state.queue_state(runs.runner)
        st.progress(0.0, text=t("status_queued_line", lang, position=queue["position"] or 1, busy=queue["busy"],
                                slots=queue["slots"]))
        return
    if not snap.get("twins"):
        st.progress(0.0, text=t("status_loading", lang, device=device))
        return
    total = progress["total_steps"] or snap.get("total_steps") or 0
    text = t("status_line", lang, step=number(snap["step"]), total=number(total),
             rate=number(progress["samples_per_second"] or 0),
             eta=duration(progress["eta_seconds"]) if progress["eta_seconds"] is not None else t("eta_unknown", lang),
             device=device, status=t(f"status_{status}", lang))
    st.progress(min(1.0, progress["fraction"] or 0.0), text=text)
    dataset = snap.get("dataset") or {}
    st.caption(figures.dataset_caption(snap, lang))
    if dataset.get("note"):
        st.info(dataset["note"], icon=":material/info:")
    diverged = [(name, tw) for name, tw in snap["twins"].items() if tw["status"] == "diverged"]
    for name, twin in diverged:
        sentence = t("diverged", lang, net=net_name(name, lang), step=number(twin["diverged_at_step"]),
                     reason=divergence_reason(twin["reason"], lang))
        others_going = any(tw["status"] == "running" for n, tw in snap["twins"].items() if n != name)
        st.error(sentence + (" " + t("diverged_goes_on", lang) if others_going else ""), icon=":material/error:")


def metrics_row(snap: dict, lang: str) -> None:
    twins = snap["twins"]
    cols = st.columns(2 * len(twins))
    ds = snap.get("dataset") or {}
    for i, (name, twin) in enumerate(twins.items()):
        final = twin["final"]
        acc, loss = final["test_acc"], final["test_loss"]
        other = [tw["final"]["test_acc"] for n, tw in twins.items() if n != name]
        delta = None
        if other and _finite(acc) and _finite(other[0]):
            delta = f"{100 * (acc - other[0]):+.1f} pts"
        help_text = t("metric_acc_help", lang, split=ds.get("test_split", "?"),
                      step=number(final["eval_step"] or 0))
        cols[2 * i].metric(t("metric_acc", lang, net=net_name(name, lang)), f"{acc:.1%}" if _finite(acc) else "—",
                           delta=delta, help=help_text, border=True)
        cols[2 * i + 1].metric(t("metric_loss", lang, net=net_name(name, lang)),
                               f"{loss:.3f}" if _finite(loss) else "—", help=help_text, border=True)


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def explained(fig, chart_key: str, what: str, look: str, *, ratio=(3.2, 1)) -> None:
    """A chart with its explanation beside it: what it shows, what to look for."""
    lang = st.session_state.get(key("lang"), "en")
    chart, text = st.columns(ratio, gap="medium")
    chart.plotly_chart(fig, key=chart_key, config=PLOTLY_CONFIG, theme=None)
    with text.container(border=True):
        st.markdown(f"**{t('what_shows', lang)}**  \n{what}")
        st.markdown(f"**{t('look_for', lang)}**  \n{look}")


def chart_tabs(runs: state.SessionRuns, snap: dict, lang: str) -> None:
    tabs = st.tabs([t(f"tab_{name}", lang) for name in TABS], key="chart_tab", on_change="rerun")
    for name, tab in zip(TABS, tabs):
        if tab.open is False:  # lazy: a hidden tab costs nothing (None = state not tracked: draw all)
            continue
        with tab:
            TAB_DRAWERS[name](runs, snap, lang)


def _probe_facts(snap: dict) -> dict:
    return {"n": next(iter(snap["twins"].values()))["probes"]["probe_size"],
            "every": snap["cadence"]["probe_every"]}


def _tab_curves(runs, snap, lang) -> None:
    labels = {str(run["run_id"]): _past_label(run, lang) for run in runs.history if run["run_id"] != snap.get("run_id")}
    chosen = []
    if labels:
        chosen = st.multiselect(t("overlay_past", lang), list(labels), key="overlay_runs", format_func=labels.get)
    past = [run for run in runs.history if str(run["run_id"]) in chosen]
    explained(figures.curves_figure(snap, "loss", lang, past), "chart_loss", t("explain_loss", lang),
              t("look_loss", lang))
    explained(figures.curves_figure(snap, "acc", lang, past), "chart_acc", t("explain_acc", lang),
              t("look_acc", lang))


def _past_label(run: dict, lang: str) -> str:
    cfg = run["config"]
    return t("history_row", lang, run=run["run_id"], preset=run["preset"], dataset=run["dataset"],
             lr=f"{cfg['lr']:g}", batch=cfg["batch_size"], status=t(f"status_{run['status']}", lang))


def _tab_distributions(runs, snap, lang) -> None:
    layers = snap.get("layer_names") or []
    has_bn = "bn" in snap["twins"]
    kinds = KINDS if has_bn else ("linear", "act")
    c1, c2, c3 = st.columns([1, 2, 2])
    layer = c1.selectbox(t("layer", lang), range(len(layers)), format_func=lambda i: layer_label(layers[i], lang),
                         key="dist_layer")
    if st.session_state.get("dist_kind") not in kinds:
        st.session_state["dist_kind"] = "bn" if has_bn else "linear"
    kind = c2.segmented_control(t("quantity", lang), kinds, key="dist_kind", required=True,
                                format_func=lambda k: figures.kind_label(k, lang))
    span = c3.slider(t("compare_steps", lang), 0, 100, (0, 100), step=1, key="dist_steps", format="%d%%")
    facts = _probe_facts(snap)
    explained(figures.bands_figure(snap, layer, kind, lang), "chart_bands", t("explain_bands", lang, **facts),
              t("look_bands", lang))
    explained(figures.heatmap_figure(snap, layer, kind, lang), "chart_heatmap", t("explain_heatmap", lang),
              t("look_heatmap", lang))
    explained(figures.histogram_figure(snap, layer, kind, (span[0] / 100, span[1] / 100), lang), "chart_hist",
              t("explain_hist", lang), t("look_hist", lang))
    outside = figures.outside_share(snap, layer, kind)
    if outside > 0.001:
        st.caption(t("outside_bins", lang, share=f"{outside:.1%}"))
    st.caption(f"{snap['modes']['probe']}.")


def _tab_paper(runs, snap, lang) -> None:
    width = snap["config"]["hidden"][-1]
    unit = st.slider(t("unit", lang), 0, max(0, width - 1), 0, key="paper_unit") if width > 1 else 0
    explained(figures.paper_figure(snap, unit, lang), "chart_paper", t("explain_paper", lang), t("look_paper", lang))
    st.caption(f"{snap['modes']['probe']}.")


def _tab_gradients(runs, snap, lang) -> None:
    explained(figures.grad_figure(snap, lang), "chart_grad", t("explain_grad", lang), t("look_grad", lang))
    explained(figures.inactive_figure(snap, lang), "chart_inactive",
              t("explain_inactive", lang, meaning=snap.get("inactive_meaning", "")), t("look_inactive", lang))


def _tab_internals(runs, snap, lang) -> None:
    explained(figures.gamma_beta_figure(snap, lang), "chart_gamma_beta", t("explain_gamma_beta", lang),
              t("look_gamma_beta", lang))
    explained(figures.bn_stats_figure(snap, lang), "chart_bn_stats", t("explain_bn_stats", lang),
              t("look_bn_stats", lang))
    explained(figures.bn_accuracy_figure(snap, lang), "chart_bn_acc",
              t("explain_bn_acc", lang, batch_mode=snap["modes"]["eval_batch_stats"]), t("look_bn_acc", lang))


def _tab_ics(runs, snap, lang) -> None:
    st.info(t("ics_honest", lang), icon=":material/science:")
    left, right = st.columns(2, gap="medium")
    with left:
        st.plotly_chart(figures.ics_figure(snap, lang), key="chart_ics", config=PLOTLY_CONFIG, theme=None)
        st.caption(t("explain_ics", lang, every=snap["cadence"]["ics_every"]))
    with right:
        st.plotly_chart(figures.drift_figure(snap, lang), key="chart_drift", config=PLOTLY_CONFIG, theme=None)
        st.caption(t("explain_drift", lang))


def _tab_predictions(runs, snap, lang) -> None:
    n = len((snap.get("gallery") or {}).get("labels", []))
    split = (snap.get("dataset") or {}).get("test_split", "?")
    explained(figures.gallery_figure(snap, lang), "chart_gallery", t("explain_gallery", lang, n=n, split=split),
              t("look_gallery", lang))


def _tab_downloads(runs, snap, lang) -> None:
    runner = runs.runner
    st.subheader(t("downloads", lang))
    stem = export.file_stem(snap)
    cols = st.columns(3)
    # Callables: the file is built from a fresh snapshot only when clicked, not on every refresh.
    cols[0].download_button(t("download_json", lang), data=lambda: export.metrics_json(runner.snapshot()),
                            file_name=f"{stem}-metrics.json", mime="application/json", on_click="ignore",
                            icon=":material/download:", key="dl_json", help=t("download_help", lang))
    cols[1].download_button(t("download_csv", lang), data=lambda: export.metrics_csv(runner.snapshot()),
                            file_name=f"{stem}-metrics.csv", mime="text/csv", on_click="ignore",
                            icon=":material/download:", key="dl_csv", help=t("download_help", lang))
    cols[2].download_button(t("download_hist", lang), data=lambda: export.histograms_json(runner.snapshot()),
                            file_name=f"{stem}-histograms.json", mime="application/json", on_click="ignore",
                            icon=":material/download:", key="dl_hist", help=t("download_help", lang))
    st.subheader(t("history", lang))
    if not runs.history:
        st.caption(t("history_empty", lang))
        return
    rows = []
    for run in runs.history:
        for name, twin in run["twins"].items():
            rows.append({t("col_run", lang): f"#{run['run_id']}", t("col_net", lang): net_name(name, lang),
                         t("col_settings", lang): _past_label(run, lang).split(": ", 1)[-1],
                         t("col_status", lang): t(f"status_{twin['status']}", lang),
                         t("col_steps", lang): run["steps"],
                         t("col_acc", lang): twin["final_acc"] if _finite(twin["final_acc"]) else None})
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={t("col_acc", lang): st.column_config.ProgressColumn(
                     t("col_acc", lang), min_value=0.0, max_value=1.0, format="percent")})


TAB_DRAWERS = {"curves": _tab_curves, "distributions": _tab_distributions, "paper": _tab_paper,
               "gradients": _tab_gradients, "internals": _tab_internals, "ics": _tab_ics,
               "predictions": _tab_predictions, "downloads": _tab_downloads}


# -- concepts ---------------------------------------------------------------------------------------------


def concepts(lang: str) -> None:
    st.markdown(t("concepts_intro", lang))
    left, right = st.columns(2, gap="large")
    with left:
        with st.container(border=True):
            st.subheader(t("concept_grad_title", lang))
            st.markdown(t("concept_grad", lang))
            st.latex(r"\frac{\partial L}{\partial h_1}=\frac{\partial L}{\partial h_L}\prod_{l=2}^{L}"
                     r"W_l^{\top}\,\mathrm{diag}\!\big(\sigma'(z_l)\big),\qquad \sigma'(z)\le\tfrac14")
        with st.container(border=True):
            st.subheader(t("concept_ics_title", lang))
            st.markdown(t("concept_ics", lang))
            st.latex(r"\mathrm{ICS}_i=\big\|G_i-G_i'\big\|_2,\quad \cos(G_i,G_i'),\qquad "
                     r"G_i=\nabla_{W_i}L(W_1^{t},\dots,W_k^{t}),\; G_i'=\nabla_{W_i}L(W_1^{t+1},\dots,W_{i-1}^{t+1},"
                     r"W_i^{t},\dots,W_k^{t})")
    with right:
        with st.container(border=True):
            st.subheader(t("concept_bn_title", lang))
            st.markdown(t("concept_bn", lang))
            st.latex(r"\mu_B=\frac1n\sum_{i=1}^n x_i,\qquad \sigma_B^2=\frac1n\sum_{i=1}^n(x_i-\mu_B)^2")
            st.latex(r"\hat x_i=\frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}},\qquad y_i=\gamma\,\hat x_i+\beta")
            st.markdown(t("concept_bn_after", lang))
        with st.container(border=True):
            st.subheader(t("concept_mode_title", lang))
            st.markdown(t("concept_mode", lang))
            st.latex(r"\hat\mu\leftarrow(1-m)\,\hat\mu+m\,\mu_B,\qquad "
                     r"\hat\sigma^2\leftarrow(1-m)\,\hat\sigma^2+m\,\tfrac{n}{n-1}\,\sigma_B^2")
            st.latex(r"y_{\text{eval}}=\gamma\,\frac{x-\hat\mu}{\sqrt{\hat\sigma^2+\epsilon}}+\beta")
