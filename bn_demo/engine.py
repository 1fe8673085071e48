"""One experiment: lockstep twins trained on the same batches, observed by probes.

The BN twin and the plain twin start from identical Linear weights and take their steps on the
same mini-batch, one after the other, so any difference between them is the BN layers' doing.
All observation (probes, ICS, evaluation) is side-effect free: it draws no random numbers and
never touches BN running statistics, so losses are bitwise identical with probes on or off.

The Experiment writes bounded histories under a lock; `snapshot()` turns them into plain data
(numbers, lists, numpy arrays) for views that must never see a live tensor.
"""

from __future__ import annotations

import collections
import math
import threading

import numpy as np
import torch
import torch.nn.functional as F

from . import probes
from .config import ConfigError, RunConfig
from .data import Dataset
from .history import DEFAULT_CAP, BoundedSeries
from .model import build_twins, make_optimizer

PROBE_SEED_OFFSET = 7919  # the probe batch has its own generator: drawing it costs the batch stream nothing
PROBE_CAP = 400  # probe records kept per twin (each holds histograms for every layer and kind)
GALLERY_SIZE = 24  # held-out images whose predicted labels are kept (the split's first ones: no RNG draw)
EVAL_CHUNK = 8192  # held-out examples per forward pass; stop requests are honoured between chunks
DIVERGE_FACTOR = 50.0  # a loss this many times its first value counts as exploded
DIVERGE_FLOOR = 100.0
RECENT_WINDOW = 100  # batch losses averaged for the final "train_loss"

PROBE_MODE = ("train mode, batch statistics of the fixed probe batch "
              "(BN running statistics untouched; weights after the step's update)")
EVAL_MODE = "eval mode (BN uses running statistics), whole held-out split"
BATCH_STATS_MODE = "train mode: BN uses each held-out mini-batch's own statistics (training batch size)"
TRAIN_MODE = "train mode, the training mini-batch itself, before the step's update"


class StopRequested(Exception):
    """Raised inside long computations when the runner asks to stop."""


class Twin:
    def __init__(self, name: str, model, optimizer):
        self.name = name
        self.model = model
        self.optimizer = optimizer
        self.status = "running"  # running / finished / stopped / diverged
        self.diverged_at_step: int | None = None
        self.reason = ""
        # A collapse is stated, not enforced: the twin keeps training (it may recover, usually not).
        self.collapsed_at_step: int | None = None
        self.collapse_reason = ""
        self.start_loss: float | None = None
        self.recent = collections.deque(maxlen=RECENT_WINDOW)
        self.train = BoundedSeries(DEFAULT_CAP)  # (step, loss, acc)
        self.evals = BoundedSeries(DEFAULT_CAP)  # (step, epoch, loss, acc, acc_batch_stats)
        self.probes = BoundedSeries(PROBE_CAP)  # dict records
        self.ics = BoundedSeries(DEFAULT_CAP)  # (step, l2 per layer, cos per layer)
        self.gallery = None  # (step, predicted labels of the gallery images) from the latest evaluation

    @property
    def active(self) -> bool:
        return self.status == "running"


