"""Live controls, as TensorFlow Playground has them: change the learning rate while the run trains,
advance a paused run by one or N steps, and have it pause by itself at a chosen step.

One compact row. Its callbacks only hand the request to the run, which applies it between two steps in
its own thread (Runner.set_lr / step / set_pause_at), so a click never waits for training. A value the
run refuses (a learning rate outside RunConfig's rule) is kept as its ConfigError and phrased by
strings.config_problem until a value is taken or another run starts.
"""

from __future__ import annotations

import streamlit as st

from ..config import MAX_STEPS, ConfigError, RunConfig
from ..runner import ACTIVE
from .state import SessionRuns
from .strings import config_problem, number, t

LR_KEY = "live_lr"
STEPS_KEY = "live_steps"
PAUSE_AT_KEY = "live_pause_at"
MAX_STEP_CLICK = 1000  # the most steps one Step click trains
ERROR_KEY = "live_error"  # session state: the ConfigError of the last value the run refused
RUN_KEY = "live_run"  # session state: the run whose values the inputs were filled with


def live_controls(runs: SessionRuns, lang: str) -> None:
    runner = runs.runner  # one look-up: the registry may let go of the run meanwhile
    status = runner.status if runner is not None else None
    active, paused = status in ACTIVE, status == "paused"
    progress = runner.progress() if runner is not None else {}
    _fill(runner, progress)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.number_input(t("live_lr", lang), key=LR_KEY, format="%.4f", step=0.001, disabled=not active,
                     help=t("live_lr_help", lang), width=150)
    row.button(t("live_lr_apply", lang), key="live_apply", icon=":material/speed:", disabled=not active,
               on_click=_on_apply, args=(runs,))
    row.number_input(t("live_steps", lang), key=STEPS_KEY, min_value=1, max_value=MAX_STEP_CLICK, step=1,
                     disabled=not paused, width=110)
    row.button(t("live_step", lang), key="live_step", icon=":material/skip_next:", disabled=not paused,
               on_click=_on_step, args=(runs,), help=t("live_step_help", lang))
    row.number_input(t("live_pause_at", lang), key=PAUSE_AT_KEY, min_value=1, max_value=MAX_STEPS, step=1,
                     placeholder=t("live_pause_at_none", lang), disabled=not active, width=150)
    row.button(t("live_pause_at_set", lang), key="live_set_pause_at", icon=":material/flag:",
               disabled=not active, on_click=_on_pause_at, args=(runs,), help=t("live_pause_at_help", lang))
    if active and progress.get("pause_at") is not None:
        row.caption(t("live_pause_at_note", lang, step=number(progress["pause_at"])))
    error = st.session_state.get(ERROR_KEY)
    if error is not None:
        st.error(t("live_refused", lang, problem=config_problem(error, lang)), icon=":material/block:")


def _fill(runner, progress: dict) -> None:
    """A new run (or none yet): the inputs start from its learning rate, one step, no pause-at step."""
    state = st.session_state
    run_id = runner.run_id if runner is not None else None
    if RUN_KEY in state and state[RUN_KEY] == run_id:
        return
    state[RUN_KEY] = run_id
    state[LR_KEY] = float(progress.get("lr") or (runner.config.lr if runner is not None else RunConfig().lr))
    state[STEPS_KEY] = 1
    state[PAUSE_AT_KEY] = None
    state.pop(ERROR_KEY, None)


def _control(runs: SessionRuns, call) -> None:
    """Hand one request to the session's run, if it is still live; keep a refused value's error."""
    runner = runs.runner  # a stale click may race with the run's end
    if runner is None or runner.ended:
        return
    try:
        call(runner)
    except ConfigError as exc:
        st.session_state[ERROR_KEY] = exc
    else:
        st.session_state.pop(ERROR_KEY, None)


def _on_apply(runs: SessionRuns) -> None:
    _control(runs, lambda runner: runner.set_lr(st.session_state[LR_KEY]))


def _on_step(runs: SessionRuns) -> None:
    _control(runs, lambda runner: runner.step(st.session_state[STEPS_KEY]))


def _on_pause_at(runs: SessionRuns) -> None:
    _control(runs, lambda runner: runner.set_pause_at(st.session_state[PAUSE_AT_KEY]))  # empty: None, cancel
