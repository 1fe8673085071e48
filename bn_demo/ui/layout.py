"""The main area: header, run buttons, the live view (a fragment that refreshes only while a run
trains) with its chart tabs, and the concepts section."""

from __future__ import annotations

import math
import os
import time

import streamlit as st

from .. import record as rec
from ..config import NORM_ARMS, ConfigError, RunConfig
from ..seeds import stat
from . import export, figures, params, state
from .controls import error_line, key, projector_on, shown_code
from .live_controls import live_controls
from .strings import (
    arms_facts,
    collapse_reason,
    data_problem,
    dataset_name,
    divergence_reason,
    duration,
    field_name,
    layer_label,
    link_allowed,
    net_name,
    number,
    partial_note,
    run_error,
    split_label,
    t,
    twin_label,
)

# The live view's refresh period while a run trains. Each refresh costs the server ~0.1 s of Python (the
# GIL the training thread needs) and the browser a Plotly redraw; at 2 s a browser on the same 2-core
# machine leaves training most of its speed (bench/results/app.md). A shared classroom server may set more.
REFRESH_SECONDS = float(os.environ.get("BN_DEMO_REFRESH_SECONDS", "2.0"))
# A paused run's page still checks in now and then, so the idle reaper (bn_demo/sessions.py) can
# tell an open tab from a closed one without Streamlit's help.
HEARTBEAT_SECONDS = 20.0
FIRST_POINT_REFRESH_SECONDS = 0.3
# The lesson first: what a student sees after Start without a click (issue 10). The others are for depth.
TABS = ("lesson", "curves", "distributions", "paper", "gradients", "internals", "ics", "predictions", "downloads")
KINDS = ("input", "linear", "bn", "act")  # "input": the input to the nonlinearity, which both twins have
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


# Page styles. Streamlit's default top padding (6rem) and a full-size title left no chart above the fold at
# a projector's 1280×720 (issue 10). Projector mode folds the sidebar away: the compact control row and
# the settings line above the lesson stand in for it.
PAGE_CSS = ("[data-testid='stMainBlockContainer'] {padding-top: 2rem; padding-bottom: 3rem} "
            "[data-testid='stHeader'] {background: transparent}")  # the title shows through the toolbar's strip
PROJECTOR_CSS = ("[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'], "
                 "[data-testid='stExpandSidebarButton'] {display: none} "
                 "[data-testid='stMainBlockContainer'] {padding-left: 1.5rem; padding-right: 1.5rem; max-width: 100%}")


def header(lang: str, welcome: bool) -> None:
    """The title, and for a first look (`welcome`: no run yet) the one-line idea of the lab."""
    st.html(f"<style>{PAGE_CSS} {PROJECTOR_CSS if projector_on() else ''}</style>")
    if projector_on():  # the class knows where it is: every pixel goes to the lesson
        return
    st.markdown("### :material/science: " + t("page_title", lang))
    if welcome:
        st.caption(t("tagline", lang))


def link_warning(lang: str) -> None:
    """Name each bad link parameter. Keys and values are user text: they are shown literally
    (params.literal), never as Markdown, and a link with many bad keys is summed up after a few."""
    # The page's own settings first: a link stuffed with unknown keys must not push them out of view.
    problems = sorted(st.session_state.get("link_problems") or [], key=lambda p: p.field not in params.URL_KEYS)
    if problems:
        fields = [t("url_field", lang, value=params.literal(p.value),
                    field=field_name(p.field, lang) if p.field in params.URL_KEYS else params.literal(p.field),
                    allowed=link_allowed(p, lang))
                  for p in problems[:params.PROBLEMS_SHOWN]]
        if len(problems) > params.PROBLEMS_SHOWN:
            fields.append(t("url_more", lang, n=len(problems) - params.PROBLEMS_SHOWN))
        st.warning(t("url_warning", lang, fields="; ".join(fields)), icon=":material/warning:")


# -- buttons --------------------------------------------------------------------------------------------------


# The button callbacks return at once: they never wait for a run (issue 8, a blank page under Start/Stop
# spam). A callback runs before the script has drawn anything, and while it runs the previous page is
# only "stale". If that script run ends early without a rerun (Streamlit's own "Stop" in the top bar,
# which shows while a script runs and has the same name as our Stop), Streamlit counts it as finished
# and removes every element it did not redraw: the whole page, sidebar included, goes blank until the
# next full run, which nothing triggers. Start used to wait up to 1.5 s for the first point (the whole
# 1.5 s when the run queues behind another tab) and Stop up to 2 s for the thread, so that window was
# seconds long on every click. Now the page is redrawn within milliseconds of a click; the wait for
# the first point happens in live_view, after the controls are on screen.
FIRST_POINT_KEY = "await_first_point"  # session state: the run whose Start click may wait for its step-0 point


