"""One experiment: lockstep twins (the run's arms, config.twins) trained on the same batches, observed by probes.

The arms (BN, plain, LayerNorm, noisy BN: bn_demo/model.py) start from identical Linear weights and
take their steps on the same mini-batch, one after the other, so any difference between them is their
normalisation layers' doing. All observation (probes, ICS, evaluation) is side-effect free: it draws
from no shared random stream (the noisy-BN arm's probe noise comes from generators of its own, keyed by
step: model.BatchNoise) and never touches BN running statistics, so losses are bitwise identical with
probes on or off.

The Experiment writes bounded histories under a lock; `record_parts()` copies them out as plain
rows and bn_demo/record.py turns those into the run record, the only thing a view ever sees.
"""

from __future__ import annotations

import collections
import math
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import probes
from . import record as rec
from .config import ConfigError, RunConfig
from .data import Dataset
from .history import DEFAULT_CAP, BoundedSeries
from .model import build_twins, make_optimizer, parameter_groups, weight_decay_on
from .runner import StopRequested  # the run's stop protocol: the engine checks it between chunks

PROBE_SEED_OFFSET = 7919  # the probe batch has its own generator: drawing it costs the batch stream nothing
PROBE_CAP = 400  # probe records kept per twin (each holds histograms for every layer and kind)
GALLERY_SIZE = 24  # held-out images whose predicted labels are kept (the split's first ones: no RNG draw)
EVAL_CHUNK = 8192  # held-out examples per forward pass; stop requests are honoured between chunks
DIVERGE_FACTOR = 50.0  # a loss this many times its first value counts as exploded
DIVERGE_FLOOR = 100.0
RECENT_WINDOW = 100  # batch losses averaged for the final "train_loss"
# Per-step loss and accuracy stay on the training device and reach the host in one transfer per
# fetch window: on a GPU every fetch is a synchronisation, so it happens every FETCH_STEPS steps or
# FETCH_SECONDS seconds, whichever comes first (and before every probe, ICS, evaluation and end).
# On the CPU there is nothing to overlap: one fetch per step is as fast (docs/engine.md) and freshest.
FETCH_STEPS = 32
FETCH_SECONDS = 0.25