class Experiment:
    def __init__(self, config: RunConfig, dataset: Dataset, device, *, probes_on: bool = True,
                 should_stop=None):
        self.config = config.validate()
        self.dataset = dataset
        self.device = torch.device(device)
        self.probes_on = probes_on
        self.should_stop = should_stop or (lambda: False)
        self.lock = threading.Lock()
        self.n_train = dataset.train_x.shape[0]
        if config.batch_size > self.n_train:
            raise ConfigError("batch_size", config.batch_size,
                              f"at most the training split's size ({self.n_train:,} examples)")
        self.steps_per_epoch = max(1, self.n_train // config.batch_size)
        self.total_steps = config.total_steps(self.n_train)
        cadence = config.cadences(self.total_steps)
        self.probe_every, self.ics_every, self.eval_every = (
            cadence["probe_every"], cadence["ics_every"], cadence["eval_every"])
        self.step = 0
        self.version = 0  # bumped on every write: a view can skip redrawing an unchanged snapshot

        # The batch stream: one generator on the CPU, one permutation per epoch, shared by the twins.
        self._batch_generator = torch.Generator().manual_seed(config.seed)
        self._order = None
        self._pos = 0
        probe_generator = torch.Generator().manual_seed(config.seed + PROBE_SEED_OFFSET)
        probe_idx = torch.randperm(self.n_train, generator=probe_generator)[: config.probe_size]
        self.probe_x = dataset.train_x[probe_idx.to(dataset.train_x.device)].to(self.device)
        n_gallery = min(GALLERY_SIZE, len(dataset.test_y))
        pixels = dataset.test_x[:n_gallery].detach().cpu().reshape(n_gallery, *dataset.image_shape)
        self.gallery_images = (pixels * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        self.gallery_labels = dataset.test_y[:n_gallery].cpu().numpy()

        models = build_twins(config, dataset.n_features, len(dataset.classes), self.device)
        self.twins = {name: Twin(name, m, make_optimizer(config, m)) for name, m in models.items()}
        self.edges: dict[tuple[int, str], np.ndarray] = {}
        self.layer_names = [f"hidden {i + 1}" for i in range(len(config.hidden))]
        self.weight_layer_names = [*self.layer_names, "output"]

    # -- the training loop ------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.step >= self.total_steps or not any(t.active for t in self.twins.values())

    def begin(self) -> None:
        """Observe the untrained networks (step 0): TensorBoard drops this point; we keep it."""
        if self.probes_on:
            self.probe()
        self.evaluate()

    def next_batch(self):
        if self._order is None or self._pos + self.config.batch_size > self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._batch_generator).to(self.device)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.config.batch_size]
        self._pos += self.config.batch_size
        return self.dataset.train_x[idx], self.dataset.train_y[idx]

    def train_step(self) -> None:
        x, y = self.next_batch()
        self.step += 1
        step = self.step
        measure_ics = self.probes_on and step % self.ics_every == 0
        for twin in self.twins.values():
            if twin.active:
                self._step_twin(twin, x, y, measure_ics)
        if self.probes_on and (step % self.probe_every == 0 or step == self.total_steps):
            self.probe()
        if step % self.eval_every == 0 or step % self.steps_per_epoch == 0 or step == self.total_steps:
            self.evaluate()
        if self.step >= self.total_steps:
            self._finish("finished")

    def _step_twin(self, twin: Twin, x, y, measure_ics: bool) -> None:
        model, opt = twin.model, twin.optimizer
        model.train()
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        before = {k: p.detach().clone() for k, p in model.named_parameters()} if measure_ics else None
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()} if measure_ics else None
        opt.step()
        # One host transfer for both numbers: on a GPU each .item() is a synchronisation.
        loss_value, acc = torch.stack([loss.detach(), (logits.argmax(dim=1) == y).float().mean()]).tolist()
        twin.recent.append(loss_value)
        with self.lock:
            twin.train.add((self.step, loss_value, acc))
            self.version += 1
        reason = self._divergence(twin, loss_value)
        if reason:
            with self.lock:
                twin.status, twin.diverged_at_step, twin.reason = "diverged", self.step, reason
                self.version += 1
        elif measure_ics:
            self._measure_ics(twin, x, y, before, grads)

    def _divergence(self, twin: Twin, loss: float) -> str:
        if not math.isfinite(loss):
            return f"loss became {'NaN' if math.isnan(loss) else 'infinite'}"
        if twin.start_loss is None:
            twin.start_loss = loss
        limit = max(DIVERGE_FACTOR * twin.start_loss, DIVERGE_FLOOR)
        if loss > limit:
            return f"loss exploded to {loss:.3g} (more than {limit:.3g}, {DIVERGE_FACTOR:g}× its first value)"
        return ""

    def stop(self) -> None:
        self._finish("stopped")

    def _finish(self, status: str) -> None:
        with self.lock:
            for twin in self.twins.values():
                if twin.active:
                    twin.status = status
            self.version += 1

    # -- observation --------------------------------------------------------------------------------
    @torch.no_grad()
    def probe(self) -> None:
        active = [t for t in self.twins.values() if t.active]
        records = {}
        for twin in active:
            rec: list = []
            twin.model.run(self.probe_x, bn_mode="batch", record=rec)
            records[twin.name] = rec
        if not self.edges:  # first probe: fix every (layer, kind)'s bin edges for the whole run
            for i in range(len(self.layer_names)):
                for kind in probes.KINDS:
                    values = [rec[i][kind] for rec in records.values() if kind in rec[i]]
                    if values:
                        self.edges[(i, kind)] = probes.choose_edges(kind, self.config.activation, values)
        for twin in active:
            record = self._probe_record(twin, records[twin.name])
            dead = [self.layer_names[i] for i, layer in enumerate(record["layers"]) if layer["inactive_share"] >= 1.0]
            with self.lock:
                twin.probes.add(record)
                if dead and self.config.activation == "relu" and twin.collapsed_at_step is None:
                    twin.collapsed_at_step = self.step
                    twin.collapse_reason = (f"every ReLU in {', '.join(dead)} outputs 0 on the whole probe batch: "
                                            "no gradient reaches the layers below")
                self.version += 1

    def _probe_record(self, twin: Twin, rec: list) -> dict:
        model = twin.model
        layers = []
        for i, layer in enumerate(rec):
            linear = model.linears[i]
            entry = {kind: probes.summarize(layer[kind], self.edges[(i, kind)]) for kind in probes.KINDS if kind in layer}
            entry["grad_norm"] = float(linear.weight.grad.norm()) if linear.weight.grad is not None else math.nan
            entry["weight_norm"] = float(linear.weight.norm())
            entry["inactive_share"] = probes.inactive_share(self.config.activation, layer["act"])
            if model.use_bn:
                bn_input = layer["linear"] if model.bn_placement == "before" else layer["act"]
                entry["bn_internals"] = probes.bn_internals(model.bns[i], bn_input)
            layers.append(entry)
        out = model.linears[-1]
        return {
            "step": self.step,
            "layers": layers,
            "output_grad_norm": float(out.weight.grad.norm()) if out.weight.grad is not None else math.nan,
            "output_weight_norm": float(out.weight.norm()),
            "unit_percentiles": probes.unit_percentiles(model.layer_input(rec[-1])),
        }

    def _measure_ics(self, twin: Twin, x, y, before: dict, grads: dict) -> None:
        """Santurkar et al. (2018) Def. 2.1 for every layer i ≥ 2: G = ∇W_i L at the step's start;
        G′ = ∇W_i L with layers 1…i−1 already updated on the same batch, i…k not yet."""
        model = twin.model
        after = {k: p.detach() for k, p in model.named_parameters()}
        l2, cos = [], []
        for i in range(1, len(model.linears)):
            params = {}
            for name, value in before.items():
                layer = int(name.split(".")[1])
                params[name] = after[name] if layer < i else value
            weight_name = f"linears.{i}.weight"
            w = params[weight_name] = before[weight_name].clone().requires_grad_(True)
            with torch.enable_grad():
                loss = F.cross_entropy(model.run(x, bn_mode="batch", params=params), y)
                (g_prime,) = torch.autograd.grad(loss, [w])
            g = grads[weight_name]
            l2.append(float((g - g_prime).norm()))
            cos.append(probes.cosine(g, g_prime))
        with self.lock:
            twin.ics.add((self.step, l2, cos))
            self.version += 1

    @torch.no_grad()
    def evaluate(self) -> None:
        """Held-out loss and accuracy in eval mode over the whole split; for the BN twin also the
        accuracy with batch statistics (train-mode arithmetic, running buffers untouched)."""
        x, y = self.dataset.test_x, self.dataset.test_y
        for twin in [t for t in self.twins.values() if t.active]:
            model = twin.model
            model.eval()
            loss_sum, correct = 0.0, 0
            for start in range(0, len(y), EVAL_CHUNK):
                self._check_stop()
                logits = model.run(x[start : start + EVAL_CHUNK], bn_mode="running")
                loss_sum += float(F.cross_entropy(logits, y[start : start + EVAL_CHUNK], reduction="sum"))
                correct += int((logits.argmax(dim=1) == y[start : start + EVAL_CHUNK]).sum())
                if start == 0:  # the gallery is the split's head: its predictions come free
                    gallery = logits[:GALLERY_SIZE].argmax(dim=1).cpu().numpy()
            acc_batch = math.nan
            if model.use_bn:
                acc_batch = self._batch_stats_accuracy(model, x, y)
            model.train()
            loss = loss_sum / len(y)
            with self.lock:
                twin.evals.add((self.step, self.step / self.steps_per_epoch, loss, correct / len(y), acc_batch))
                twin.gallery = (self.step, gallery)
                self.version += 1

    def _batch_stats_accuracy(self, model, x, y) -> float:
        batch = min(self.config.batch_size, len(y))
        groups = len(y) // batch
        per_chunk = max(1, EVAL_CHUNK // batch)
        correct = 0
        for g0 in range(0, groups, per_chunk):
            self._check_stop()
            g1 = min(groups, g0 + per_chunk)
            xs = x[g0 * batch : g1 * batch].reshape(g1 - g0, batch, -1)
            ys = y[g0 * batch : g1 * batch].reshape(g1 - g0, batch)
            correct += int((model.run(xs, bn_mode="batch").argmax(dim=-1) == ys).sum())
        return correct / (groups * batch)

    def _check_stop(self) -> None:
        if self.should_stop():
            raise StopRequested

    # -- plain-data view ------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            raw = {
                name: dict(
                    status=t.status, diverged_at_step=t.diverged_at_step, reason=t.reason,
                    collapsed_at_step=t.collapsed_at_step, collapse_reason=t.collapse_reason,
                    train=t.train.items(), evals=t.evals.items(), probes=t.probes.items(), ics=t.ics.items(),
                    recent=list(t.recent), gallery=t.gallery,
                )
                for name, t in self.twins.items()
            }
            step, version = self.step, self.version
        twins = {name: _twin_view(name, r, self) for name, r in raw.items()}
        return {
            "step": step,
            "total_steps": self.total_steps,
            "steps_per_epoch": self.steps_per_epoch,
            "epoch": step / self.steps_per_epoch,
            "version": version,
            "cadence": {"probe_every": self.probe_every, "ics_every": self.ics_every, "eval_every": self.eval_every},
            "layer_names": list(self.layer_names),
            "ics_layer_names": self.weight_layer_names[1:],
            "edges": {f"{i}:{kind}": e for (i, kind), e in self.edges.items()},
            "modes": {"train": TRAIN_MODE, "eval": EVAL_MODE, "eval_batch_stats": BATCH_STATS_MODE, "probe": PROBE_MODE},
            "inactive_meaning": probes.INACTIVE_MEANING[self.config.activation],
            "gallery": {"images": self.gallery_images, "labels": self.gallery_labels, "mode": EVAL_MODE},
            "twins": twins,
        }