def _on_start(runs: state.SessionRuns, data_dir) -> None:
    from .controls import read_config

    if runs.active:  # a click from a page drawn before the run started (the button is disabled now): once is enough
        return
    config, error = read_config()
    if error is None:
        st.session_state.pop("link_problems", None)
        runner = state.start_run(runs, config, data_dir, preset=st.session_state[key("preset")])
        st.session_state[FIRST_POINT_KEY] = runner.run_id


def _on_pause(runs: state.SessionRuns) -> None:
    runner = runs.runner  # one look-up: a stale click may race with the run's end
    if runner is None or runner.ended:
        return
    if runner.status == "paused":
        runner.resume()
    else:
        runner.pause()


def _on_stop(runs: state.SessionRuns) -> None:
    # No join: stop() ends the run for every reader at once (status "stopped", slot returned); its thread
    # leaves within a step in the background. A click from a stale page on an ended run does nothing.
    runner = runs.runner
    if runner is not None and not runner.ended:
        runner.stop()


def control_bar(runs: state.SessionRuns, config: RunConfig, error: ConfigError | None, lang: str,
                data_dir=None) -> None:
    runner = runs.runner  # one look-up: the registry may let go of the run meanwhile
    active = runner is not None and runner.status in state.ACTIVE
    paused = runner is not None and runner.status == "paused"
    # One row of buttons sized to their labels (they wrap rather than cut a label: "Re…", "일시…" at 1280×720).
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(t("start", lang), type="primary", icon=":material/play_arrow:", key="btn_start",
               disabled=active or error is not None, on_click=_on_start, args=(runs, data_dir),
               help=t("start_help", lang), width="content")
    row.button(t("resume" if paused else "pause", lang), key="btn_pause", disabled=not active,
               icon=":material/play_arrow:" if paused else ":material/pause:", on_click=_on_pause, args=(runs,),
               width="content")
    row.button(t("stop", lang), key="btn_stop", icon=":material/stop:", disabled=not active,
               on_click=_on_stop, args=(runs,), width="content")
    row.button(t("reset", lang), key="btn_reset", icon=":material/restart_alt:", disabled=runner is None,
               on_click=state.reset, args=(runs,), help=t("reset_help", lang), width="content")
    # Changing the learning rate, stepping and pause-at-step: one click away, so the lesson stays above the fold.
    with row.popover(t("live_controls", lang), icon=":material/tune:", width="content"):
        live_controls(runs, lang)
    with row.popover(t("replay_open", lang), icon=":material/folder_open:", width="content"):
        replay_picker(lang)
    row.toggle(t("projector", lang), key=key("projector"), help=t("projector_help", lang))
    if projector_on():
        st.caption(t("projector_settings", lang, preset=st.session_state[key("preset")],
                     dataset=dataset_name(config.dataset, lang), lr=f"{config.lr:g}", batch=config.batch_size,
                     model=t(f"model_{config.model}", lang),
                     seeds=t("projector_seeds", lang, first=config.seed, last=config.seeds[-1]) if config.repeats > 1
                     else ""))
    if error is not None:
        st.error(error_line(error, lang), icon=":material/block:")
    elif active and runner.config.to_dict() != config.to_dict() and runner.fallback is None:
        row.caption(":material/info: " + t("settings_apply_next", lang))


# -- the live view --------------------------------------------------------------------------------------------


# A session's first page sends its intro picture this long after the rest. The page's first Plotly chart
# makes the browser load and start Plotly.js, which held back the first paint of the Start button on a
# 2-core machine (page open 2.5 s without the pause, 1.6-2.0 s with it; bench/app_bench.py --page); the
# elements drawn before it stream to the browser meanwhile. Plotly.js still loads before Start is
# pressed, so the first chart after Start does not wait for it. (A deferred rerun from a timer did the
# same but raced with a visitor's first clicks; this is only a pause within the first script run.)
INTRO_SHOWN = "intro_shown"  # session state: the intro picture has been sent once
INTRO_DELAY_SECONDS = 0.8


