"""Background runs: a training thread with start / pause / resume / stop and a plain-data view.

A UI never touches the worker's tensors: it calls `record()`, which copies plain data out under
short locks (the run record, bn_demo/record.py). Control calls return at once. `stop()` ends the run as every caller sees it at once
(status "stopped", training slot returned), even while the worker is inside a step or a one-time
import it cannot leave; the worker notices within one step, or one chunk of a long evaluation, probe
or ICS pass, and then ends its thread.

A run may carry a Budget (the classroom server gives every run one, the CLI none): past its training
time or its work it stops with `stop_reason` "budget". With a SlotPool, a run paused for longer than
its `pause_grace` gives its slot back and queues for one again on Resume.

Live controls (issue #10): `set_lr`, `step` and `set_pause_at` only note what is asked for; the worker
applies it between two steps, so both twins change their learning rate before the same step and a
stepped or pause-at run stops after exactly the step asked for.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import record as rec
from .config import MAX_STEPS, ConfigError, RunConfig, check_integer
from .data import Dataset, DataUnavailable

if TYPE_CHECKING:
    from .engine import Experiment

# Nothing here imports torch when the module loads (the engine, the model and the loaders are imported
# by the worker), so a page that only shows runs draws without waiting for torch.

POLL_SECONDS = 0.05  # how often a paused / queued / paced worker re-checks for stop
RATE_WINDOW_SECONDS = 0.5  # samples/s is measured over windows of about this much time…
# …and smoothed over about this many seconds: probes, ICS passes and evaluations make single windows
# slow, and an unsmoothed ETA jumped tenfold within seconds.
RATE_SMOOTHING_SECONDS = 5.0
# Intra-op threads per training thread. These networks are small: a second OpenMP thread gains
# little, and when several runs (or the web server) share the cores, spinning OpenMP workers slow
# every run several-fold. Override with BN_DEMO_TORCH_THREADS.
TORCH_THREADS_ENV = "BN_DEMO_TORCH_THREADS"
# The run queue's rough guess at a step's cost (Runner.expected_slot_seconds): a fixed overhead plus its
# arithmetic, batch × parameters, at WORK_PER_SECOND. Fitted on the 2-core build VM: 2.3 ms a step for the
# digits twins at batch 32, 0.71 s for 12×512 twins at batch 1,024. It only orders the queue, so a faster
# server shortens every guess alike.
STEP_OVERHEAD_SECONDS = 0.002
WORK_PER_SECOND = 9e9
ENDED = rec.ENDED
ACTIVE = ("queued", "running", "paused")
log = logging.getLogger(__name__)
_run_ids = itertools.count(1)


def checked_lr(config: RunConfig, lr) -> float:
    """`lr` as a run's new learning rate, or ConfigError: RunConfig's own rule for lr decides."""
    config.replace(lr=lr).validate()
    return float(lr)


def checked_steps(name: str, value) -> int:
    """A count of steps or a step number a live control asks for (1 … MAX_STEPS), or ConfigError."""
    check_integer(name, value, 1, MAX_STEPS)
    return value


class StopRequested(Exception):
    """Raised inside a run, and inside the engine's long computations, when the run is asked to stop."""


def limit_torch_threads() -> int:
    """Cap torch's intra-op threads for the calling thread's work; returns the cap."""
    import torch

    threads = max(1, int(os.environ.get(TORCH_THREADS_ENV) or 1))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@dataclass(frozen=True)