def _columns(rows: list, names: tuple[str, ...]) -> dict:
    if not rows:
        return {n: np.zeros(0) for n in names}
    arr = np.array(rows, dtype=np.float64)
    out = {n: arr[:, i] for i, n in enumerate(names)}
    out["step"] = out["step"].astype(np.int64)
    return out


def _twin_view(name: str, raw: dict, exp: Experiment) -> dict:
    final_eval = raw["evals"][-1] if raw["evals"] else None
    recent = raw["recent"]
    view = {
        "name": name,
        "status": raw["status"],
        "diverged_at_step": raw["diverged_at_step"],
        "reason": raw["reason"],
        "collapsed_at_step": raw["collapsed_at_step"],
        "collapse_reason": raw["collapse_reason"],
        "train": _columns(raw["train"], ("step", "loss", "acc")),
        "eval": _columns(raw["evals"], ("step", "epoch", "loss", "acc", "acc_batch_stats")),
        "probes": _probe_columns(raw["probes"], exp),
        "ics": _ics_columns(raw["ics"]),
        "gallery": ({"step": raw["gallery"][0], "predictions": raw["gallery"][1]} if raw["gallery"]
                    else {"step": None, "predictions": np.zeros(0, dtype=np.int64)}),
        "final": {
            "train_loss": float(np.mean(recent)) if recent else math.nan,
            "train_loss_window": len(recent),
            "test_loss": final_eval[2] if final_eval else math.nan,
            "test_acc": final_eval[3] if final_eval else math.nan,
            "test_acc_batch_stats": final_eval[4] if final_eval else math.nan,
            "eval_step": final_eval[0] if final_eval else None,
        },
    }
    return view