def live_view(runs: state.SessionRuns, lang: str, data_dir=None) -> None:
    runner = runs.runner
    # The sidebar above was drawn while the run was still loading its data: redraw it once the first point
    # exists (the live view's first-point rerun), even when the wait below already brought that point.
    sidebar_loading = runner is not None and runner.setting_up
    if runner is not None and st.session_state.pop(FIRST_POINT_KEY, None) == runner.run_id:
        # Here, not in the Start callback: the sidebar and the buttons are on screen already (_on_start).
        state.wait_for_first_point(runner)
    status = runner.status if runner is not None else None  # one look-up: the run may end meanwhile
    refreshing, active = status in state.REFRESHING, status in state.ACTIVE
    # Until the first measurement exists, check back quickly: the charts should appear within a
    # second or two of Start, not a whole refresh period later.
    loading = sidebar_loading or (status == "running" and not runner.has_first_point)
    # run_every is fixed when the fragment is declared, so it is declared anew on every full run:
    # refreshing while a run trains, static otherwise (a paused or finished run costs nothing).
    # While Ray connects, check back too: the teacher's line says "connecting" until it has connected or failed.
    connecting = state.backend_connecting()
    every = (FIRST_POINT_REFRESH_SECONDS if loading else REFRESH_SECONDS) if refreshing \
        else HEARTBEAT_SECONDS if active else REFRESH_SECONDS if connecting else None
    st.fragment(run_every=every)(_live_body)(runs, lang, data_dir, refreshing, loading, active, connecting)


def _live_body(runs: state.SessionRuns, lang: str, data_dir, was_refreshing: bool, was_loading: bool,
               was_active: bool = False, was_connecting: bool = False) -> None:
    state.keep_alive(runs)
    if was_connecting and not state.backend_connecting():
        st.rerun()  # connected, or fell back to threads: a full run draws the line and stops the timer
    backend_note(lang)
    if state.fall_back_if_unavailable(runs, data_dir):
        st.rerun()  # a full run, so the sidebar and buttons show the fallback run
    runner = runs.runner
    if runner is None:
        if was_active:  # the run was let go of between full runs (its session released, say): redraw the buttons
            st.rerun()
        st.info(t("no_run", lang), icon=":material/arrow_back:")
        if not st.session_state.get(INTRO_SHOWN):  # a session's first page (see INTRO_DELAY_SECONDS)
            st.session_state[INTRO_SHOWN] = True
            time.sleep(INTRO_DELAY_SECONDS)
        explained(figures.intro_figure(lang), "chart_intro", t("explain_intro", lang), t("look_intro", lang))
        return
    if was_refreshing and not runs.refreshing:
        state.archive(runs, runner, data_dir)
        st.rerun()  # the run ended or paused: redraw the buttons, stop the timer
    if was_loading and runner.has_first_point:
        st.rerun()  # the first point has arrived: the sidebar's data state changes, the timer slows down
    snap = runs.record(runner)
    status_panel(snap, lang)
    if not snap.get("twins"):
        return
    chart_tabs(runs, snap, lang)
    run_facts(snap, lang)


def backend_note(lang: str) -> None:
    """One small line for the teacher when runs are to train outside this server's threads
    (BN_DEMO_BACKEND=ray): where they train and the free slots, or why they train in threads after all.
    Nothing on the default thread backend."""
    backend = state.backend_state()
    if backend is None:
        return
    if "error" in backend:
        error = backend["error"]
        st.warning(t("backend_fallback", lang, problem=t(f"page_backend_{error['code']}", lang, **error)),
                   icon=":material/lan:")
    elif backend.get("connecting"):
        st.caption(":material/lan: " + t("backend_connecting", lang))
    else:
        st.caption(":material/lan: " + t("backend_line", lang, free=backend["free"], slots=backend["slots"],
                                         nodes=backend["nodes"]))


