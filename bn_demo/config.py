"""Run configuration: one validated dataclass, its limits and the presets.

Every other module (engine, CLI, app) reads defaults, allowed values and presets from here, so a
fact such as "the allowed optimizers" lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import NamedTuple

DATASETS = ("mnist", "fashion-mnist", "digits")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
BN_PLACEMENTS = ("before", "after")  # BN before the nonlinearity (the paper) or after it
OPTIMIZERS = ("sgd", "momentum", "adam")
INITS = ("default", "gaussian")  # PyTorch's Kaiming-uniform default, or N(0, init_std²)
DEVICES = ("auto", "cpu", "cuda", "mps")
MODELS = ("both", "bn", "plain", "arms")  # "both" = lockstep BN and plain twins; "arms" = the `arms` setting picks
# The networks a run can train in lockstep (its "arms"), all from the same Linear weights on the same batches:
#   bn         BatchNorm after every hidden Linear (before or after the nonlinearity: bn_placement)
#   plain      no normalisation
#   layernorm  nn.LayerNorm (Ba et al. 2016) in BN's place: per-sample statistics, the same in train and eval
#   noisy-bn   BN plus Santurkar et al.'s (2018) time-varying noise after it (bn_demo/model.py BatchNoise)
ARMS = ("bn", "plain", "layernorm", "noisy-bn")
MODEL_ARMS = {"both": ("bn", "plain"), "bn": ("bn",), "plain": ("plain",)}  # the shorthands
NORM_ARMS = ("bn", "layernorm", "noisy-bn")  # a normalisation layer (with γ and β) after every hidden Linear
BATCH_STAT_ARMS = ("bn", "noisy-bn")  # normalise with batch statistics: need a batch of 2 or more
MAX_ARMS = len(ARMS)

# Upper bounds keep a shared classroom server alive; they are generous for a laptop experiment.
MAX_EPOCHS = 200
MAX_STEPS = 1_000_000
MAX_LAYERS = 12
MAX_WIDTH = 2048
MAX_BATCH = 8192
MAX_REPEATS = 5  # seeds in one run (RunConfig.repeats): each adds a full copy of the training work
# Slow motion goes no slower than this: a slower pace holds a training slot for days, and a tiny one
# overflows the wait between steps (pace 1e-300 gave "OverflowError: timestamp out of range").
MIN_PACE = 0.5  # steps per second; 0 means full speed
MAX_PACE = 1e6
SHOWN_CHARS = 80  # a value echoed in a message is cut to this many characters


class Bounds(NamedTuple):
    low: float
    high: float


# The page's limits, tighter than the engine's: the sidebar's widgets offer exactly these ranges, and a
# shared link is held to them too, so no link asks a classroom server for more than the page's own
# controls. The CLI (the server's operator) keeps the engine's wider limits above.
PAGE_LIMITS = {
    "depth": Bounds(1, MAX_LAYERS),
    "width": Bounds(1, 512),
    "batch_size": Bounds(1, 1024),
    "epochs": Bounds(0, MAX_EPOCHS),
    "steps": Bounds(0, MAX_STEPS),
    "pace": Bounds(MIN_PACE, 100.0),  # besides 0 = full speed
    "repeats": Bounds(1, MAX_REPEATS),
}


# The rules a setting can break, each with the facts its words need. A ConfigError carries one code and
# its facts, never a sentence: every reader phrases it (the page and the CLI through
# bn_demo/ui/strings.py `config_problem`, which has words for each code in English and Korean).
RULES = {
    "choice": ("options",),  # one of the options (codes)
    "integer": (),  # not an integer (a link's text)
    "number": (),  # not a number (a link's text)
    "integer_range": ("low", "high"),
    "number_range": ("low", "high", "low_open"),  # [low, high], or (low, high] when low_open
    "pace_range": ("low", "high"),  # 0 (full speed), or low to high steps per second
    "bn_batch_one": (),  # a batch of one with BatchNorm
    "arms_count": ("low", "high", "options"),  # arms: low to high different networks from options
    "arms_model": (),  # --model other than "arms" together with --arms
    "no_steps": (),  # zero epochs and zero steps
    "batch_over_split": ("n_train",),  # a batch larger than the training split
    "hidden_format": (),  # --hidden is not comma-separated integers
    "layers_range": ("low", "high"),  # how many hidden layers
    "width_range": ("low", "high"),  # each hidden layer's width
    "unknown_setting": ("known",),  # a key that is no RunConfig field
    "unknown_parameter": (),  # a link parameter that is no setting of the page
    "device_absent": ("devices",),  # a device this machine lacks
}


class ConfigError(ValueError):
    """An invalid setting, as data: `field` (the setting a UI points at), `value` (as given), `code`
    (the rule broken, one of RULES) and `facts` (that rule's numbers and options). `conflict` names
    the other setting a combination rule involves, when the offending value is fine alone."""

    def __init__(self, field_name: str, value, code: str, conflict: str = "", **facts):
        self.field = field_name
        self.value = value
        self.code = code
        self.conflict = conflict
        self.facts = facts
        super().__init__(field_name, value, code)

    def __str__(self) -> str:
        # A short English line for logs and tracebacks; readers phrase the error themselves.
        try:
            from .ui.strings import allowed_text  # plain functions, no Streamlit

            allowed = allowed_text(self.code, self.facts)
        except (ImportError, KeyError, IndexError, ValueError):  # never hide the error behind another
            allowed = f"{self.code} {self.facts}"
        return f"{self.field}={shorten(repr(self.value))} is not allowed: {allowed}"

    def as_dict(self) -> dict:
        """JSON-ready: field, value (cut to SHOWN_CHARS when it is not a plain number or string),
        code, facts (tuples as lists), conflict."""
        value = self.value if isinstance(self.value, (int, float, str, type(None))) else shorten(repr(self.value))
        facts = {k: list(v) if isinstance(v, tuple) else v for k, v in self.facts.items()}
        return {"field": self.field, "value": value, "code": self.code, "facts": facts, "conflict": self.conflict}


def shorten(text, limit: int = SHOWN_CHARS) -> str:
    """One line of at most `limit` characters: an echoed value (a 1,000-layer --hidden, a 100 KB link
    parameter) must not flood a message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _setting(default, page: str | None = None, choices: tuple[str, ...] | None = None):
    """A RunConfig field and where it appears. Every field is a CLI flag (CLI_FLAGS); `page` is
    "widget" for a sidebar control that is also a link parameter, "link" for a link parameter only,
    None for neither; `choices` are the allowed codes of a choice field (checked by validate()), or of
    each item of a tuple field (`arms`)."""
    return field(default=default, metadata={"page": page, "choices": choices})


@dataclass
class RunConfig:
    # The one declaration of the settings: the sidebar's widgets (ui/controls.py), the link's parameters
    # (ui/params.py) and the CLI's flags (CLI_FLAGS) are all derived from these fields and their metadata.
    dataset: str = _setting("mnist", "widget", DATASETS)
    hidden: tuple[int, ...] = _setting((32, 32), "widget")  # the page: depth and width sliders
    activation: str = _setting("relu", "widget", ACTIVATIONS)
    bn_placement: str = _setting("before", "widget", BN_PLACEMENTS)
    bn_momentum: float = _setting(0.1, "widget")  # PyTorch convention: running = (1-m)·running + m·batch
    bn_eps: float = _setting(1e-5)
    optimizer: str = _setting("adam", "widget", OPTIMIZERS)
    lr: float = _setting(0.01, "widget")
    weight_decay: float = _setting(0.0, "link")
    batch_size: int = _setting(32, "widget")
    epochs: int = _setting(10, "widget")
    steps: int = _setting(0, "widget")  # > 0 overrides epochs: train exactly this many steps
    init: str = _setting("default", "widget", INITS)
    init_std: float = _setting(0.01, "widget")  # used when init == "gaussian"
    seed: int = _setting(1, "widget")
    # Seeds trained side by side: seed, seed+1, … seed+repeats-1, each with its own initial weights, batch order
    # and probe batch, in lockstep in one run (one slot). The curves show their mean ± sd; everything else is
    # observed on `seed` alone. bn_demo/seeds.py (CLI --seeds) instead runs whole runs one after another.
    repeats: int = _setting(1, "widget")
    device: str = _setting("auto", "widget", DEVICES)
    model: str = _setting("both", "widget", MODELS)  # a shorthand for `arms`; "arms" when they are picked
    # The networks trained in lockstep (ARMS codes, trained and recorded in ARMS order); empty: from `model`.
    # Given, they decide alone and `model` reads "arms" (see `twins`).
    arms: tuple[str, ...] = _setting((), "widget", ARMS)
    probe_every: int = _setting(0)  # 0 = automatic (about 100 probes per run)
    probe_size: int = _setting(512)
    ics_every: int = _setting(0)  # 0 = automatic (every 5th probe); Santurkar ICS costs extra passes
    eval_every: int = _setting(0)  # 0 = automatic (about 50 evaluations per run, plus every epoch end)
    pace: float = _setting(0.0, "widget")  # max training steps per second; 0 = full speed (slow motion for a class)

    def __post_init__(self):
        if isinstance(self.hidden, str):
            self.hidden = parse_hidden(self.hidden)
        self.hidden = tuple(self.hidden)
        self.arms = parse_arms(self.arms) if isinstance(self.arms, str) else tuple(self.arms)
        if self.arms:  # picked networks decide alone: `model` says so, whatever it was given as
            self.model = "arms"

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Raise ConfigError naming the first bad field; return self so calls chain."""
        for f in fields(self):
            if f.metadata["choices"] and f.name != "arms":
                _choice(f.name, getattr(self, f.name), f.metadata["choices"])
        for arm in self.arms:
            _choice("arms", arm, ARMS)
        if len(set(self.arms)) != len(self.arms) or not self.twins:  # repeated, or model "arms" with none
            raise ConfigError("arms", ",".join(map(str, self.arms)), "arms_count",
                              conflict="" if self.arms else "model", low=1, high=MAX_ARMS, options=ARMS)
        if not self.hidden or len(self.hidden) > MAX_LAYERS:
            raise ConfigError("hidden", self.hidden, "layers_range", low=1, high=MAX_LAYERS)
        for width in self.hidden:
            if not _is_int(width) or not 1 <= width <= MAX_WIDTH:
                raise ConfigError("hidden", self.hidden, "width_range", low=1, high=MAX_WIDTH)
        _number("lr", self.lr, low=0, low_open=True, high=10)
        _number("weight_decay", self.weight_decay, low=0, high=1)
        _number("bn_momentum", self.bn_momentum, low=0, high=1)
        _number("bn_eps", self.bn_eps, low=0, low_open=True, high=1)
        _number("init_std", self.init_std, low=0, low_open=True, high=100)
        _pace(self.pace, MAX_PACE)
        check_integer("batch_size", self.batch_size, 1, MAX_BATCH)
        if self.batch_size == 1 and any(arm in BATCH_STAT_ARMS for arm in self.twins):
            raise ConfigError("batch_size", 1, "bn_batch_one", conflict="arms" if self.arms else "model")
        check_integer("epochs", self.epochs, 0, MAX_EPOCHS)
        check_integer("steps", self.steps, 0, MAX_STEPS)
        if self.steps == 0 and self.epochs == 0:
            raise ConfigError("epochs", 0, "no_steps", conflict="steps")
        check_integer("repeats", self.repeats, 1, MAX_REPEATS)
        check_integer("seed", self.seed, 0, 2**31 - self.repeats)
        check_integer("probe_every", self.probe_every, 0, MAX_STEPS)
        check_integer("probe_size", self.probe_size, 2, 4096)
        check_integer("ics_every", self.ics_every, 0, MAX_STEPS)
        check_integer("eval_every", self.eval_every, 0, MAX_STEPS)
        return self

    # -- derived quantities -------------------------------------------------------------------
    def total_steps(self, n_train: int) -> int:
        """Steps this run trains for on a training split of n_train samples (last partial batch dropped)."""
        if self.steps:
            return self.steps
        return self.epochs * max(1, n_train // self.batch_size)

    def cadences(self, total_steps: int) -> dict[str, int]:
        """Resolve the automatic (0) cadences; explicit values pass through."""
        # About 100 probes per run: plenty of columns for the heatmaps, and a probe (≈4 ms) stays a
        # few per cent of the training time even at batch 256, where a step costs under 2 ms.
        probe = self.probe_every or min(250, max(5, total_steps // 100))
        return {
            "probe_every": probe,
            "ics_every": self.ics_every or probe * 5,
            "eval_every": self.eval_every or min(1000, max(10, total_steps // 50)),
        }

    def parameter_count(self, n_in: int, n_out: int) -> int:
        """Trainable parameters of all this run's networks, known before any network is built."""
        return sum(self.arm_parameters(arm, n_in, n_out) for arm in self.twins)

    def arm_parameters(self, arm: str, n_in: int, n_out: int) -> int:
        """One arm's trainable parameters: Linear weights and biases, plus γ and β (one each per hidden
        unit) for an arm with a normalisation layer (BN, LayerNorm, noisy BN: the noise has none)."""
        sizes = [n_in, *self.hidden, n_out]
        linear = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        return linear + (2 * sum(self.hidden) if arm in NORM_ARMS else 0)

    @property
    def twins(self) -> tuple[str, ...]:
        """The networks this run trains, in ARMS order: the picked `arms`, else `model`'s shorthand. The one
        place that says which networks train (the engine builds exactly these)."""
        if self.arms:
            return tuple(arm for arm in ARMS if arm in self.arms)
        return MODEL_ARMS.get(self.model, ())

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        data["arms"] = list(self.arms)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from a (possibly partial) dict; unknown keys are an error, not silently dropped."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(unknown[0], data[unknown[0]], "unknown_setting", known=tuple(sorted(names)))
        return cls(**data)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds a run trains side by side (`repeats` of them from `seed`); the first is observed."""
        return tuple(range(self.seed, self.seed + self.repeats))

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def check_page_limits(self) -> RunConfig:
        """Raise ConfigError for a setting beyond the page's limits (PAGE_LIMITS). Called before
        validate(), so that a value beyond both is refused with the page's range, not the engine's."""
        values = {"depth": len(self.hidden), "width": max(self.hidden), "batch_size": self.batch_size,
                  "epochs": self.epochs, "steps": self.steps, "repeats": self.repeats}
        for name, value in values.items():
            check_integer(name, value, *PAGE_LIMITS[name])
        _pace(self.pace, PAGE_LIMITS["pace"].high)
        return self

    def check_training_split(self, data_dir=None) -> RunConfig:
        """Raise ConfigError when a batch is larger than the dataset's training split: checked before a
        run starts, from the files on disk, without loading them."""
        n_train = training_split_size(self.dataset, data_dir)
        if n_train is not None and self.batch_size > n_train:
            raise ConfigError("batch_size", self.batch_size, "batch_over_split", conflict="dataset", n_train=n_train)
        return self


def parse_hidden(text: str) -> tuple[int, ...]:
    """'100,100,100' -> (100, 100, 100), with a ConfigError naming the field on bad input."""
    try:
        widths = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError("hidden", text, "hidden_format") from None
    if not widths:
        raise ConfigError("hidden", text, "hidden_format")
    return widths


def parse_arms(text) -> tuple[str, ...]:
    """"plain,bn,layernorm" → ("plain", "bn", "layernorm"): comma-separated arm codes as given (case and
    spaces ignored); validate() checks them."""
    return tuple(part for part in "".join(str(text).split()).lower().split(",") if part)


# -- where the settings appear (derived from RunConfig's fields, declared once above) ------------------

WIDGET_FIELDS = tuple(f.name for f in fields(RunConfig) if f.metadata["page"] == "widget")  # the sidebar
LINK_FIELDS = tuple(f.name for f in fields(RunConfig) if f.metadata["page"] in ("widget", "link"))  # a link


class Flag(NamedTuple):
    """One CLI flag per RunConfig field: argparse's `flag`, `type` and `choices` (None: free)."""

    name: str  # the RunConfig field (argparse's dest)
    flag: str  # e.g. "--bn-momentum"
    type: object  # int, float, str, parse_hidden for the hidden widths, parse_arms for the arms
    choices: tuple[str, ...] | None  # of the whole value; a tuple field's items are checked by validate()


_FLAG_TYPES = {"str": str, "int": int, "float": float, "tuple[int, ...]": parse_hidden, "tuple[str, ...]": parse_arms}
CLI_FLAGS = tuple(Flag(f.name, "--" + f.name.replace("_", "-"), _FLAG_TYPES[str(f.type)],
                       f.metadata["choices"] if str(f.type) == "str" else None)
                  for f in fields(RunConfig))


def training_split_size(dataset: str, data_dir=None) -> int | None:
    """How many training examples bn_demo/data.py will give a run on `dataset` (its loaders' own split
    rules), from IDX headers alone. None when the files cannot tell: the loader then explains what is
    wrong with them."""
    from . import data  # imported here: data.py's helpers are not needed to build or validate a config

    if dataset == data.OFFLINE_DATASET:
        return data.DIGITS_EXAMPLES - data.digits_test_count()
    state = data.dataset_state(dataset, data_dir)
    if state == "missing":  # downloaded on Start: the full training split
        return data.IDX_FILES["train"][2]
    raw = data.raw_folder(dataset, data.resolve_data_dir(data_dir))
    count = _idx_count(raw / data.IDX_FILES["train" if state == "cached" else "test"][1])
    if count is None or state == "cached":
        return count
    return data.test_only_train_count(count)  # test split only: most of it trains


def _idx_count(path) -> int | None:
    """The item count in an IDX label file's header (magic 0x00000801, then a big-endian count)."""
    try:
        with open(path, "rb") as f:
            header = f.read(8)
    except OSError:
        return None
    if len(header) < 8 or header[:4] != b"\x00\x00\x08\x01":
        return None
    return int.from_bytes(header[4:], "big")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(name, value, options):
    if not isinstance(value, str) or value not in options:
        raise ConfigError(name, value, "choice", options=tuple(options))


def check_integer(name, value, low, high):
    """ConfigError "integer_range" unless `value` is an integer within [low, high]."""
    if not _is_int(value) or not low <= value <= high:
        raise ConfigError(name, value, "integer_range", low=low, high=high)


def _number(name, value, *, low, high, low_open=False):
    ok = _is_number(value) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        raise ConfigError(name, value, "number_range", low=low, high=high, low_open=low_open)


def _pace(value, high):
    """0 (full speed), or MIN_PACE to `high` steps per second."""
    if not (_is_number(value) and value == 0) and not (
            _is_number(value) and math.isfinite(value) and MIN_PACE <= value <= high):
        raise ConfigError("pace", value, "pace_range", low=MIN_PACE, high=high)


# -- presets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named set of changes to RunConfig's defaults. What it shows is said by its readers (the
    page's words: bn_demo/ui/strings.py `preset_summary`)."""

    name: str
    changes: dict = field(default_factory=dict)

    def config(self, **overrides) -> RunConfig:
        return RunConfig(**{**self.changes, **overrides})


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        # The classic tutorial: 784-32-32-10 ReLU MLP, Adam lr 0.01, batch 32, 10 epochs, seed 1.
        Preset("tutorial", {}),
        # BN paper §4.1 (Fig. 1). The paper gives no σ, optimizer or lr for MNIST. Measured on MNIST
        # (docs/reproduce.md, "Choosing the preset"): at lr 0.5 the plain net learns about as fast as BN
        # (91.65 % vs 92.75 % at step 1,000), so Fig. 1(a) shows nothing; at lr 0.05 or σ 0.05 it is still
        # below 20 % after 1,000 steps. SGD lr 0.1, σ 0.1 shows both halves of Fig. 1: the plain net stalls,
        # then learns while its units' bands widen (×32.4 by step 5,000 against BN's ×1.57).
        Preset("ioffe2015", dict(hidden=(100, 100, 100), activation="sigmoid", init="gaussian", init_std=0.1,
                                 optimizer="sgd", lr=0.1, batch_size=60, steps=50_000)),
        # lr 2 is too high for the plain net: its ReLUs die; the BN twin learns.
        Preset("high-lr", dict(hidden=(64, 64, 64), optimizer="sgd", lr=2.0, epochs=3)),
        # σ = 0.001: the plain net's signal and gradients shrink layer by layer; BN rescales them.
        Preset("bad-init", dict(hidden=(64, 64, 64), init="gaussian", init_std=0.001, optimizer="sgd", lr=0.1,
                                epochs=3)),
        # Eight sigmoid layers: gradients vanish on the way down without BN.
        Preset("deep-sigmoid", dict(hidden=(64,) * 8, activation="sigmoid", optimizer="sgd", lr=0.1, epochs=3)),
        # BN is no cure-all: SGD with lr 10. Measured on MNIST test[:8000], seeds 1-5: the plain net diverges
        # by step 5-13; the BN net's ReLUs of hidden 3 all die on 3 seeds (steps 14-84), it diverges on one
        # and ends with 97 % of them dead on the last: both stay at chance (README, preset table).
        Preset("no-cure-all", dict(hidden=(64, 64, 64), optimizer="sgd", lr=10.0, epochs=3)),
    ]
}