def _probe_columns(records: list, exp: Experiment) -> dict:
    steps = np.array([r["step"] for r in records], dtype=np.int64)
    layers = []
    for i in range(len(exp.layer_names)):
        entry = {}
        for kind in probes.KINDS:
            if records and kind in records[0]["layers"][i]:
                summaries = [r["layers"][i][kind] for r in records]
                entry[kind] = {
                    "edges": exp.edges[(i, kind)],
                    "counts": np.stack([s["counts"] for s in summaries]),
                    "under": np.array([s["under"] for s in summaries]),
                    "over": np.array([s["over"] for s in summaries]),
                    "nonfinite": np.array([s["nonfinite"] for s in summaries]),
                    "percentiles": np.stack([s["percentiles"] for s in summaries]),
                    "paper_percentiles": np.stack([s["paper_percentiles"] for s in summaries]),
                    "mean": np.array([s["mean"] for s in summaries]),
                    "std": np.array([s["std"] for s in summaries]),
                }
        for key in ("grad_norm", "weight_norm", "inactive_share"):
            entry[key] = np.array([r["layers"][i][key] for r in records], dtype=np.float64)
        if records and "bn_internals" in records[0]["layers"][i]:
            names = records[0]["layers"][i]["bn_internals"].keys()
            entry["bn_internals"] = {
                k: np.array([r["layers"][i]["bn_internals"][k] for r in records]) for k in names
            }
        layers.append(entry)
    return {
        "step": steps,
        "mode": PROBE_MODE,
        "probe_size": int(exp.probe_x.shape[0]),
        "percentiles": list(probes.TB_PERCENTILES),
        "paper_percentiles": list(probes.PAPER_PERCENTILES),
        "layers": layers,
        "output_grad_norm": np.array([r["output_grad_norm"] for r in records], dtype=np.float64),
        "output_weight_norm": np.array([r["output_weight_norm"] for r in records], dtype=np.float64),
        "unit_percentiles": (np.stack([r["unit_percentiles"] for r in records]) if records
                             else np.zeros((0, exp.config.hidden[-1], 3))),
    }


def _ics_columns(rows: list) -> dict:
    if not rows:
        return {"step": np.zeros(0, dtype=np.int64), "l2": np.zeros((0, 0)), "cos": np.zeros((0, 0))}
    return {
        "step": np.array([r[0] for r in rows], dtype=np.int64),
        "l2": np.array([r[1] for r in rows], dtype=np.float64),
        "cos": np.array([r[2] for r in rows], dtype=np.float64),
    }