def status_panel(snap: dict, lang: str) -> None:
    """What the run is doing and what happened to it, read from its record alone (a replay too)."""
    progress, status = snap["progress"], snap["status"]
    device = snap.get("device") or "…"
    if snap.get("fallback"):
        notice(t("fallback_notice", lang, problem=data_problem(snap["fallback"], lang),
                 steps=number(snap["config"]["steps"]), most=number(state.FALLBACK_MAX_STEPS)),
               snap["fallback"].get("detail"), lang)
    if status == "failed":
        notice(t("run_failed", lang, message=run_error(snap["error"], lang)), (snap["error"] or {}).get("detail"),
               lang, kind="error")
        return
    if status == "queued":
        queue = state.queue_state()
        line = "status_queued_line_ray" if queue["backend"] == "ray" else "status_queued_line"
        st.progress(0.0, text=t(line, lang, position=progress["queue_position"] or 1,
                                busy=queue["busy"], slots=queue["slots"]))
        if progress.get("slot_released"):
            st.info(t("status_requeued", lang), icon=":material/hourglass_top:")
        return
    if not snap.get("twins"):  # still setting up, or stopped before it began (while queued, say)
        st.progress(0.0, text=t("status_stopped_early", lang) if status == "stopped"
                    else t("status_loading", lang, device=device))
        return
    total = progress["total_steps"] or 0
    text = t("status_line", lang, step=number(progress["step"]), total=number(total),
             rate=number(progress["samples_per_second"] or 0),
             eta=duration(progress["eta_seconds"]) if progress["eta_seconds"] is not None else t("eta_unknown", lang),
             device=device, status=t(f"status_{status}", lang))
    st.progress(min(1.0, progress["fraction"] or 0.0), text=text)
    budget = snap.get("budget") or {}
    if status == "paused" and progress.get("slot_released"):
        st.info(t("status_paused_released", lang, grace=duration(progress["pause_grace"])), icon=":material/info:")
    if status == "stopped" and snap.get("stop_reason") == "budget":
        line = (t("stopped_budget_work", lang, step=number(progress["step"]), steps=number(budget["step_limit"]))
                if budget.get("hit") == "work" else
                t("stopped_budget_seconds", lang, step=number(progress["step"]), limit=duration(budget["seconds"])))
        st.warning(line, icon=":material/timer_off:")
    for name, twin in snap["twins"].items():
        others_going = any(tw["status"] == "running" for n, tw in snap["twins"].items() if n != name)
        if twin["status"] == "diverged":
            sentence = t("diverged", lang, net=net_name(name, lang), step=number(twin["diverged_at_step"]),
                         reason=divergence_reason(twin, lang))
            st.error(sentence + (" " + t("diverged_goes_on", lang) if others_going else ""), icon=":material/error:")
        elif twin.get("collapsed_at_step") is not None:
            sentence = t("collapsed", lang, net=net_name(name, lang), step=number(twin["collapsed_at_step"]),
                         reason=collapse_reason(twin, snap["n_layers"], lang))
            st.warning(sentence + (" " + t("collapsed_goes_on", lang) if twin["status"] == "running" else ""),
                       icon=":material/heart_broken:")


def notice(line: str, detail: str | None, lang: str, kind: str = "warning") -> None:
    """One short translated line; a technical detail (a download error's own words, server-side and
    path-free) stays folded away beneath it, shown as literal text."""
    box = st.error if kind == "error" else st.warning
    box(line, icon=":material/block:" if kind == "error" else ":material/inventory_2:")
    if detail:
        with st.expander(t("technical_detail", lang)):
            st.code(detail, language=None)


def run_lost_notice(runs: state.SessionRuns, lang: str) -> None:
    """Until the session's first run: the run this page's link named was ended when its page went away."""
    if state.LOST_RUN not in st.session_state:
        return
    if runs.runner is not None:
        del st.session_state[state.LOST_RUN]
        return
    st.info(t("run_lost", lang), icon=":material/wifi_off:")


def run_facts(snap: dict, lang: str) -> None:
    """Under the charts: the held-out numbers and which data the run uses."""
    metrics_row(snap, lang)
    st.caption(figures.dataset_caption(snap, lang))
    st.caption(arms_facts(snap, lang))  # each network's parameters and where weight decay applies
    dataset = snap.get("dataset") or {}
    if dataset.get("partial"):
        st.info(partial_note(dataset, lang), icon=":material/info:")


def metrics_row(snap: dict, lang: str) -> None:
    twins = snap["twins"]
    seeds = snap["config"].get("repeats", 1)
    # Short labels ("BN · accuracy") keep four metrics whole at a projector's 1280×720; what the numbers
    # are is said once, above them, and each one's step in its help.
    if seeds > 1:
        first = snap["config"]["seed"]
        st.caption(t("metrics_caption_seeds", lang, first=first, last=first + seeds - 1))
    else:
        st.caption(t("metrics_caption", lang))
    # At most four metrics to a row (two networks): more arms wrap onto further rows, whole.
    cols = [col for _ in range(0, len(twins), 2) for col in st.columns(4)]
    ds = snap.get("dataset") or {}
    # Over several seeds each number is the mean over the seeds where it is finite, ± their sample sd.
    acc = {name: stat(rec.seed_finals(snap, name, "test_acc")) for name in twins}
    loss = {name: stat(rec.seed_finals(snap, name, "test_loss")) for name in twins}
    for i, (name, twin) in enumerate(twins.items()):
        # The delta is against the plain network when there is one, else against the only other network.
        others = [n for n in twins if n != name]
        ref = "plain" if "plain" in others else others[0] if len(others) == 1 else None
        mine, other = acc[name]["mean"], acc[ref]["mean"] if ref else None
        delta = None
        if _finite(mine) and _finite(other):
            delta = t("points", lang, value=f"{100 * (mine - other):+.1f}")
        help_text = t("metric_acc_help", lang, split=split_label(ds, "test", lang),
                      step=number(twin["final"]["eval_step"] or 0))
        cols[2 * i].metric(t("metric_acc", lang, net=twin_label(name, lang)), _mean_sd(acc[name], percent=True),
                           delta=delta, help=help_text, border=True)
        cols[2 * i + 1].metric(t("metric_loss", lang, net=twin_label(name, lang)), _mean_sd(loss[name]),
                               help=help_text, border=True)


