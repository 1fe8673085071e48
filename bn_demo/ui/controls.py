"""The sidebar: widgets ↔ RunConfig ↔ URL.

Every widget is keyed `w_<setting>` and gets its value only through session state (set from the
link on a session's first run, or from a preset when one is picked), never through a `value=`
argument, so the URL, presets and widgets cannot disagree.
"""

from __future__ import annotations

import streamlit as st

from ..config import (
    ACTIVATIONS,
    BN_PLACEMENTS,
    DATASETS,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_STEPS,
    MODELS,
    OPTIMIZERS,
    PRESETS,
    ConfigError,
    RunConfig,
)
from ..data import resolve_data_dir
from ..model import available_devices, pick_device
from . import params
from .strings import LANG_NAMES, LANGS, dataset_name, preset_summary, t

LR_GRID = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
BATCH_GRID = (2, 4, 8, 16, 32, 60, 64, 100, 128, 256, 512, 1024)
WIDTH_GRID = (4, 8, 16, 32, 64, 100, 128, 256, 512)
INIT_STD_GRID = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
MOMENTUM_GRID = (0.001, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
PACE_GRID = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
SLOW_DEFAULT_PACE = 5.0
KEYS = ("dataset", "model", "lr", "batch_size", "epochs", "steps", "optimizer", "activation", "depth", "width",
        "init", "init_std", "bn_placement", "bn_momentum", "seed", "pace_mode", "pace_rate", "device")


def key(name: str) -> str:
    return f"w_{name}"


# -- session state <-> config ----------------------------------------------------------------------------------


def set_widgets(config: RunConfig) -> None:
    state = st.session_state
    for name in ("dataset", "model", "lr", "batch_size", "epochs", "steps", "optimizer", "activation", "init",
                 "init_std", "bn_placement", "bn_momentum", "seed", "device"):
        state[key(name)] = getattr(config, name)
    state[key("depth")] = len(config.hidden)
    state[key("width")] = max(config.hidden)
    state[key("pace_mode")] = "slow" if config.pace else "full"
    state[key("pace_rate")] = config.pace or state.get(key("pace_rate"), SLOW_DEFAULT_PACE)


def read_config() -> tuple[RunConfig, ConfigError | None]:
    """The widgets' configuration and, if it cannot run, why."""
    state = st.session_state
    values = {name: state[key(name)] for name in ("dataset", "model", "lr", "batch_size", "epochs", "steps",
                                                  "optimizer", "activation", "init", "init_std", "bn_placement",
                                                  "bn_momentum", "seed", "device")}
    values["hidden"] = (int(state[key("width")]),) * int(state[key("depth")])
    values["pace"] = float(state[key("pace_rate")]) if state[key("pace_mode")] == "slow" else 0.0
    config = PRESETS[state[key("preset")]].config(**values)
    try:
        config.validate()
    except ConfigError as exc:
        return config, exc
    return config, None


def init_session() -> str:
    """On a session's first run, load the link's settings into the widgets; return the language."""
    state = st.session_state
    if "initialised" not in state:
        link = params.from_params(st.query_params.to_dict())
        devices = ("auto", *available_devices())
        if link.config.device not in devices:
            link.problems.append(params.Problem("device", link.config.device, "one of " + ", ".join(devices)))
            link.config = link.config.replace(device="auto")
        state[key("preset")] = link.preset
        state[key("lang")] = link.lang
        set_widgets(link.config)
        state["link_problems"] = link.problems
        state["initialised"] = True
    return state[key("lang")]


def sync_url(config: RunConfig, lang: str) -> None:
    wanted = params.to_params(st.session_state[key("preset")], config, lang)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def _apply_preset() -> None:
    set_widgets(PRESETS[st.session_state[key("preset")]].config())
    st.session_state.pop("link_problems", None)


def _with_value(grid, value) -> list:
    """A grid of choices that always contains the current value (a link may carry any valid number)."""
    return sorted({*grid, value}) if value is not None else list(grid)


def _num(value) -> str:
    return f"{value:g}"


# -- the sidebar -------------------------------------------------------------------------------------------


def sidebar(lang: str, data_state) -> tuple[RunConfig, ConfigError | None]:
    """Lay out the sidebar; `data_state(name) -> (state, detail)` describes a dataset's availability."""
    state = st.session_state
    with st.sidebar:
        st.radio(t("language", lang), LANGS, format_func=LANG_NAMES.get, key=key("lang"), horizontal=True)
        lang = state[key("lang")]
        st.header(t("sidebar_setup", lang), divider="blue")
        st.selectbox(t("preset", lang), list(PRESETS), key=key("preset"), on_change=_apply_preset,
                     help=t("preset_help", lang))
        st.caption(preset_summary(state[key("preset")], lang))
        st.selectbox(t("dataset", lang), DATASETS, key=key("dataset"), format_func=lambda d: dataset_name(d, lang))
        _data_caption(state[key("dataset")], data_state, lang)
        st.segmented_control(t("model_mode", lang), MODELS, key=key("model"), required=True, width="stretch",
                             format_func=lambda m: t(f"model_{m}", lang))

        with st.expander(t("section_training", lang), expanded=True):
            st.select_slider(t("lr", lang), _with_value(LR_GRID, state.get(key("lr"))), key=key("lr"),
                             format_func=_num)
            st.select_slider(t("batch_size", lang), _with_value(BATCH_GRID, state.get(key("batch_size"))),
                             key=key("batch_size"))
            col_epochs, col_steps = st.columns(2)
            col_epochs.number_input(t("run_length", lang), min_value=0, max_value=MAX_EPOCHS, step=1,
                                    key=key("epochs"), disabled=bool(state.get(key("steps"))))
            col_steps.number_input(t("steps", lang), min_value=0, max_value=MAX_STEPS, step=100, key=key("steps"),
                                   help=t("steps_help", lang))
            st.selectbox(t("optimizer", lang), OPTIMIZERS, key=key("optimizer"),
                         format_func=lambda o: t(f"opt_{o}", lang))

        with st.expander(t("section_network", lang), expanded=True):
            st.segmented_control(t("activation", lang), ACTIVATIONS, key=key("activation"), required=True,
                                 width="stretch")
            st.slider(t("depth", lang), 1, MAX_LAYERS, key=key("depth"))
            st.select_slider(t("width", lang), _with_value(WIDTH_GRID, state.get(key("width"))), key=key("width"))
            st.selectbox(t("init", lang), ("default", "gaussian"), key=key("init"),
                         format_func=lambda i: t(f"init_{i}", lang))
            st.select_slider(t("init_std", lang), _with_value(INIT_STD_GRID, state.get(key("init_std"))),
                             key=key("init_std"), format_func=_num, disabled=state[key("init")] != "gaussian")

        plain_only = state[key("model")] == "plain"
        with st.expander(t("section_bn", lang), expanded=True):
            st.radio(t("bn_placement", lang), BN_PLACEMENTS, key=key("bn_placement"), disabled=plain_only,
                     format_func=lambda p: t(f"place_{p}", lang))
            st.select_slider(t("bn_momentum", lang), _with_value(MOMENTUM_GRID, state.get(key("bn_momentum"))),
                             key=key("bn_momentum"), format_func=_num, disabled=plain_only,
                             help=t("bn_momentum_help", lang))
            if plain_only:
                st.caption(t("bn_disabled", lang))

        with st.expander(t("section_run", lang), expanded=True):
            st.number_input(t("seed", lang), min_value=0, max_value=2**31 - 1, step=1, key=key("seed"),
                            help=t("seed_help", lang))
            st.segmented_control(t("pace", lang), ("full", "slow"), key=key("pace_mode"), required=True,
                                 width="stretch", format_func=lambda p: t(f"pace_{p}", lang), help=t("pace_help", lang))
            st.select_slider(t("pace_rate", lang), _with_value(PACE_GRID, state.get(key("pace_rate"))),
                             key=key("pace_rate"), format_func=_num, disabled=state[key("pace_mode")] != "slow")
            devices = _with_value(("auto", *available_devices()), None)
            if state.get(key("device")) not in devices:
                devices.append(state[key("device")])
            found = str(pick_device("auto"))
            st.selectbox(t("device", lang), devices, key=key("device"),
                         format_func=lambda d: t("device_auto", lang, found=found) if d == "auto" else d)
            st.caption(t("device_found", lang, devices=", ".join(available_devices())))

        st.caption(":material/link: " + t("share_help", lang))
    return read_config()


def _data_caption(name: str, data_state, lang: str) -> None:
    state, detail = data_state(name)
    where = str(resolve_data_dir())
    text = {
        "offline": lambda: t("data_offline", lang),
        "cached": lambda: t("data_cached", lang, dir=where),
        "partial": lambda: t("data_partial", lang, dir=where),
        "missing": lambda: t("data_missing", lang, dir=where),
        "unavailable": lambda: t("data_unavailable", lang, why=_short(detail)),
        "downloading": lambda: t("data_downloading", lang, name=dataset_name(name, lang)),
    }[state]()
    icon = {"offline": "check_circle", "cached": "check_circle", "partial": "warning", "missing": "download",
            "unavailable": "block", "downloading": "hourglass_top"}[state]
    st.caption(f":material/{icon}: {text}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