class Budget:
    """What one run may use before it is stopped with reason "budget" (None: no limit).

    seconds: time holding a training slot (setup, steps, evaluations, a slow pace's waits; not time
    queued or paused). work: steps × batch size × trainable parameters of all its networks, about
    how much arithmetic the run asks of the server, however fast the server turns out to be."""

    seconds: float | None = None
    work: float | None = None

    def max_steps(self, batch_size: int, parameters: int) -> int | None:
        """The most steps the work budget allows a run of this batch size and parameter count."""
        if self.work is None:
            return None
        return int(self.work // (batch_size * max(1, parameters)))


def expected_slot_seconds(config: RunConfig, budget: Budget | None = None, data_dir=None, *, step: int = 0,
                          steps: int | None = None, parameters: int | None = None, slot_seconds: float = 0.0) -> float:
    """About how long a run will hold a training slot from `step` on: its remaining steps at the slower of its
    pace and the guessed step cost, within its budget (`slot_seconds` of it spent). Without `steps` and
    `parameters` (a run that has not built its networks), both come from the config, without torch. Orders
    the line of runs waiting for a slot (SlotPool, and the Ray backend's admissions)."""
    from . import data

    if steps is None or parameters is None:
        from .config import training_split_size

        steps = config.total_steps(training_split_size(config.dataset, data_dir) or 0)
        parameters = config.repeats * config.parameter_count(math.prod(data.IMAGE_SHAPES[config.dataset]),
                                                             data.N_CLASSES)
    limit = budget.max_steps(config.batch_size, parameters) if budget is not None else None
    if limit is not None:
        steps = min(steps, limit)
    per_step = STEP_OVERHEAD_SECONDS + config.batch_size * parameters / WORK_PER_SECOND
    seconds = max(0, steps - step) * max(per_step, 1.0 / config.pace if config.pace else 0.0)
    if budget is not None and budget.seconds is not None:
        seconds = min(seconds, max(0.0, budget.seconds - slot_seconds))
    return seconds


class SlotPool:
    """At most `size` runs train at once; the rest wait in a line ordered by when each is due.

    A run joining the line is due at (now + its expected slot time, expected_slot_seconds): the
    shortest expected run goes first, and every second in the line brings a run's turn a second nearer, so
    a long run goes ahead of any later arrival once it has waited its own expected time (no starvation).
    First-come, first-served made four short runs wait behind a sidebar-maximum run and a slowest-pace run
    (49-51 s in bench/load_bench.py --adversarial against a goal of pause grace + one run's time, 30 s).
    Runs expected to take equally long keep their order of arrival."""

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, object]] = []  # (due, arrival number, owner), kept sorted
        self._arrivals = itertools.count()
        self._active: set = set()

    def acquire(self, owner, cancelled, expected_seconds: float = 0.0) -> bool:
        """Wait in line for a slot; False when cancelled() or released from the line meanwhile."""
        with self._cond:
            entry = (time.monotonic() + max(0.0, expected_seconds), next(self._arrivals), owner)
            bisect.insort(self._queue, entry, key=lambda e: e[:2])
            try:
                while True:
                    if cancelled() or entry not in self._queue:
                        return False
                    if entry is self._queue[0] and len(self._active) < self.size:
                        self._active.add(owner)
                        return True
                    self._cond.wait(POLL_SECONDS)
            finally:
                if entry in self._queue:
                    self._queue.remove(entry)
                self._cond.notify_all()

    def release(self, owner) -> None:
        """Give back the owner's slot, or its place in the line: the runs behind move up at once."""
        with self._cond:
            self._active.discard(owner)
            self._queue = [e for e in self._queue if e[2] is not owner]
            self._cond.notify_all()

    def position(self, owner) -> int | None:
        """1-based place in the waiting line, or None when not waiting."""
        with self._cond:
            return next((i + 1 for i, e in enumerate(self._queue) if e[2] is owner), None)

    @property
    def active_count(self) -> int:
        with self._cond:
            return len(self._active)

    @property
    def waiting_count(self) -> int:
        with self._cond:
            return len(self._queue)