def _mean_sd(summary: dict, percent: bool = False) -> str:
    """A metric's value, "93.1%" or "0.231", over seeds "93.1 ± 0.8 %" or "0.231 ± 0.012"; "—" for none."""
    mean, sd = summary["mean"], summary["sd"]
    if mean is None:
        return "—"
    if sd is None:
        return f"{mean:.1%}" if percent else f"{mean:.3f}"
    return f"{100 * mean:.1f} ± {100 * sd:.1f} %" if percent else f"{mean:.3f} ± {sd:.3f}"


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def explained(fig, chart_key: str, what: str, look: str, *, ratio=(3.2, 1)) -> None:
    """A chart with its explanation beside it: what it shows, what to look for."""
    lang = st.session_state.get(key("lang"), "en")
    chart, text = st.columns(ratio, gap="medium")
    with chart:
        show_chart(fig, chart_key)
    with text.container(border=True):
        st.markdown(f"**{t('what_shows', lang)}**  \n{what}")
        st.markdown(f"**{t('look_for', lang)}**  \n{look}")


def show_chart(fig, chart_key: str) -> None:
    """Every chart goes out here: at projector size in projector mode."""
    st.plotly_chart(figures.enlarge(fig) if projector_on() else fig, key=chart_key, config=PLOTLY_CONFIG,
                    theme=None)


def chart_tabs(runs: state.SessionRuns, snap: dict, lang: str) -> None:
    tabs = st.tabs([t(f"tab_{name}", lang) for name in TABS], key="chart_tab", on_change="rerun")
    for name, tab in zip(TABS, tabs):
        if tab.open is False:  # lazy: a hidden tab costs nothing (None = state not tracked: draw all)
            continue
        with tab:
            TAB_DRAWERS[name](runs, snap, lang)


def _probe_facts(snap: dict) -> dict:
    return {"n": snap["probe"]["size"],
            "every": snap["cadence"]["probe_every"]}


# Chart height in the lesson: with the compact header, both charts sit above the fold at 1280×720.
LESSON_HEIGHT = 320


def _tab_lesson(runs, snap, lang) -> None:
    """The lesson on one screen: held-out accuracy of both twins beside the distribution of one hidden
    layer's input to the nonlinearity (the BN paper's quantity), and one sentence computed from the record."""
    n_layers = snap["n_layers"]
    pick, sentence = st.columns([1, 4.5], vertical_alignment="center")
    layer = shown_code("lesson_layer", pick.selectbox(
        t("lesson_layer", lang), range(n_layers), index=n_layers - 1, key="lesson_layer", label_visibility="collapsed",
        format_func=lambda i: t("lesson_layer_option", lang, layer=layer_label(i, n_layers, lang))))
    sentence.markdown(lesson_sentence(snap, layer, lang))
    accuracy, bands = st.columns([2, 3], gap="small")
    with accuracy:
        show_chart(figures.curves_figure(snap, "acc", lang, with_train=False, height=LESSON_HEIGHT), "lesson_acc")
    with bands:
        # No legend: each panel's title names its network.
        show_chart(figures.bands_figure(snap, layer, "input", lang, height=LESSON_HEIGHT).update_layout(
            showlegend=False), "lesson_bands")


def lesson_sentence(snap: dict, layer: int, lang: str) -> str:
    """How far each twin's input to the nonlinearity moved since step 0 (record.drift), in one sentence."""
    parts, span = [], None
    for name in snap["twins"]:
        moved = rec.drift(snap, name, layer)
        if moved is None:
            continue
        span = moved
        ratio = moved["spread_ratio"]
        parts.append(t("lesson_part", lang, net=twin_label(name, lang),
                       ratio=f"{ratio:.2g}" if _finite(ratio) else "—", shift=f"{moved['median_shift']:+.2g}"))
    if span is None:
        return t("lesson_waiting", lang)
    return t("lesson_sentence", lang, layer=layer_label(layer, snap["n_layers"], lang),
             start=number(span["from_step"]), step=number(span["to_step"]), parts="; ".join(parts))


