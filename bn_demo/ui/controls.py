"""The sidebar: widgets ↔ RunConfig ↔ URL.

Every widget is keyed `w_<setting>` and gets its value only through session state (set from the
link on a session's first run, or from a preset when one is picked), never through a `value=`
argument, so the URL, presets and widgets cannot disagree. The widgets are RunConfig's "widget"
fields (config.WIDGET_FIELDS); the hidden widths are shown as depth and width, the pace as a mode
(full speed or slow motion) and a rate.

Widgets hold codes ("default", "both"), never labels, and a language switch changes no setting.
Streamlit's selectbox, radio, segmented control and select slider send the browser's *label* of their
value back (the output of `format_func`), and the server turns it back into a code with the mapping of
its latest run. Right after a language switch the two disagree: a label the browser still holds in
the old language is not found among the new labels, Streamlit passes it through as the value, and
it lands in session state ("init = PyTorch default (Kaiming uniform)", then "device = auto → cpu",
and in the link). So the page keeps the codes it last showed (CODES) and writes them back to every
widget when the language changes: the widgets then hold codes again, and the browser is sent their
labels in the new language.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from ..config import (
    ACTIVATIONS,
    ARMS,
    BN_PLACEMENTS,
    DATASETS,
    DEVICES,
    INITS,
    MODELS,
    OPTIMIZERS,
    PAGE_LIMITS,
    PRESETS,
    WIDGET_FIELDS,
    ConfigError,
    RunConfig,
)
from . import params
from .state import found_devices
from .strings import LANG_NAMES, LANGS, config_problem, data_problem, dataset_name, preset_summary, t

LR_GRID = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
# The grids end at the page's limits (config.PAGE_LIMITS), which links are held to as well.
BATCH_GRID = (2, 4, 8, 16, 32, 60, 64, 100, 128, 256, 512, PAGE_LIMITS["batch_size"].high)
WIDTH_GRID = (4, 8, 16, 32, 64, 100, 128, 256, PAGE_LIMITS["width"].high)
INIT_STD_GRID = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
MOMENTUM_GRID = (0.001, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
PACE_GRID = (PAGE_LIMITS["pace"].low, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, PAGE_LIMITS["pace"].high)
PACE_MODES = ("full", "slow")
SLOW_DEFAULT_PACE = 5.0
# RunConfig fields with a widget of their own; hidden and pace are shown by two widgets each.
PLAIN_FIELDS = tuple(name for name in WIDGET_FIELDS if name not in ("hidden", "pace"))
CODES = "widget_codes"  # session state: the widgets' values as the page last showed them (codes)
VIEW_CODES = "view_codes"  # session state: the same for the main area's choice widgets (layer, quantity)


def key(name: str) -> str:
    return f"w_{name}"


# -- session state <-> config ----------------------------------------------------------------------------------


def widget_values(config: RunConfig, pace_rate: float | None = None) -> dict[str, object]:
    """The widgets' values (by widget key) that show `config`; `pace_rate` is the slow-motion rate
    kept for a config at full speed."""
    values = {key(name): getattr(config, name) for name in PLAIN_FIELDS}
    values[key("arms")] = list(config.twins)  # "Pick networks" starts from the networks shown now
    values[key("depth")] = len(config.hidden)
    values[key("width")] = max(config.hidden)
    values[key("pace_mode")] = "slow" if config.pace else "full"
    values[key("pace_rate")] = config.pace or pace_rate or SLOW_DEFAULT_PACE
    return values


def set_widgets(config: RunConfig) -> None:
    state = st.session_state
    for name, value in widget_values(config, state.get(key("pace_rate"))).items():
        state[name] = value


def read_config(data_dir=None, values: Mapping | None = None) -> tuple[RunConfig, ConfigError | None]:
    """The widgets' configuration and, if it cannot run, why: everything Start would refuse is found
    here, before Start (the page's limits, a batch larger than the training split on disk). `values`
    are the widgets' values by key (default: session state)."""
    state = st.session_state
    values = state if values is None else values
    changes = {name: values[key(name)] for name in PLAIN_FIELDS}
    changes["hidden"] = (int(values[key("width")]),) * int(values[key("depth")])
    changes["pace"] = float(values[key("pace_rate")]) if values[key("pace_mode")] == "slow" else 0.0
    # The picked networks count only in "Pick networks" mode (config: given arms decide alone).
    changes["arms"] = tuple(changes["arms"] or ()) if changes["model"] == "arms" else ()
    config = PRESETS[state[key("preset")]].config(**changes)
    try:
        config.check_page_limits().validate().check_training_split(data_dir)
    except ConfigError as exc:
        return config, exc
    return config, None


def error_line(error: ConfigError, lang: str) -> str:
    """One short line for a setting that cannot run, in the page's language; the value is shown
    literally (it may have come from a link)."""
    return t("config_error", lang, problem=config_problem(error, lang, value=params.literal(error.value)))


def init_session() -> str:
    """On a session's first run, load the link's settings into the widgets; return the language."""
    state = st.session_state
    if "initialised" not in state:
        link = params.from_params(st.query_params.to_dict())
        found = found_devices()  # None until the warm-up has looked (a run names an absent device itself)
        devices = ("auto", *found) if found is not None else DEVICES
        if link.config.device not in devices:
            link.problems.append(params.Problem("device", link.config.device, "device_absent", {"devices": devices}))
            link.config = link.config.replace(device="auto")
        state[key("preset")] = link.preset
        state[key("lang")] = link.lang
        state[key("projector")] = link.projector
        set_widgets(link.config)
        state["link_problems"] = link.problems
        state["initialised"] = True
    return state[key("lang")]


def projector_on() -> bool:
    """Projector mode (a view setting, kept in the link): large chart text, the sidebar folded away."""
    return bool(st.session_state.get(key("projector")))


def sync_url(config: RunConfig, lang: str) -> None:
    wanted = params.to_params(st.session_state[key("preset")], config, lang, projector_on())
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def _apply_preset() -> None:
    set_widgets(PRESETS[st.session_state[key("preset")]].config())
    st.session_state.pop("link_problems", None)


def _on_language() -> None:
    """A language switch: write back the codes the page showed last, before any label of the old
    language can be read as a value (see the module's docstring)."""
    state = st.session_state
    for name, value in {**(state.get(CODES) or {}), **(state.get(VIEW_CODES) or {})}.items():
        state[name] = value


def shown_code(widget_key: str, value):
    """Note the code a main-area choice widget (a layer, a quantity) returned, for the next language
    switch (see the module's docstring: the browser would send back its old-language label); returns it."""
    st.session_state.setdefault(VIEW_CODES, {})[widget_key] = value
    return value


def _with_value(grid, value) -> list:
    """A grid of choices that always contains the current value (a link may carry any valid number)."""
    return sorted({*grid, value}) if value is not None else list(grid)


def _num(value) -> str:
    return f"{value:g}"


# -- the sidebar -------------------------------------------------------------------------------------------


def sidebar(lang: str, data_state) -> tuple[RunConfig, ConfigError | None]:
    """Lay out the sidebar; `data_state(name) -> (state, detail)` describes a dataset's availability.
    The configuration is read from what the widgets return (always one of their options), and those
    codes are kept for the next language switch."""
    state = st.session_state
    shown = {}  # widget key -> the value the widget returned: a code or a number

    def widget(name, make, *args, **kwargs):
        shown[key(name)] = make(*args, key=key(name), **kwargs)
        return shown[key(name)]

    with st.sidebar:
        st.radio(t("language", lang), LANGS, format_func=LANG_NAMES.get, key=key("lang"), horizontal=True,
                 on_change=_on_language)
        lang = state[key("lang")]
        st.header(t("sidebar_setup", lang), divider="blue")
        preset = st.selectbox(t("preset", lang), list(PRESETS), key=key("preset"), on_change=_apply_preset,
                              help=t("preset_help", lang))
        st.caption(preset_summary(preset, lang))
        dataset = widget("dataset", st.selectbox, t("dataset", lang), DATASETS,
                         format_func=lambda d: dataset_name(d, lang))
        _data_caption(dataset, data_state, lang)
        model = widget("model", st.segmented_control, t("model_mode", lang), MODELS, required=True, width="stretch",
                       format_func=lambda m: t(f"model_{m}", lang))
        widget("arms", st.multiselect, t("arms", lang), ARMS, format_func=lambda a: t(f"twin_{a}", lang),
               disabled=model != "arms", help=t("arms_help", lang))

        with st.expander(t("section_training", lang), expanded=True):
            widget("lr", st.select_slider, t("lr", lang), _with_value(LR_GRID, state.get(key("lr"))), format_func=_num)
            widget("batch_size", st.select_slider, t("batch_size", lang),
                   _with_value(BATCH_GRID, state.get(key("batch_size"))))
            col_epochs, col_steps = st.columns(2)
            widget("epochs", col_epochs.number_input, t("run_length", lang), *PAGE_LIMITS["epochs"], step=1,
                   disabled=bool(state.get(key("steps"))))
            widget("steps", col_steps.number_input, t("steps", lang), *PAGE_LIMITS["steps"], step=100,
                   help=t("steps_help", lang))
            widget("optimizer", st.selectbox, t("optimizer", lang), OPTIMIZERS,
                   format_func=lambda o: t(f"opt_{o}", lang))

        with st.expander(t("section_network", lang), expanded=True):
            widget("activation", st.segmented_control, t("activation", lang), ACTIVATIONS, required=True,
                   width="stretch")
            widget("depth", st.slider, t("depth", lang), *PAGE_LIMITS["depth"])
            widget("width", st.select_slider, t("width", lang), _with_value(WIDTH_GRID, state.get(key("width"))))
            init = widget("init", st.selectbox, t("init", lang), INITS, format_func=lambda i: t(f"init_{i}", lang))
            widget("init_std", st.select_slider, t("init_std", lang),
                   _with_value(INIT_STD_GRID, state.get(key("init_std"))), format_func=_num,
                   disabled=init != "gaussian")

        plain_only = model == "plain" or (model == "arms" and set(shown[key("arms")] or ()) <= {"plain"})
        with st.expander(t("section_bn", lang), expanded=True):
            widget("bn_placement", st.radio, t("bn_placement", lang), BN_PLACEMENTS, disabled=plain_only,
                   format_func=lambda p: t(f"place_{p}", lang))
            widget("bn_momentum", st.select_slider, t("bn_momentum", lang),
                   _with_value(MOMENTUM_GRID, state.get(key("bn_momentum"))), format_func=_num, disabled=plain_only,
                   help=t("bn_momentum_help", lang))
            if plain_only:
                st.caption(t("bn_disabled", lang))

        with st.expander(t("section_run", lang), expanded=True):
            widget("seed", st.number_input, t("seed", lang), min_value=0, max_value=2**31 - 1, step=1,
                   help=t("seed_help", lang))
            widget("repeats", st.slider, t("repeats", lang), *PAGE_LIMITS["repeats"], help=t("repeats_help", lang))
            pace_mode = widget("pace_mode", st.segmented_control, t("pace", lang), PACE_MODES, required=True,
                               width="stretch", format_func=lambda p: t(f"pace_{p}", lang), help=t("pace_help", lang))
            widget("pace_rate", st.select_slider, t("pace_rate", lang),
                   _with_value(PACE_GRID, state.get(key("pace_rate"))), format_func=_num, disabled=pace_mode != "slow")
            # The devices torch finds are known once the background warm-up has imported it: the first
            # paint does not wait for torch (seconds on a small machine).
            found = found_devices()
            devices = ["auto", *(found or ["cpu"])]
            if state.get(key("device")) in DEVICES and state[key("device")] not in devices:
                devices.append(state[key("device")])
            auto = found[0] if found else "…"  # found_devices() lists the best device first, as "auto" picks
            widget("device", st.selectbox, t("device", lang), devices,
                   format_func=lambda d: t("device_auto", lang, found=auto) if d == "auto" else d)
            st.caption(t("device_found", lang, devices=", ".join(found or ["…"])))

        st.caption(":material/link: " + t("share_help", lang))
    state[CODES] = shown
    return read_config(values=shown)


def _data_caption(name: str, data_state, lang: str) -> None:
    # Viewers read "the server's data folder", never its path; the server's log names the path
    # when something there is wrong (bn_demo/data.py).
    state, detail = data_state(name)
    text = {
        "offline": lambda: t("data_offline", lang),
        "cached": lambda: t("data_cached", lang),
        "partial": lambda: t("data_partial", lang),
        "missing": lambda: t("data_missing", lang),
        "unavailable": lambda: t("data_unavailable", lang, problem=data_problem(detail, lang)),
        "downloading": lambda: t("data_downloading", lang, name=dataset_name(name, lang)),
    }[state]()
    icon = {"offline": "check_circle", "cached": "check_circle", "partial": "warning", "missing": "download",
            "unavailable": "block", "downloading": "hourglass_top"}[state]
    st.caption(f":material/{icon}: {text}")
