"""Background runs: a training thread with start / pause / resume / stop and a lock-free view.

A UI never touches the worker's tensors: it calls `snapshot()`, which returns plain data. Control
calls only set events, so they return at once and take effect within STOP_LATENCY seconds.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback

from .config import RunConfig
from .data import Dataset, load_dataset
from .engine import Experiment, StopRequested
from .model import pick_device

POLL_SECONDS = 0.05  # how often a paused / queued / paced worker re-checks for stop
RATE_WINDOW_SECONDS = 0.5  # samples/s is measured over about this much recent time
# Intra-op threads per training thread. These networks are small: a second OpenMP thread gains
# little, and when several runs (or the web server) share the cores, spinning OpenMP workers slow
# every run several-fold. Override with BN_DEMO_TORCH_THREADS.
TORCH_THREADS_ENV = "BN_DEMO_TORCH_THREADS"
STATES = ("queued", "running", "paused", "finished", "stopped", "diverged", "failed")
ENDED = ("finished", "stopped", "diverged", "failed")
_run_ids = itertools.count(1)


def limit_torch_threads() -> int:
    """Cap torch's intra-op threads for the calling thread's work; returns the cap."""
    import torch

    threads = max(1, int(os.environ.get(TORCH_THREADS_ENV) or 1))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


class SlotPool:
    """At most `size` runs train at once; the rest wait first-come, first-served."""

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._cond = threading.Condition()
        self._queue: list = []
        self._active: set = set()

    def acquire(self, owner, cancelled) -> bool:
        with self._cond:
            self._queue.append(owner)
            try:
                while not (owner is self._queue[0] and len(self._active) < self.size):
                    if cancelled():
                        return False
                    self._cond.wait(POLL_SECONDS)
                self._active.add(owner)
                return True
            finally:
                self._queue.remove(owner)
                self._cond.notify_all()

    def release(self, owner) -> None:
        with self._cond:
            self._active.discard(owner)
            self._cond.notify_all()

    def position(self, owner) -> int | None:
        """1-based place in the waiting line, or None when not waiting."""
        with self._cond:
            return self._queue.index(owner) + 1 if owner in self._queue else None

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
                 probes_on: bool = True, slots: SlotPool | None = None):
        self.config = config.validate()
        self.run_id = next(_run_ids)
        self.data_dir = data_dir
        self.dataset = dataset
        self.probes_on = probes_on
        self.slots = slots
        self.experiment: Experiment | None = None
        self.device = None
        self.status = "queued"
        self.message = ""
        self.error_detail = ""  # full traceback for logs; never shown to a viewer
        self.train_seconds = 0.0
        self._samples_per_second = 0.0  # over the last completed rate window
        self._window = (time.perf_counter(), 0)  # (start, samples) of the window being measured
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

    def resume(self) -> None:
        with self._lock:
            if self.status == "paused":
                self.status = "running"
            self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

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

    # -- the worker -----------------------------------------------------------------------------------
    def _main(self) -> None:
        holding_slot = False
        try:
            if self.slots is not None:
                holding_slot = self.slots.acquire(self, self._stop.is_set)
                if not holding_slot:
                    self._end("stopped", "Stopped while waiting for a training slot.")
                    return
            self._set_status("running", "")
            limit_torch_threads()
            self.device = pick_device(self.config.device)
            if self.dataset is None:
                self.dataset = load_dataset(self.config.dataset, self.data_dir, self.device)
            else:
                self.dataset = self.dataset.to(self.device)
            self.experiment = Experiment(self.config, self.dataset, self.device, probes_on=self.probes_on,
                                         should_stop=self._stop.is_set)
            self._train()
        except StopRequested:
            self._end("stopped", self._stopped_message())
        except Exception as exc:  # captured into the status: a run's failure must never be lost
            self.error_detail = traceback.format_exc()
            self._end("failed", f"{type(exc).__name__}: {exc}")
        finally:
            if holding_slot:
                self.slots.release(self)

    def _train(self) -> None:
        exp = self.experiment
        exp.begin()
        pace_interval = 1.0 / self.config.pace if self.config.pace else 0.0
        self._window = (time.perf_counter(), 0)
        while not exp.done:
            if self._stop.is_set():
                raise StopRequested
            if not self._running.is_set():
                self._wait_while_paused()
                self._window = (time.perf_counter(), 0)
                continue
            t0 = time.perf_counter()
            exp.train_step()
            if pace_interval:
                self._stop.wait(max(0.0, pace_interval - (time.perf_counter() - t0)))
            now = time.perf_counter()
            self.train_seconds += now - t0
            start, samples = self._window[0], self._window[1] + self.config.batch_size
            if now - start >= RATE_WINDOW_SECONDS:
                self._samples_per_second = samples / (now - start)
                start, samples = now, 0
            self._window = (start, samples)
        statuses = [t.status for t in exp.twins.values()]
        diverged = [t for t in exp.twins.values() if t.status == "diverged"]
        if all(s == "diverged" for s in statuses):
            self._end("diverged", "; ".join(self.divergence_sentence(t.name) for t in diverged))
        else:
            self._end("finished", "; ".join(self.divergence_sentence(t.name) for t in diverged))

    def _wait_while_paused(self) -> None:
        while not self._running.is_set() and not self._stop.is_set():
            self._running.wait(POLL_SECONDS)

    def _stopped_message(self) -> str:
        step = self.experiment.step if self.experiment else 0
        return f"Stopped at step {step:,}."

    def _set_status(self, status: str, message: str) -> None:
        with self._lock:
            self.status, self.message = status, message

    def _end(self, status: str, message: str) -> None:
        if status == "stopped" and self.experiment is not None:
            self.experiment.stop()
        self._set_status(status, message)

    def divergence_sentence(self, twin_name: str) -> str:
        twin = self.experiment.twins[twin_name]
        label = "BN network" if twin_name == "bn" else "plain network"
        return f"{label} diverged at step {twin.diverged_at_step:,}: {twin.reason}"

    # -- plain-data view ------------------------------------------------------------------------------
    def progress(self) -> dict:
        exp = self.experiment
        step = exp.step if exp else 0
        total = exp.total_steps if exp else (self.config.steps or None)  # epochs need the data's size
        rate = self._samples_per_second
        if not rate and self.status == "running":  # no full window yet: report the partial one
            start, samples = self._window
            rate = samples / max(time.perf_counter() - start, 1e-9)
        remaining = (total - step) * self.config.batch_size / rate if (rate and total) else None
        position = self.slots.position(self) if self.slots is not None else None
        return {
            "step": step,
            "total_steps": total,
            "fraction": (step / total) if total else 0.0,
            "samples_per_second": rate,
            "eta_seconds": remaining if self.status == "running" else None,
            "train_seconds": self.train_seconds,
            "device": str(self.device) if self.device is not None else None,
            "queue_position": position,
        }

    def snapshot(self) -> dict:
        with self._lock:
            status, message = self.status, self.message
        exp = self.experiment
        snap = exp.snapshot() if exp is not None else {"twins": {}, "step": 0, "version": 0}
        snap.update(
            run_id=self.run_id,
            status=status,
            message=message,
            config=self.config.to_dict(),
            progress=self.progress(),
            dataset=exp.dataset.describe() if exp is not None else None,
            device=str(self.device) if self.device is not None else None,
        )
        return snap