def _tab_curves(runs, snap, lang) -> None:
    labels = {str(run["run_id"]): _past_label(run, lang) for run in runs.history if run["run_id"] != snap.get("run_id")}
    chosen = []
    if labels:
        chosen = shown_code("overlay_runs", st.multiselect(t("overlay_past", lang), list(labels), key="overlay_runs",
                                                           format_func=labels.get))
    past = [run for run in runs.history if str(run["run_id"]) in chosen]
    weight = st.slider(t("smoothing", lang), 0.0, 0.99, figures.SMOOTHING, step=0.01, key="curve_smoothing",
                       help=t("smoothing_help", lang), width=360)
    explained(figures.curves_figure(snap, "loss", lang, past, smoothing=weight), "chart_loss",
              t("explain_loss", lang), t("look_loss", lang))
    explained(figures.curves_figure(snap, "acc", lang, past, smoothing=weight), "chart_acc",
              t("explain_acc", lang), t("look_acc", lang))


def _past_label(run: dict, lang: str) -> str:
    cfg = run["config"]
    return t("history_row", lang, run=run["run_id"], preset=run["preset"], dataset=run["dataset"],
             lr=f"{cfg['lr']:g}", batch=cfg["batch_size"], status=t(f"status_{run['status']}", lang))


def _tab_distributions(runs, snap, lang) -> None:
    layers = range(snap["n_layers"])
    has_bn = any(n in NORM_ARMS for n in snap["twins"])  # a normalisation layer's output to show
    kinds = KINDS if has_bn else ("input", "linear", "act")
    # One row that wraps rather than cuts a label ("post-activ…" in fixed columns at 1280×720).
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    layer = shown_code("dist_layer", row.selectbox(t("layer", lang), layers, key="dist_layer", width=170,
                                                   format_func=lambda i: layer_label(i, snap["n_layers"], lang)))
    if st.session_state.get("dist_kind") not in kinds:
        st.session_state["dist_kind"] = "input"  # both networks have it: the view opens on two panels
    kind = shown_code("dist_kind", row.segmented_control(t("quantity", lang), kinds, key="dist_kind", required=True,
                                                         format_func=lambda k: figures.kind_label(k, lang),
                                                         width="content"))
    span = row.slider(t("compare_steps", lang), 0, 100, (0, 100), step=1, key="dist_steps", format="%d%%",
                      width=260)
    every_layer = row.toggle(t("all_layers", lang), key="dist_all_layers", help=t("all_layers_help", lang),
                             width="content")
    facts = _probe_facts(snap)
    look = t({"input": "look_bands_input", "bn": "look_bands_bn"}.get(kind, "look_bands"), lang)
    if every_layer:
        explained(figures.bands_grid_figure(snap, kind, lang), "chart_bands_grid", t("explain_bands", lang, **facts),
                  look)
    else:
        explained(figures.bands_figure(snap, layer, kind, lang), "chart_bands", t("explain_bands", lang, **facts),
                  look)
    explained(figures.heatmap_figure(snap, layer, kind, lang), "chart_heatmap", t("explain_heatmap", lang),
              t("look_heatmap", lang))
    explained(figures.histogram_figure(snap, layer, kind, (span[0] / 100, span[1] / 100), lang), "chart_hist",
              t("explain_hist", lang), t("look_hist", lang))
    outside = figures.outside_share(snap, layer, kind)
    if outside > 0.001:
        st.caption(t("outside_bins", lang, share=f"{outside:.1%}"))
    st.caption(t("mode_probe", lang) + ".")


def _tab_paper(runs, snap, lang) -> None:
    width = snap["config"]["hidden"][-1]
    unit = st.slider(t("unit", lang), 0, max(0, width - 1), 0, key="paper_unit") if width > 1 else 0
    explained(figures.paper_figure(snap, unit, lang), "chart_paper", t("explain_paper", lang), t("look_paper", lang))
    st.caption(t("mode_probe", lang) + ".")


def _tab_gradients(runs, snap, lang) -> None:
    explained(figures.grad_figure(snap, lang), "chart_grad", t("explain_grad", lang), t("look_grad", lang))
    explained(figures.inactive_figure(snap, lang), "chart_inactive",
              t("explain_inactive", lang, meaning=t(f"inactive_{snap['config']['activation']}", lang)),
              t("look_inactive", lang))


def _tab_internals(runs, snap, lang) -> None:
    explained(figures.gamma_beta_figure(snap, lang), "chart_gamma_beta", t("explain_gamma_beta", lang),
              t("look_gamma_beta", lang))
    explained(figures.bn_stats_figure(snap, lang), "chart_bn_stats", t("explain_bn_stats", lang),
              t("look_bn_stats", lang))
    explained(figures.bn_accuracy_figure(snap, lang), "chart_bn_acc",
              t("explain_bn_acc", lang, batch_mode=t("mode_eval_batch_stats", lang)), t("look_bn_acc", lang))


