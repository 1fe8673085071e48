"""The page's settings as URL query parameters, both ways (pure functions, no Streamlit).

A link names a preset and only the settings that differ from it, e.g.
`?preset=ioffe2015&lr=0.1&lang=ko`. Reading a link never fails: each bad or unknown parameter is
dropped (its setting keeps the preset's value) and reported as a Problem the page can show, as data (a
config.RULES code and its facts, phrased by the page in its language). A link is held to the page's own
limits (config.PAGE_LIMITS), not the engine's wider ones. Its parameters are RunConfig's link fields
(config.LINK_FIELDS), with the hidden widths as depth and width.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from ..config import LINK_FIELDS, PAGE_LIMITS, PRESETS, SHOWN_CHARS, ConfigError, RunConfig, check_integer, shorten
from .strings import LANGS

DEFAULT_PRESET = "tutorial"
DEFAULT_LANG = "en"
CONFIG_KEYS = tuple(key for name in LINK_FIELDS for key in (("depth", "width") if name == "hidden" else (name,)))
URL_KEYS = ("preset", "lang", "projector", *CONFIG_KEYS)  # every parameter the page knows
# projector=1: the page's projector mode (a view setting, not an experiment's): large chart text, no sidebar.
SWITCH_VALUES = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}
_TYPES = {f.name: str(f.type) for f in fields(RunConfig)} | {"depth": "int", "width": "int"}
INT_KEYS = {k for k in CONFIG_KEYS if _TYPES[k] == "int"}
FLOAT_KEYS = {k for k in CONFIG_KEYS if _TYPES[k] == "float"}
PROBLEMS_SHOWN = 5  # a link's warning names this many bad parameters and counts the rest


@dataclass
class Problem:
    """A link parameter that was dropped: its key and text, the rule it broke (a config.RULES code with
    its facts) and, when it is fine alone, the setting it conflicts with."""

    field: str
    value: str
    code: str
    facts: dict = field(default_factory=dict)
    conflict: str = ""


@dataclass
class Link:
    preset: str = DEFAULT_PRESET
    lang: str = DEFAULT_LANG
    projector: bool = False
    config: RunConfig = field(default_factory=lambda: PRESETS[DEFAULT_PRESET].config())
    problems: list[Problem] = field(default_factory=list)


def url_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):  # the picked networks: arms=bn,layernorm
        return ",".join(str(v) for v in value)
    return str(value)


def config_values(config: RunConfig) -> dict:
    """The URL's view of a config: depth and width instead of the hidden tuple."""
    values = {k: getattr(config, k) for k in CONFIG_KEYS if k not in ("depth", "width")}
    values["depth"] = len(config.hidden)
    values["width"] = max(config.hidden)
    return values


def to_params(preset: str, config: RunConfig, lang: str = DEFAULT_LANG, projector: bool = False) -> dict[str, str]:
    """Only what differs from the preset (and the defaults), so shared links stay short and readable."""
    base = config_values(PRESETS[preset].config())
    params = {}
    if preset != DEFAULT_PRESET:
        params["preset"] = preset
    if lang != DEFAULT_LANG:
        params["lang"] = lang
    if projector:
        params["projector"] = "1"
    for key, value in config_values(config).items():
        if value != base[key]:
            params[key] = url_value(value)
    return params


def _single(value) -> str:
    """st.query_params gives the last value for a repeated key; AppTest may hand over a list."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def _convert(key: str, text: str):
    if key in INT_KEYS:
        number = float(text)
        if not number.is_integer():
            raise ValueError
        return int(number)
    if key in FLOAT_KEYS:
        return float(text)
    return text.strip().lower()


def from_params(params: Mapping) -> Link:
    """Parse a query string's parameters; never raises. The parameters are applied together, in any
    order (`model=plain&batch_size=1` and `batch_size=1&model=plain` are the same link): while the
    result cannot run, the parameter the broken rule names is dropped and reported."""
    link = Link()
    raw = {str(k): _single(v) for k, v in params.items()}
    preset = raw.pop("preset", DEFAULT_PRESET).strip().lower()
    if preset not in PRESETS:
        link.problems.append(Problem("preset", preset, "choice", {"options": tuple(PRESETS)}))
        preset = DEFAULT_PRESET
    link.preset = preset
    lang = raw.pop("lang", DEFAULT_LANG).strip().lower()
    if lang not in LANGS:
        link.problems.append(Problem("lang", lang, "choice", {"options": LANGS}))
        lang = DEFAULT_LANG
    link.lang = lang
    projector = raw.pop("projector", "0").strip().lower()
    if projector not in SWITCH_VALUES:
        link.problems.append(Problem("projector", projector, "choice", {"options": ("0", "1")}))
    link.projector = SWITCH_VALUES.get(projector, False)
    for key in sorted(set(raw) - set(CONFIG_KEYS)):
        link.problems.append(Problem(key, raw[key], "unknown_parameter"))
    values = {}
    for key in CONFIG_KEYS:
        if key not in raw:
            continue
        try:
            values[key] = _convert(key, raw[key])
        except (TypeError, ValueError, OverflowError):
            link.problems.append(Problem(key, raw[key], "integer" if key in INT_KEYS else "number"))
    base = PRESETS[preset].config()
    while values:
        try:
            link.config = _apply(base, values).check_page_limits().validate()
            break
        except ConfigError as exc:
            culprit = _culprit(exc, values)
            own = culprit == exc.field or exc.field == "hidden"
            link.problems.append(Problem(culprit, raw[culprit], exc.code, exc.facts,
                                         conflict="" if own else exc.field))
            del values[culprit]
    else:
        link.config = base
    return link


def _culprit(exc: ConfigError, values: dict) -> str:
    """The link parameter to drop for a broken rule: the one it names, else the one it conflicts
    with, else the last one applied."""
    named = {"hidden": ("width", "depth") if exc.code == "width_range" else ("depth", "width")}.get(exc.field,
                                                                                                   (exc.field,))
    for key in (*named, exc.conflict):
        if key in values:
            return key
    return list(values)[-1]


def _apply(config: RunConfig, values: dict) -> RunConfig:
    # Checked before the hidden tuple is built: depth=10**9 would allocate gigabytes first.
    for key in ("depth", "width"):
        if key in values:
            check_integer(key, values[key], *PAGE_LIMITS[key])
    depth, width = values.get("depth", len(config.hidden)), values.get("width", max(config.hidden))
    changes = {k: v for k, v in values.items() if k not in ("depth", "width")}
    return config.replace(hidden=(width,) * depth, **changes)


def literal(text) -> str:
    """User text (a link's key or value) as Markdown that shows it literally: one line cut to
    SHOWN_CHARS characters, in an inline code span. Streamlit renders st.warning, st.error, st.caption
    and st.markdown bodies as Markdown with its own extensions (links, images, :red[…], :material/…:,
    $…$ maths); inside a code span none of them applies. The fence is one backtick longer than any run
    of backticks in the text, so the text cannot close it early; characters that steer the display
    (bidi overrides, zero-width and control characters) become U+FFFD so the text cannot disguise
    the words around it."""
    text = shorten("".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf") and c not in "\t\n\r" else c
                           for c in str(text)), SHOWN_CHARS)
    if not text:
        return "“”"
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text[0] == "`" or text[-1] == "`" else ""  # CommonMark strips one space each side
    return f"{fence}{pad}{text}{pad}{fence}"
