"""The page's settings as URL query parameters, both ways (pure functions, no Streamlit).

A link names a preset and only the settings that differ from it, e.g.
`?preset=ioffe2015&lr=0.1&lang=ko`. Reading a link never fails: each bad or unknown parameter is
dropped (its setting keeps the preset's value) and reported as a Problem the page can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import MAX_LAYERS, MAX_WIDTH, PRESETS, ConfigError, RunConfig
from .strings import LANGS

DEFAULT_PRESET = "tutorial"
DEFAULT_LANG = "en"
# URL keys in the order they are applied (networks before batch size: batch 1 is fine only without BN).
CONFIG_KEYS = ("dataset", "model", "lr", "batch_size", "epochs", "steps", "activation", "depth", "width", "optimizer",
               "init", "init_std", "bn_placement", "bn_momentum", "seed", "pace", "device", "weight_decay")
URL_KEYS = ("preset", "lang", *CONFIG_KEYS)
INT_KEYS = {"batch_size", "epochs", "steps", "depth", "width", "seed"}
FLOAT_KEYS = {"lr", "init_std", "bn_momentum", "pace", "weight_decay"}


@dataclass
class Problem:
    field: str
    value: str
    allowed: str


@dataclass
class Link:
    preset: str = DEFAULT_PRESET
    lang: str = DEFAULT_LANG
    config: RunConfig = field(default_factory=lambda: PRESETS[DEFAULT_PRESET].config())
    problems: list[Problem] = field(default_factory=list)


def url_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def config_values(config: RunConfig) -> dict:
    """The URL's view of a config: depth and width instead of the hidden tuple."""
    values = {k: getattr(config, k) for k in CONFIG_KEYS if k not in ("depth", "width")}
    values["depth"] = len(config.hidden)
    values["width"] = max(config.hidden)
    return values


def to_params(preset: str, config: RunConfig, lang: str = DEFAULT_LANG) -> dict[str, str]:
    """Only what differs from the preset (and the defaults), so shared links stay short and readable."""
    base = config_values(PRESETS[preset].config())
    params = {}
    if preset != DEFAULT_PRESET:
        params["preset"] = preset
    if lang != DEFAULT_LANG:
        params["lang"] = lang
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


def _allowed(key: str) -> str:
    if key == "depth":
        return f"an integer from 1 to {MAX_LAYERS}"
    if key == "width":
        return f"an integer from 1 to {MAX_WIDTH}"
    if key in INT_KEYS:
        return "an integer"
    if key in FLOAT_KEYS:
        return "a number"
    return "a known value"


def from_params(params: Mapping) -> Link:
    """Parse a query string's parameters; never raises."""
    link = Link()
    raw = {str(k): _single(v) for k, v in params.items()}
    preset = raw.pop("preset", DEFAULT_PRESET).strip().lower()
    if preset not in PRESETS:
        link.problems.append(Problem("preset", preset, "one of " + ", ".join(PRESETS)))
        preset = DEFAULT_PRESET
    link.preset = preset
    lang = raw.pop("lang", DEFAULT_LANG).strip().lower()
    if lang not in LANGS:
        link.problems.append(Problem("lang", lang, "one of " + ", ".join(LANGS)))
        lang = DEFAULT_LANG
    link.lang = lang
    for key in sorted(set(raw) - set(CONFIG_KEYS)):
        link.problems.append(Problem(key, raw[key], "unknown setting"))
    config = PRESETS[preset].config()
    for key in CONFIG_KEYS:
        if key not in raw:
            continue
        try:
            value = _convert(key, raw[key])
        except (TypeError, ValueError, OverflowError):
            link.problems.append(Problem(key, raw[key], _allowed(key)))
            continue
        try:
            candidate = _apply(config, key, value).validate()
        except ConfigError as exc:
            link.problems.append(Problem(key, raw[key], exc.allowed if exc.field in (key, "hidden") else
                                         f"{exc.allowed} (conflicts with {exc.field})"))
            continue
        config = candidate
    link.config = config
    return link


def _apply(config: RunConfig, key: str, value) -> RunConfig:
    if key == "depth":
        if not 1 <= value <= MAX_LAYERS:
            raise ConfigError("depth", value, _allowed("depth"))
        return config.replace(hidden=(max(config.hidden),) * value)
    if key == "width":
        if not 1 <= value <= MAX_WIDTH:
            raise ConfigError("width", value, _allowed("width"))
        return config.replace(hidden=(value,) * len(config.hidden))
    return config.replace(**{key: value})