def _tab_ics(runs, snap, lang) -> None:
    st.info(t("ics_honest", lang), icon=":material/science:")
    # The statement about this run is computed from its numbers, never written in advance.
    ics = rec.ics_comparison(snap)
    # Every other network against the plain one when the run has it, else against its first network.
    names = list(snap["twins"])
    ref = "plain" if "plain" in names else names[0] if names else None
    others = [n for n in names if n != ref and not (n == "bn" and ref == "plain")]
    arm_lines = []
    for name in others:
        pair = rec.ics_comparison(snap, name, ref)
        if pair is not None:
            rel_ratio = pair["rel"]["ratio"]
            arm_lines.append("- " + t("ics_arm_line", lang, net=net_name(name, lang), ref=net_name(ref, lang),
                                      arm=f"{pair[name]:.3g}", other=f"{pair[ref]:.3g}", ratio=f"{pair['ratio']:.2g}",
                                      rel_ratio=f"{rel_ratio:.2g}" if rel_ratio is not None else "—"))
    if ics is None and not arm_lines:
        st.caption(t("ics_not_yet", lang))
    elif ics is None:
        st.markdown("\n".join(arm_lines))
    else:
        larger = ics["larger"] == "bn"
        lines = [t("ics_bn_larger" if larger else "ics_bn_smaller", lang, bn=f"{ics['bn']:.3g}",
                   plain=f"{ics['plain']:.3g}", ratio=f"{ics['ratio'] if larger else 1 / ics['ratio']:.1f}")]
        rel = ics["rel"]
        if rel["ratio"] is not None:  # a record saved before the relative ICS existed has none
            bigger = rel["larger"] == "bn"
            lines[0] += " " + t("ics_rel_larger" if bigger else "ics_rel_smaller", lang, bn=f"{rel['bn']:.3g}",
                                plain=f"{rel['plain']:.3g}",
                                ratio=f"{rel['ratio'] if bigger else 1 / rel['ratio']:.1f}")
        starts = {n: t("ics_phase_from", lang, step=f"{s:,}") if s is not None else t("ics_phase_never", lang)
                  for n, s in ics["memorised_from"].items()}
        lines.append(t("ics_phases", lang, window=f"{ics['window']:,}", threshold=f"{ics['threshold']:.0%}",
                       bn=starts["bn"], plain=starts["plain"]))
        for phase in rec.PHASES:
            summary, counts = ics["phases"][phase], {n: ics["counts"][n][phase] for n in ("bn", "plain")}
            name = t(f"phase_{phase}", lang)
            if summary["abs"]["ratio"] is None:
                lines.append("- " + t("ics_phase_empty", lang, phase=name))
            else:
                rel_ratio = summary["rel"]["ratio"]
                lines.append("- " + t("ics_phase_line", lang, phase=name, n_bn=counts["bn"], n_plain=counts["plain"],
                                      ratio=f"{summary['abs']['ratio']:.2g}",
                                      rel_ratio=f"{rel_ratio:.2g}" if rel_ratio is not None else "—"))
        st.markdown("\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:] + arm_lines))
    # Drift of the last hidden layer's input to the nonlinearity from step 0, at the last step every
    # network was probed: record.drift_series (net median shift, spread ratio, W1; per network, no reference).
    if names:
        layer = snap["n_layers"] - 1
        series = {n: rec.drift_series(snap, n, layer) for n in names}
        common = (sorted(set.intersection(*(set(s["step"].tolist()) for s in series.values())))
                  if all(series.values()) else [])
        if len(common) < 2:
            st.caption(t("drift_not_yet", lang))
        else:
            at = {n: series[n]["step"].tolist().index(common[-1]) for n in series}
            value = {n: {k: series[n][k][at[n]] for k in (*rec.DRIFT_METRICS, "outside", "unit_w1")} for n in series}
            where = dict(layer=layer_label(layer, snap["n_layers"], lang), step=f"{common[-1]:,}")
            pair = all(n in series for n in ("bn", "plain"))
            if pair:  # the BN-vs-plain sentence, then one line per further network
                text = t("drift_numbers", lang, **where,
                         **{f"{n}_{short}": f"{value[n][k]:{fmt}}" for n in ("bn", "plain") for short, k, fmt in (
                             ("shift", "median_shift", "+.3g"), ("spread", "spread_ratio", ".3g"), ("w1", "w1", ".3g"))})
            else:
                text = t("drift_arm_intro", lang, **where)
            for n in series:
                if value[n]["outside"] > 0.001:
                    text += " " + t("drift_outside", lang, share=f"{value[n]['outside']:.1%}", net=net_name(n, lang))
            extra = [n for n in names if not (pair and n in ("bn", "plain"))]
            text += "\n" * bool(extra) + "".join("\n- " + t("drift_arm_line", lang, net=net_name(n, lang),
                                        shift=f"{value[n]['median_shift']:+.3g}",
                                        spread=f"{value[n]['spread_ratio']:.3g}", w1=f"{value[n]['w1']:.3g}",
                                        unit_w1=f"{value[n]['unit_w1']:.3g}" if math.isfinite(value[n]["unit_w1"])
                                        else "—") for n in extra)
            st.markdown(text)
    left, right = st.columns(2, gap="medium")
    with left:
        show_chart(figures.ics_figure(snap, lang), "chart_ics")
        st.caption(t("explain_ics", lang, every=snap["cadence"]["ics_every"]))
    with right:
        show_chart(figures.drift_figure(snap, lang), "chart_drift")
        st.caption(t("explain_drift", lang))


def _tab_predictions(runs, snap, lang) -> None:
    n = len((snap.get("gallery") or {}).get("labels", []))
    split = split_label(snap["dataset"], "test", lang)
    explained(figures.gallery_figure(snap, lang), "chart_gallery", t("explain_gallery", lang, n=n, split=split),
              t("look_gallery", lang))


def _tab_downloads(runs, snap, lang) -> None:
    runner = runs.runner
    # A live run's files are built from a fresh record only when clicked, not on every refresh; a replay's
    # record is the one on screen.
    latest = (lambda: snap) if replaying() or runner is None else runner.record
    st.subheader(t("downloads", lang))
    stem = export.file_stem(snap)
    cols = st.columns(3)
    cols[0].download_button(t("download_json", lang), data=lambda: export.record_json(latest()),
                            file_name=f"{stem}-record.json", mime="application/json", on_click="ignore",
                            icon=":material/download:", key="dl_json", help=t("download_help", lang))
    cols[1].download_button(t("download_csv", lang), data=lambda: export.metrics_csv(latest()),
                            file_name=f"{stem}-metrics.csv", mime="text/csv", on_click="ignore",
                            icon=":material/download:", key="dl_csv", help=t("download_help", lang))
    cols[2].download_button(t("download_hist", lang), data=lambda: export.histograms_json(latest()),
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


TAB_DRAWERS = {"lesson": _tab_lesson, "curves": _tab_curves, "distributions": _tab_distributions, "paper": _tab_paper,
               "gradients": _tab_gradients, "internals": _tab_internals, "ics": _tab_ics,
               "predictions": _tab_predictions, "downloads": _tab_downloads}


# -- replay: a saved record, every tab as it was ------------------------------------------------------------

REPLAY = "replay_record"  # session_state: the record being replayed, or absent


def replaying() -> bool:
    return REPLAY in st.session_state


def replay_picker(lang: str) -> None:
    """Open a run record downloaded earlier (JSON only, schema-checked, size-capped, never unpickled), so a
    teacher can prepare runs at home and show them in class without training. Drawn in the control row's
    popover."""
    st.file_uploader(t("replay_file", lang), type=["json"], key="replay_upload", on_change=_load_replay,
                     help=t("replay_help", lang))
    if st.session_state.get("replay_error"):
        st.error(t(f"replay_error_{st.session_state['replay_error']}", lang), icon=":material/block:")


def _load_replay() -> None:
    upload = st.session_state.get("replay_upload")
    st.session_state.pop("replay_error", None)
    if upload is None:
        return
    try:
        st.session_state[REPLAY] = rec.loads(upload.getvalue())
    except rec.RecordError as exc:
        st.session_state.pop(REPLAY, None)
        st.session_state["replay_error"] = exc.code


def _close_replay() -> None:
    st.session_state.pop(REPLAY, None)
    st.session_state.pop("replay_error", None)


def replay_view(lang: str) -> None:
    """The replayed record through the same panels as a live run; nothing trains, nothing refreshes."""
    snap = st.session_state[REPLAY]
    banner = st.container(horizontal=True, vertical_alignment="center")
    banner.info(t("replay_banner", lang, run=snap["run_id"], step=number(snap["progress"]["step"])),
                icon=":material/history:")
    banner.button(t("replay_close", lang), key="btn_replay_close", icon=":material/close:", on_click=_close_replay,
                  width="content")
    status_panel(snap, lang)
    if snap["twins"]:
        chart_tabs(state.session_runs(), snap, lang)
        run_facts(snap, lang)


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
            # Three short lines: one long formula is cut off in a half-width column.
            st.latex(r"\mathrm{ICS}_i=\big\|G_i-G_i'\big\|_2,\qquad \cos(G_i,G_i')")
            st.latex(r"G_i=\nabla_{W_i}L(W_1^{t},\dots,W_k^{t})")
            st.latex(r"G_i'=\nabla_{W_i}L(W_1^{t+1},\dots,W_{i-1}^{t+1},W_i^{t},\dots,W_k^{t})")
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