class Runner:
    def __init__(self, config: RunConfig, *, data_dir=None, dataset: Dataset | None = None,
                 probes_on: bool = True, slots: SlotPool | None = None, budget: Budget | None = None,
                 pause_grace: float | None = None, fallback: dict | None = None):
        self.config = config.validate()
        self.run_id = next(_run_ids)
        # Names this run in a page's link while it is live; unguessable, so a link says nothing about
        # other students' runs.
        self.token = secrets.token_urlsafe(12)
        self.data_dir = data_dir
        self.dataset = dataset
        self.probes_on = probes_on
        self.slots = slots
        self.budget = budget
        self.pause_grace = pause_grace  # seconds a paused run keeps its slot (None: for ever)
        self.fallback = fallback  # the data_unavailable error that put this run on the offline dataset
        self.experiment: Experiment | None = None  # the run's first seed: every view observes it
        # config.repeats − 1 more seeds, trained in lockstep with it (probes off): only their curves are read
        self.companions: list[Experiment] = []
        self.device = None
        self.status = "queued"
        self.error: dict | None = None  # the record's `error` of a failed run (a traceback goes to the log)
        self.versions: dict = {}
        self.stop_reason: str | None = None  # one of record.STOP_REASONS once the run is stopped
        self.budget_hit: str | None = None  # "seconds" or "work": which limit a budget stop reached
        self.step_limit: int | None = None  # the work budget in steps, once the networks exist
        self.gave_slot_back = False  # paused past the grace period: the slot went to others
        self.train_seconds = 0.0
        # Live controls, asked for from any thread under self._lock and applied by the worker between steps.
        self.pause_at: int | None = None  # pause by itself once this many steps are trained (then cleared)
        self._lr_wanted: float | None = None  # a learning rate asked for and not yet applied
        self._steps_wanted = 0  # steps a step() call asked for and the worker has not begun
        self._step_until: int | None = None  # where those steps end: the run pauses there again
        self._samples_per_second = 0.0  # smoothed over the completed rate windows
        self._window = (time.perf_counter(), 0)  # (start, samples) of the window being measured
        self._slot_seconds = 0.0  # time holding a slot, up to _slot_since (the wall-time budget)
        self._slot_since: float | None = None  # while holding a slot and not paused
        self._holding = False  # the worker holds a slot of `slots`
        self._discarded = False  # let go of the tensors as soon as the worker is done
        self._worker_done = False
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=f"bn-demo-run-{self.run_id}", daemon=True)

    # -- control (any thread) -----------------------------------------------------------------------
    def start(self) -> Runner:
        self._thread.start()
        return self

    def pause(self) -> None:
        with self._lock:
            if self.status == "running":
                self._running.clear()
                self.status = "paused"
                self._steps_wanted, self._step_until = 0, None  # a pause ends a step() call: Resume runs on freely

    def resume(self) -> None:
        with self._lock:
            self._resume()

    def _resume(self) -> None:  # under self._lock
        if self.status == "paused":
            # A run that gave its slot back waits in the queue again; its worker takes a slot in turn.
            self.status = "queued" if self.slots is not None and not self._holding else "running"
        self._running.set()

    def set_lr(self, lr: float) -> None:
        """Train both twins with learning rate `lr` from the next step on; the run record notes it as an
        "lr" event at that step. A bad value raises ConfigError (RunConfig's rule for lr); a run that
        has ended ignores the call. Of several changes asked for between two steps the last one counts."""
        lr = checked_lr(self.config, lr)
        with self._lock:
            if self.status in ACTIVE:
                self._lr_wanted = lr

    def step(self, steps: int = 1) -> None:
        """While paused: train exactly `steps` more steps, then pause again (status "running" meanwhile).
        Otherwise nothing. A count outside 1 … MAX_STEPS raises ConfigError."""
        steps = checked_steps("steps", steps)
        with self._lock:
            if self.status == "paused":
                self._steps_wanted = steps
                self._resume()

    def set_pause_at(self, step: int | None) -> None:
        """Pause by itself once `step` steps are trained (exactly there); None cancels. A step the run
        has already passed is dropped. A step outside 1 … MAX_STEPS raises ConfigError."""
        step = None if step is None else checked_steps("pause_at", step)
        with self._lock:
            if self.status in ACTIVE:
                self.pause_at = step

    def stop(self, reason: str = "user") -> None:
        """End the run now as every caller sees it: status "stopped", its slot returned to the pool.
        The worker leaves at its next check (within a step or a chunk of a long phase)."""
        if reason not in rec.STOP_REASONS:
            raise ValueError(f"unknown stop reason {reason!r}")
        with self._lock:
            if self.status not in ENDED:
                self.status, self.stop_reason = "stopped", reason
        self._stop.set()
        self._running.set()
        if self.slots is not None:
            self.slots.release(self)

    def discard(self, reason: str = "user") -> None:
        """Stop the run and let go of its networks, optimizers and history: at once when its thread has
        ended, else as the thread ends. Its status stays readable."""
        self.stop(reason)
        with self._lock:
            self._discarded = True
            drop = self._worker_done or self._thread.ident is None
        if drop:
            self._drop()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def setting_up(self) -> bool:
        """Training has its slot but not yet its data and networks (loading, downloading)."""
        return self.status == "running" and self.experiment is None

    @property
    def has_first_point(self) -> bool:
        """The step-0 evaluation exists: a view has something to plot."""
        exp = self.experiment
        return exp is not None and any(len(t.evals) for t in exp.twins.values())

    def expected_slot_seconds(self) -> float:
        """About how long the rest of this run will hold a training slot (expected_slot_seconds)."""
        exp = self.experiment
        if exp is None:
            return expected_slot_seconds(self.config, self.budget, self.data_dir, slot_seconds=self.slot_seconds)
        return expected_slot_seconds(self.config, self.budget, step=self._lead(exp).step, steps=exp.total_steps,
                                     parameters=self._parameters(exp), slot_seconds=self.slot_seconds)

    @property
    def slot_seconds(self) -> float:
        """Time this run has held a training slot while not paused (what the wall-time budget counts)."""
        with self._lock:
            since = self._slot_since
            return self._slot_seconds + (time.monotonic() - since if since is not None else 0.0)

    # -- the worker -----------------------------------------------------------------------------------
    def _main(self) -> None:
        from .data import load_dataset
        from .engine import Experiment
        from .model import pick_device

        try:
            if not self._take_slot():
                raise StopRequested
            limit_torch_threads()
            self.device = pick_device(self.config.device)
            if self.dataset is None:
                self.dataset = load_dataset(self.config.dataset, self.data_dir, self.device)
            else:
                self.dataset = self.dataset.to(self.device)
            self._check_stop()
            self.versions = rec.library_versions()
            self.experiment = Experiment(self.config, self.dataset, self.device, probes_on=self.probes_on,
                                         should_stop=self._should_stop)
            self.companions = [Experiment(self.config.replace(seed=seed), self.dataset, self.device, probes_on=False,
                                          should_stop=self._should_stop) for seed in self.config.seeds[1:]]
            if self.budget is not None:
                self.step_limit = self.budget.max_steps(self.config.batch_size, self._parameters())
            self._train()
        except StopRequested:
            self._stopped()
        # A run's failure must never be lost: it lands in the record as a code the page phrases.
        except DataUnavailable as exc:
            self._end("failed", exc.as_error())
        except ConfigError as exc:
            details = exc.as_dict()
            self._end("failed", {**details, "code": "invalid_config", "rule": details["code"]})
        except Exception as exc:
            log.exception("run %s failed", self.run_id)  # the traceback is for the server's log only
            self._end("failed", {"code": "exception", "type": type(exc).__name__})
        finally:
            self._leave_slot()
            with self._lock:
                self._worker_done = True
                drop = self._discarded
            if drop:
                self._drop()

    def _take_slot(self) -> bool:
        """Wait in the pool's queue (status "queued") for a slot; False when the run was stopped meanwhile."""
        if self.slots is not None:
            if not self.slots.acquire(self, self._stop.is_set, self.expected_slot_seconds()):
                return False
            with self._lock:
                self._holding = True
        with self._lock:
            if self.status in ENDED:
                return False
            self.status, self.gave_slot_back = "running", False
            self._slot_since = time.monotonic()
        return True

    def _leave_slot(self) -> None:
        with self._lock:
            self._pause_clock()
            self._holding = False
        if self.slots is not None:
            self.slots.release(self)

    def _pause_clock(self) -> None:  # under self._lock
        if self._slot_since is not None:
            self._slot_seconds += time.monotonic() - self._slot_since
            self._slot_since = None

    def _should_stop(self) -> bool:
        """The stop flag, raised first if the run has used its training time."""
        if not self._stop.is_set() and self.budget is not None and self.budget.seconds is not None \
                and self.slot_seconds >= self.budget.seconds:
            self.budget_hit = "seconds"
            self.stop("budget")
        return self._stop.is_set()

    def _check_stop(self) -> None:
        if self._should_stop():
            raise StopRequested

    def _experiments(self, first: Experiment | None = None) -> list[Experiment]:
        """Every seed's experiment, the first seed's first. A reader in another thread passes the first seed's
        experiment it already holds: the worker may let go of them all meanwhile (_drop)."""
        first = first if first is not None else self.experiment
        return [first, *self.companions] if first is not None else []

    def _lead(self, first: Experiment | None = None) -> Experiment:
        """The seed furthest along: the run's clock (the first seed's steps stop where its twins all diverged)."""
        return max(self._experiments(first), key=lambda e: e.step)

    def _parameters(self, first: Experiment | None = None) -> int:
        return sum(twin.parameters for e in self._experiments(first) for twin in e.twins.values())

    def _train(self) -> None:
        for seed_run in self._experiments():
            seed_run.begin()
        pace_interval = 1.0 / self.config.pace if self.config.pace else 0.0
        self._window = (time.perf_counter(), 0)
        while not all(seed_run.done for seed_run in self._experiments()):
            exp = self._lead()
            self._check_stop()
            if not self._running.is_set():
                self._wait_while_paused()
                self._window = (time.perf_counter(), 0)
                continue
            if self.step_limit is not None and exp.step >= self.step_limit:
                self.budget_hit = "work"
                self.stop("budget")
                raise StopRequested
            self._apply_controls(exp)
            t0 = time.perf_counter()
            for seed_run in self._experiments():
                if not seed_run.done:
                    seed_run.train_step()
            self._pause_if_due(exp)
            if pace_interval:
                self._stop.wait(max(0.0, pace_interval - (time.perf_counter() - t0)))
            now = time.perf_counter()
            self.train_seconds += now - t0
            start, samples = self._window[0], self._window[1] + self.config.batch_size
            if now - start >= RATE_WINDOW_SECONDS:
                rate, weight = samples / (now - start), 1.0 - math.exp(-(now - start) / RATE_SMOOTHING_SECONDS)
                previous = self._samples_per_second
                self._samples_per_second = rate if not previous else previous + weight * (rate - previous)
                start, samples = now, 0
            self._window = (start, samples)
        statuses = [t.status for seed_run in self._experiments() for t in seed_run.twins.values()]
        self._end("diverged" if all(s == "diverged" for s in statuses) else "finished")

    def _apply_controls(self, exp: Experiment) -> None:
        """Just before a step: what the live controls asked for since the last one."""
        with self._lock:
            lr, self._lr_wanted = self._lr_wanted, None
            if self._steps_wanted:  # counted from here: a step under way when step() was called is not one of them
                self._step_until, self._steps_wanted = exp.step + self._steps_wanted, 0
            if self.pause_at is not None and self.pause_at <= exp.step:
                self.pause_at = None  # asked for a step already trained: it can never be reached
        if lr is not None:
            for seed_run in self._experiments():
                seed_run.set_lr(lr)

    def _pause_if_due(self, exp: Experiment) -> None:
        """Right after a step: pause where a step() call or the pause-at step ends (not at the last step:
        the run finishes there)."""
        with self._lock:
            if exp.step not in (self._step_until, self.pause_at):
                return
            if exp.step == self.pause_at:
                self.pause_at = None
            self._step_until = None  # reaching the pause-at step ends a step() call too
            if self.status == "running" and not all(seed_run.done for seed_run in self._experiments()):
                self._running.clear()
                self.status = "paused"

    def _wait_while_paused(self) -> None:
        """Hold still while paused. Past the grace period the slot goes back to the pool, so one
        student's paused run does not keep the class waiting; Resume then queues for a slot again."""
        with self._lock:
            self._pause_clock()
        paused_at = time.monotonic()
        while not self._running.is_set() and not self._stop.is_set():
            if self.slots is not None and self.pause_grace is not None \
                    and time.monotonic() - paused_at >= self.pause_grace:
                with self._lock:  # resume() reads _holding under this lock: status and slot agree
                    give_back = self._holding and not self._running.is_set()
                    if give_back:
                        self._holding, self.gave_slot_back = False, True
                if give_back:
                    self.slots.release(self)
            self._running.wait(POLL_SECONDS)
        self._check_stop()
        if not self._holding:
            if not self._take_slot():
                raise StopRequested
        else:
            with self._lock:
                self._slot_since = time.monotonic()

    def _stopped(self) -> None:
        """The worker's end after a stop (stop() already set the run's status): the twins say "stopped"."""
        for seed_run in self._experiments():
            seed_run.stop()

    def _drop(self) -> None:
        self.experiment, self.companions = None, []
        self.dataset = None

    def _end(self, status: str, error: dict | None = None) -> None:
        """The worker's own ending (finished, diverged, failed); a run already stopped stays stopped."""
        with self._lock:
            if self.status not in ENDED:
                self.status, self.error = status, error

    # -- plain-data view ------------------------------------------------------------------------------
    def progress(self) -> dict:
        exp = self.experiment
        # Before the networks exist: step 0 of the steps asked for (a length in epochs needs the data's size).
        where = self._lead(exp).progress() if exp else {"step": 0, "total_steps": self.config.steps or None,
                                                        "fraction": 0.0}
        step, total = where["step"], where["total_steps"]
        rate = self._samples_per_second
        if not rate and self.status == "running":  # no full window yet: report the partial one
            start, samples = self._window
            rate = samples / max(time.perf_counter() - start, 1e-9)
        elif not rate and self.train_seconds:  # a run shorter than one window: its overall rate, not 0
            rate = step * self.config.batch_size / self.train_seconds
        remaining = (total - step) * self.config.batch_size / rate if (rate and total) else None
        position = self.slots.position(self) if self.slots is not None else None
        return {
            **where,
            "samples_per_second": rate,
            "eta_seconds": remaining if self.status == "running" else None,
            "train_seconds": self.train_seconds,
            "queue_position": position,
            "lr": self._current_lr(),
            "pause_at": self.pause_at,
        }

    def _current_lr(self) -> float:
        """The learning rate the run's next step trains with (a change asked for included)."""
        with self._lock:
            wanted = self._lr_wanted
        exp = self.experiment
        return wanted if wanted is not None else exp.lr if exp is not None else self.config.lr

    def record(self, since: list[int] | None = None) -> dict:
        """The run record (bn_demo/record.py): everything a view may show, as plain data. `since`: the
        cursor of a record of this run the reader holds; then the answer is a delta (record.merge)."""
        with self._lock:
            status, error, stop_reason = self.status, self.error, self.stop_reason
        exp = self.experiment
        progress = self.progress()
        progress.update(slot_released=self.gave_slot_back, pause_grace=self.pause_grace)
        if exp is not None:  # where the run stands comes with the engine's snapshot, consistent with its series
            for key in exp.progress():
                progress.pop(key)
        experiments = self._experiments(exp)
        if since is not None and len(since) == len(experiments):
            every = [e.record_parts(version) for e, version in zip(experiments, since)]
            if any(part["since"] is None for part in every):  # a version none of them wrote: the whole record
                every = [e.record_parts() for e in experiments]
        else:  # no cursor, or one of another set of experiments (the other seeds were still being built)
            every = [e.record_parts() for e in experiments]
        parts, *others = every or [None]
        if others:  # the other seeds' curves; the run's clock, version and cursor count every seed
            parts["repeats"] = rec.repeats_block(self.config.seeds[1:], others)
            parts["engine_version"] += sum(other["engine_version"] for other in others)
            parts["progress"] = max([parts, *others], key=lambda p: p["progress"]["step"])["progress"]
            parts["cursor"] = [version for part in (parts, *others) for version in part["cursor"]]
            parts["since"] = parts["since"] and [version for part in (parts, *others) for version in part["since"]]
        record = rec.assemble(
            run_id=self.run_id, status=status, config=self.config.to_dict(),
            parts=parts, stop_reason=stop_reason, error=error,
            device=str(self.device) if self.device is not None else None, versions=self.versions,
            dataset=exp.dataset.describe() if exp is not None and exp.dataset is not None else None,
            progress=progress,
        )
        record["fallback"] = self.fallback
        if self.budget is not None:
            record["budget"] = {"seconds": self.budget.seconds, "work": self.budget.work,
                                "step_limit": self.step_limit, "hit": self.budget_hit}
        return record
