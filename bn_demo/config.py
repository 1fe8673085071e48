"""Run configuration: one validated dataclass, its limits and the presets.

Every other module (engine, CLI, app) reads defaults, allowed values and presets from here, so a
fact such as "the allowed optimizers" lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields

DATASETS = ("mnist", "fashion-mnist", "digits")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
BN_PLACEMENTS = ("before", "after")  # BN before the nonlinearity (the paper) or after it
OPTIMIZERS = ("sgd", "momentum", "adam")
INITS = ("default", "gaussian")  # PyTorch's Kaiming-uniform default, or N(0, init_std²)
DEVICES = ("auto", "cpu", "cuda", "mps")
MODELS = ("both", "bn", "plain")  # "both" = lockstep twins

# Upper bounds keep a shared classroom server alive; they are generous for a laptop experiment.
MAX_EPOCHS = 200
MAX_STEPS = 1_000_000
MAX_LAYERS = 12
MAX_WIDTH = 2048
MAX_BATCH = 8192


class ConfigError(ValueError):
    """An invalid setting. `field` names the offending field so a UI can point at it."""

    def __init__(self, field_name: str, value, allowed: str):
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name}={value!r} is not allowed: {allowed}")


@dataclass
class RunConfig:
    dataset: str = "mnist"
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "relu"
    bn_placement: str = "before"
    bn_momentum: float = 0.1  # PyTorch convention: running = (1-m)·running + m·batch
    bn_eps: float = 1e-5
    optimizer: str = "adam"
    lr: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    steps: int = 0  # > 0 overrides epochs: train exactly this many steps
    init: str = "default"
    init_std: float = 0.01  # used when init == "gaussian"
    seed: int = 1
    device: str = "auto"
    model: str = "both"
    probe_every: int = 0  # 0 = automatic (about 100 probes per run)
    probe_size: int = 512
    ics_every: int = 0  # 0 = automatic (every 5th probe); Santurkar ICS costs extra passes
    eval_every: int = 0  # 0 = automatic (about 50 evaluations per run, plus every epoch end)
    pace: float = 0.0  # max training steps per second; 0 = full speed (slow motion for a class)

    def __post_init__(self):
        if isinstance(self.hidden, str):
            self.hidden = parse_hidden(self.hidden)
        self.hidden = tuple(self.hidden)

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Raise ConfigError naming the first bad field; return self so calls chain."""
        _choice("dataset", self.dataset, DATASETS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("bn_placement", self.bn_placement, BN_PLACEMENTS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITS)
        _choice("device", self.device, DEVICES)
        _choice("model", self.model, MODELS)
        if not self.hidden or len(self.hidden) > MAX_LAYERS:
            raise ConfigError("hidden", self.hidden, f"1 to {MAX_LAYERS} hidden layers, e.g. 32,32")
        for width in self.hidden:
            if not _is_int(width) or not 1 <= width <= MAX_WIDTH:
                raise ConfigError("hidden", self.hidden, f"each width an integer from 1 to {MAX_WIDTH:,}")
        _number("lr", self.lr, low=0, low_open=True, high=10, why="a learning rate in (0, 10]")
        _number("weight_decay", self.weight_decay, low=0, high=1, why="a weight decay in [0, 1]")
        _number("bn_momentum", self.bn_momentum, low=0, high=1, why="a BN momentum in [0, 1]")
        _number("bn_eps", self.bn_eps, low=0, low_open=True, high=1, why="a BN epsilon in (0, 1]")
        _number("init_std", self.init_std, low=0, low_open=True, high=100, why="a σ in (0, 100]")
        _number("pace", self.pace, low=0, high=1e6, why="steps per second ≥ 0 (0 = full speed)")
        _integer("batch_size", self.batch_size, 1, MAX_BATCH)
        if self.batch_size == 1 and self.model in ("both", "bn"):
            raise ConfigError(
                "batch_size", 1,
                "at least 2 with BatchNorm: a batch of one has no variance to normalise by "
                "(choose model 'plain' for batch size 1)",
            )
        _integer("epochs", self.epochs, 0, MAX_EPOCHS)
        _integer("steps", self.steps, 0, MAX_STEPS)
        if self.steps == 0 and self.epochs == 0:
            raise ConfigError("epochs", 0, "at least 1 epoch, or a step count > 0: zero steps trains nothing")
        _integer("seed", self.seed, 0, 2**31 - 1)
        _integer("probe_every", self.probe_every, 0, MAX_STEPS)
        _integer("probe_size", self.probe_size, 2, 4096)
        _integer("ics_every", self.ics_every, 0, MAX_STEPS)
        _integer("eval_every", self.eval_every, 0, MAX_STEPS)
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

    @property
    def twins(self) -> tuple[str, ...]:
        return {"both": ("bn", "plain"), "bn": ("bn",), "plain": ("plain",)}[self.model]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from a (possibly partial) dict; unknown keys are an error, not silently dropped."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(unknown[0], data[unknown[0]], f"a known setting ({', '.join(sorted(names))})")
        return cls(**data)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


def parse_hidden(text: str) -> tuple[int, ...]:
    """'100,100,100' -> (100, 100, 100), with a ConfigError naming the field on bad input."""
    try:
        widths = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError("hidden", text, "comma-separated integers, e.g. 32,32") from None
    if not widths:
        raise ConfigError("hidden", text, "comma-separated integers, e.g. 32,32")
    return widths


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(name, value, "one of " + ", ".join(allowed))


def _integer(name, value, low, high):
    if not _is_int(value) or not low <= value <= high:
        raise ConfigError(name, value, f"an integer from {low:,} to {high:,}")


def _number(name, value, *, low, high, why, low_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        raise ConfigError(name, value, why)


# -- presets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str  # one line: what it shows and what to look for
    changes: dict = field(default_factory=dict)

    def config(self, **overrides) -> RunConfig:
        return RunConfig(**{**self.changes, **overrides})


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "tutorial",
            "The classic tutorial: 784-32-32-10 ReLU MLP, Adam lr 0.01, batch 32, 10 epochs, seed 1 — "
            "both twins learn; BN gets there a little faster.",
            {},
        ),
        Preset(
            "ioffe2015",
            "BN paper §4.1 (Fig. 1): 3×100 sigmoid, Gaussian init σ 0.1, SGD lr 0.1, batch 60, 50,000 steps — "
            "the plain net stalls, then learns while its sigmoid inputs drift and widen; BN learns at once "
            "and its band stays put.",
            # The paper gives no σ, optimizer or lr for MNIST. Measured on MNIST (bench/results/reproduce.md):
            # at lr 0.5 the plain net learns about as fast as BN and its band drifts little more; at lr 0.05
            # or σ 0.05 it is still below 20% after 1,000 steps; with Adam BN's band drifts more than the
            # plain one's. SGD lr 0.1, σ 0.1 shows both halves of Fig. 1.
            dict(hidden=(100, 100, 100), activation="sigmoid", init="gaussian", init_std=0.1,
                 optimizer="sgd", lr=0.1, batch_size=60, steps=50_000),
        ),
        Preset(
            "high-lr",
            "SGD with lr 2, too high for the plain net: its ReLUs die and it sticks at chance (loss 2.30), "
            "while the BN twin learns (≈94 % after 3 epochs on 8,000 MNIST images).",
            dict(hidden=(64, 64, 64), optimizer="sgd", lr=2.0, epochs=3),
        ),
        Preset(
            "bad-init",
            "Weights drawn with σ = 0.001, far too small: the plain net's signal and gradients shrink layer "
            "by layer and it never leaves chance; BN rescales every layer and learns at once.",
            dict(hidden=(64, 64, 64), init="gaussian", init_std=0.001, optimizer="sgd", lr=0.1, epochs=3),
        ),
        Preset(
            "deep-sigmoid",
            "Eight sigmoid layers: gradients vanish on the way down and the plain net barely moves; "
            "BN keeps every layer's gradient alive.",
            dict(hidden=(64,) * 8, activation="sigmoid", optimizer="sgd", lr=0.1, epochs=3),
        ),
    ]
}