class Twin:
    def __init__(self, name: str, model, optimizer):
        self.name = name
        self.model = model
        self.optimizer = optimizer
        self.status = "running"  # running / finished / stopped / diverged
        self.diverged_at_step: int | None = None
        self.reason: str | None = None  # a record.DIVERGENCE_REASONS code
        self.reason_values: dict = {}
        # A collapse is stated, not enforced: the twin keeps training (it may recover, usually not).
        self.collapsed_at_step: int | None = None
        self.collapsed_layers: list[int] = []
        self.parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        self.parameter_groups = parameter_groups(model)
        self.weight_decay_on = weight_decay_on(model, optimizer)
        self.start_loss: float | None = None
        self.recent = collections.deque(maxlen=RECENT_WINDOW)
        self.train = BoundedSeries(DEFAULT_CAP)  # (step, loss, acc)
        self.evals = BoundedSeries(DEFAULT_CAP)  # (step, epoch, loss, acc, acc_batch_stats)
        self.probes = BoundedSeries(PROBE_CAP)  # dict records
        self.ics = BoundedSeries(DEFAULT_CAP)  # (step, l2, cos, rel: one value per layer each)
        self.gallery = None  # (step, predicted labels of the gallery images) from the latest evaluation
        # Per hidden layer, the first probe's per-unit quantiles of the input to the nonlinearity: each later
        # probe's unit_w1 is measured from them (probes.unit_w1).
        self.unit_reference: list | None = None

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
            raise ConfigError("batch_size", config.batch_size, "batch_over_split", conflict="dataset",
                              n_train=self.n_train)
        self.steps_per_epoch = max(1, self.n_train // config.batch_size)
        self.total_steps = config.total_steps(self.n_train)
        cadence = config.cadences(self.total_steps)
        self.probe_every, self.ics_every, self.eval_every = (
            cadence["probe_every"], cadence["ics_every"], cadence["eval_every"])
        self.step = 0
        self.version = 0  # bumped on every write: a view can skip redrawing an unchanged record
        self.lr = config.lr  # every twin's learning rate now (set_lr changes it during a run)
        self.events: list[dict] = []  # the record's `events`: what happened to the whole run at a step

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
        self.n_layers = len(config.hidden)
        self.fetch_every = 1 if self.device.type == "cpu" else FETCH_STEPS
        self._pending: list = []  # (twin, step, device tensor [loss, acc]) not yet on the host
        self._fetched = (0, time.perf_counter())  # (step, time) of the last fetch

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
        probe_due = self.probes_on and (step % self.probe_every == 0 or step == self.total_steps)
        eval_due = step % self.eval_every == 0 or step % self.steps_per_epoch == 0 or step == self.total_steps
        if probe_due or eval_due or step - self._fetched[0] >= self.fetch_every \
                or time.perf_counter() - self._fetched[1] >= FETCH_SECONDS:
            self.fetch()  # observation and the end see only twins that are still running
        if probe_due:
            self.probe()
        if eval_due:
            self.evaluate()
        if self.step >= self.total_steps:
            self._finish("finished")

    def set_lr(self, lr: float) -> None:
        """Train every twin with learning rate `lr` from the next step on, noted as an "lr" event at
        that step. Called between steps by the training thread, so the twins change before the same one."""
        if lr == self.lr:
            return
        for twin in self.twins.values():
            for group in twin.optimizer.param_groups:
                group["lr"] = lr
        with self.lock:
            self.events.append({"step": self.step + 1, "kind": "lr", "lr": lr, "previous": self.lr})
            self.lr = lr
            self.version += 1

    def _step_twin(self, twin: Twin, x, y, measure_ics: bool) -> None:
        model, opt = twin.model, twin.optimizer
        model.train()
        opt.zero_grad(set_to_none=True)
        logits = model(x, noise_step=self.step)  # the noisy-BN arm's noise for this step (model.BatchNoise)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        before = {k: p.detach().clone() for k, p in model.named_parameters()} if measure_ics else None
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()} if measure_ics else None
        opt.step()
        # Both numbers stay on the device until the next fetch() (no host synchronisation here).
        self._pending.append((twin, self.step, torch.stack([loss.detach(), (logits.argmax(dim=1) == y).float().mean()])))
        if measure_ics:
            self.fetch()  # ICS is measured only on a twin that did not diverge at this step
            if twin.active:
                self._measure_ics(twin, x, y, before, grads)

    def fetch(self) -> None:
        """Bring the pending per-step losses and accuracies to the host in one transfer and check them
        in step order: a twin whose loss diverged is marked at that exact step, and the steps it took
        after it within this window are dropped from its history (they never count)."""
        self._fetched = (self.step, time.perf_counter())
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        values = torch.stack([pair for _, _, pair in pending]).tolist()  # the one host transfer
        with self.lock:
            self.version += 1
            for (twin, step, _), (loss_value, acc) in zip(pending, values):
                if not twin.active:  # diverged earlier in this window
                    continue
                twin.recent.append(loss_value)
                twin.train.add((step, loss_value, acc), self.version)
                reason, reason_values = self._divergence(twin, loss_value)
                if reason:
                    twin.status, twin.diverged_at_step, twin.reason, twin.reason_values = (
                        "diverged", step, reason, reason_values)

    def _divergence(self, twin: Twin, loss: float) -> tuple[str | None, dict]:
        """(reason code, its numbers) when this loss means the twin diverged, else (None, {})."""
        if not math.isfinite(loss):
            return ("nan" if math.isnan(loss) else "inf"), {}
        if twin.start_loss is None:
            twin.start_loss = loss
        limit = max(DIVERGE_FACTOR * twin.start_loss, DIVERGE_FLOOR)
        if loss > limit:
            return "exploded", {"loss": loss, "limit": limit, "factor": DIVERGE_FACTOR}
        return None, {}

    def stop(self) -> None:
        """Called by the training thread itself (the runner's worker), like every other method here."""
        self.fetch()
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
        for twin in active:  # stop requests are honoured between twins and between their summaries
            self._check_stop()
            rec: list = []
            # noise_step: a noisy-BN arm shows the noise its next training step adds (model.BatchNoise)
            twin.model.run(self.probe_x, bn_mode="batch", record=rec, noise_step=self.step + 1)
            records[twin.name] = rec
        if not self.edges:  # first probe: fix every (layer, kind)'s bin edges for the whole run
            for i in range(self.n_layers):
                for kind in probes.KINDS:
                    values = [rec[i][kind] for rec in records.values() if kind in rec[i]]
                    if values:
                        self.edges[(i, kind)] = probes.choose_edges(kind, self.config.activation, values)
        for twin in active:
            self._check_stop()
            record = self._probe_record(twin, records[twin.name])
            dead = [i for i, layer in enumerate(record["layers"]) if layer["inactive_share"] >= 1.0]
            with self.lock:
                self.version += 1
                twin.probes.add(record, self.version)
                if dead and self.config.activation == "relu" and twin.collapsed_at_step is None:
                    twin.collapsed_at_step, twin.collapsed_layers = self.step, dead

    def _probe_record(self, twin: Twin, rec: list) -> dict:
        model = twin.model
        layers = []
        for i, layer in enumerate(rec):
            linear = model.linears[i]
            entry = probes.summarize_layer(layer, {kind: self.edges[(i, kind)] for kind in layer}, self.config.activation,
                                           model.layer_input_kind)
            entry["grad_norm"] = float(linear.weight.grad.norm()) if linear.weight.grad is not None else math.nan
            entry["weight_norm"] = float(linear.weight.norm())
            entry["inactive_share"] = probes.inactive_share(self.config.activation, layer["act"])
            # One sort per layer serves unit_quantiles and, for the last hidden layer, unit_percentiles below.
            ordered = probes.sort_units(model.layer_input(layer))
            quantiles = probes.unit_quantiles(ordered, presorted=True)
            if twin.unit_reference is None or len(twin.unit_reference) <= i:
                twin.unit_reference = [*(twin.unit_reference or []), quantiles]
            entry["unit_w1"] = probes.unit_w1(quantiles, twin.unit_reference[i])
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
            "unit_percentiles": probes.unit_percentiles(ordered, presorted=True),  # the last hidden layer's
        }

    def _measure_ics(self, twin: Twin, x, y, before: dict, grads: dict) -> None:
        """Santurkar et al. (2018) Def. 2.1 for every layer i ≥ 2: G = ∇W_i L at the step's start;
        G′ = ∇W_i L with layers 1…i−1 already updated on the same batch, i…k not yet. Recorded per
        layer: l2 = ‖G − G′‖, cos = cos(G, G′) and rel = ‖G − G′‖ / ‖G‖ (NaN where G = 0)."""
        model = twin.model
        after = {k: p.detach() for k, p in model.named_parameters()}
        l2, cos, rel = [], [], []
        for i in range(1, len(model.linears)):  # a forward and backward pass per layer: stop between them
            self._check_stop()
            params = {}
            for name, value in before.items():
                layer = int(name.split(".")[1])
                params[name] = after[name] if layer < i else value
            weight_name = f"linears.{i}.weight"
            w = params[weight_name] = before[weight_name].clone().requires_grad_(True)
            with torch.enable_grad():
                loss = F.cross_entropy(model.run(x, bn_mode="batch", params=params, noise_step=self.step), y)
                (g_prime,) = torch.autograd.grad(loss, [w])
            g = grads[weight_name]
            l2.append(float((g - g_prime).norm()))
            cos.append(probes.cosine(g, g_prime))
            g_norm = float(g.norm())
            rel.append(l2[-1] / g_norm if g_norm > 0 else math.nan)
        with self.lock:
            self.version += 1
            twin.ics.add((self.step, l2, cos, rel), self.version)

    @torch.inference_mode()
    def evaluate(self) -> None:
        """Held-out loss and accuracy in eval mode over the whole split; for a BN twin (bn, noisy-bn) also
        the accuracy with batch statistics (train-mode arithmetic on held-out mini-batches of the training
        batch size, running buffers untouched). The noisy-BN arm's noise is replaced by its mean here
        (model.BatchNoise): evaluation draws nothing.

        Both passes start from one first-Linear output per chunk (for the tutorial net that layer is most of
        the arithmetic), and every sum stays on the device until one transfer per twin (docs/engine.md)."""
        x, y = self.dataset.test_x, self.dataset.test_y
        n = len(y)
        batch = min(self.config.batch_size, n)
        for twin in [t for t in self.twins.values() if t.active]:
            model = twin.model
            model.eval()
            loss_sums = []  # per chunk, float32 as F.cross_entropy returns it: summed on the host in order
            correct = torch.zeros(2, dtype=torch.int64, device=y.device)  # eval mode, batch statistics
            groups_left = n // batch if model.use_bn else 0
            rest = None  # (first-Linear rows, labels) of a held-out mini-batch the next chunk completes
            for start in range(0, n, EVAL_CHUNK):
                self._check_stop()
                labels = y[start : start + EVAL_CHUNK]
                first = model.linears[0](x[start : start + EVAL_CHUNK])
                predicted = model.run(None, bn_mode="running", first=first)
                loss_sums.append(F.cross_entropy(predicted, labels, reduction="sum"))
                predicted = predicted.argmax(dim=1)
                correct[0] += (predicted == labels).sum()
                if start == 0:  # the gallery is the split's head: its predictions come free
                    gallery = predicted[:GALLERY_SIZE]
                if groups_left:
                    if rest is not None and len(rest[1]):  # none left when the batch size divides EVAL_CHUNK
                        first, labels = torch.cat([rest[0], first]), torch.cat([rest[1], labels])
                    groups = min(groups_left, len(labels) // batch)
                    used, groups_left = groups * batch, groups_left - groups
                    rest = (first[used:], labels[used:])
                    if groups:
                        logits = model.run(None, bn_mode="batch", first=first[:used].reshape(groups, batch, -1))
                        correct[1] += (logits.argmax(dim=-1) == labels[:used].reshape(groups, batch)).sum()
            model.train()
            packed = torch.cat([torch.stack(loss_sums).double(), correct.double(), gallery.double()]).tolist()
            loss_sum = 0.0
            for value in packed[: len(loss_sums)]:  # in chunk order, as floats: the same sum every time
                loss_sum += value
            acc, acc_batch = packed[len(loss_sums)] / n, packed[len(loss_sums) + 1] / (n // batch * batch)
            with self.lock:
                self.version += 1
                twin.evals.add((self.step, self.step / self.steps_per_epoch, loss_sum / n, acc,
                                acc_batch if model.use_bn else math.nan), self.version)
                twin.gallery = (self.step, np.asarray(packed[len(loss_sums) + 2 :], dtype=np.int64))

    def _check_stop(self) -> None:
        if self.should_stop():
            raise StopRequested

    # -- plain rows for the run record ---------------------------------------------------------------
    def progress(self, step: int | None = None) -> dict:
        """Where the run stands: at `step` (the step of a snapshot taken under the lock), else now."""
        step = self.step if step is None else step
        return {"step": step, "total_steps": self.total_steps, "steps_per_epoch": self.steps_per_epoch,
                "fraction": step / self.total_steps}

    def record_parts(self, since: int | None = None) -> dict:
        """The experiment's part of the run record (bn_demo/record.py): rows copied under the lock,
        then turned into columns outside it, so training waits only for the copy. `since`: the engine
        version of the parts a reader holds; then each series brings only its rows written after it
        (BoundedSeries.since) and each twin its `kept` counts: the parts of a delta."""
        with self.lock:
            if since is not None and not 0 <= since <= self.version:  # not a version of this experiment
                since = None
            raw = {}
            for name, t in self.twins.items():
                series = {"train": t.train, "eval": t.evals, "probes": t.probes, "ics": t.ics}  # record sections
                changes = {key: s.since(since) if since is not None else (0, s.items()) for key, s in series.items()}
                raw[name] = dict(
                    status=t.status, diverged_at_step=t.diverged_at_step, reason=t.reason,
                    reason_values=dict(t.reason_values), collapsed_at_step=t.collapsed_at_step,
                    collapsed_layers=list(t.collapsed_layers), parameters=t.parameters,
                    parameter_groups=dict(t.parameter_groups), weight_decay_on=list(t.weight_decay_on),
                    **{key: rows for key, (_, rows) in changes.items()}, last_eval=t.evals.latest,
                    recent=list(t.recent), gallery=t.gallery,
                    kept={key: keep for key, (keep, _) in changes.items()} if since is not None else None,
                )
            step, version = self.step, self.version
            edges = dict(self.edges)
            events = [dict(event) for event in self.events]
        return {
            "progress": self.progress(step),
            "engine_version": version,
            "cursor": [version],
            "since": [since] if since is not None else None,
            "cadence": {"probe_every": self.probe_every, "ics_every": self.ics_every, "eval_every": self.eval_every},
            "n_layers": self.n_layers,
            "probe": {"size": int(self.probe_x.shape[0]), "percentile_ranks": list(probes.TB_PERCENTILES),
                      "paper_ranks": list(probes.PAPER_PERCENTILES)},
            "gallery": {"images": self.gallery_images, "labels": self.gallery_labels},
            "events": events,
            "twins": {name: rec.twin_record(r, edges, self.n_layers, self.config.hidden[-1])
                      for name, r in raw.items()},
        }
