"""The Ray backend: each run is a Ray actor that holds a Runner in its own worker process.

Commands are actor methods; reads return the run record (plain data: numbers, numpy arrays, codes),
so no live tensor leaves the worker. A run's training slot is a Ray placement group of one bundle,
{"CPU": 1}: Ray queues the group until a CPU is free anywhere in the cluster, and the run's actor is
then created on that group's machine (num_cpus=0 itself, plus a GPU fraction when it trains on CUDA).
Runs wait for their first slot in this server's line, ordered as the thread backend's SlotPool orders
its own (shortest expected run first, ageing so that none starves), and only the head of the line asks
Ray for a group at a time, so they get slots in that order. A waiting run reads "queued", with its place
in the line; once its group is placed it reads "running" and setting up while its worker starts.

Why a group and not `num_cpus=1` on the actor: Ray never shrinks a live actor's resources (an actor
blocked in ray.get keeps its CPU; tried with Ray 2.60), so a paused actor would hold its CPU for as
long as it lives. A group can be removed and asked for again. The worker's Runner takes and gives
back its group as it would a SlotPool's slot: paused past its pause grace it removes the group (the
CPU is free for a queued run; the networks stay in the worker's memory), and Resume asks for a new
group on the same machine, where the run's state lives, and reads "queued" until Ray grants it.

When a run ends (finished, diverged, failed, stopped) its final record is kept here, its actor is
killed and its group removed, which gives the slot back. When the worker process dies (killed,
os._exit, a crash in native code) the run reads "failed" with error {"code": "worker_lost",
"type": <Ray's exception class>}; its group is removed and the other runs go on.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import logging
import os
import queue
import secrets
import socket
import sys
import threading
import time
from operator import attrgetter

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError
from ray.util.placement_group import PlacementGroup, placement_group, placement_group_table, remove_placement_group
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .. import record as rec
from ..config import RunConfig
from ..runner import _run_ids, checked_lr, checked_steps, expected_slot_seconds
from . import RAY_ADDRESS_ENV, BackendUnavailable

NAMESPACE = "bn_demo"
ACTOR_PREFIX = "bn-demo-run-"
SLOT_PREFIX = "bn-demo-slot-"  # a run's placement groups: SLOT_PREFIX + token + "-" + a count
CALL_TIMEOUT = 30.0  # seconds a control call or a read waits for its actor
STOP_WAIT = 2.0  # seconds stop() waits for the worker to end on its own before the actor is killed
GPU_FRACTION_ENV = "BN_DEMO_RAY_GPU_FRACTION"
DEFAULT_GPU_FRACTION = 0.25  # four CUDA runs share one GPU
CONNECT_TIMEOUT = 3.0  # seconds to reach a cluster's address before saying it is unreachable
MONITOR_WAIT = 0.2
LOST = "worker_lost"  # the record's error code when the worker process died under the run
log = logging.getLogger(__name__)


class _Slot:
    """Inside the worker: the run's training slot for its Runner, in place of a SlotPool. It holds one
    placement group at a time: first the one the server reserved (on this machine: the actor was
    placed there), after a release a new one pinned to this machine, named after the run so that the
    server can remove whatever group the run holds when the worker is lost."""

    def __init__(self, group: PlacementGroup, name: str):
        self._group, self._ready, self._name = group, group.ready(), name
        self._count = itertools.count(1)
        self._bundle = {"CPU": 1, f"node:{ray.util.get_node_ip_address()}": 0.001}
        self._lock = threading.Lock()

    def acquire(self, owner, cancelled, expected_seconds: float = 0.0) -> bool:
        """Wait for the group to be placed; False (and the request withdrawn) when cancelled() first."""
        with self._lock:
            if self._group is None:
                self._group = placement_group([self._bundle], name=f"{self._name}-{next(self._count)}")
                self._ready = self._group.ready()
            ready_ref = self._ready
        while not cancelled():
            if ray.wait([ready_ref], timeout=MONITOR_WAIT)[0]:
                return True
        self.release(owner)
        return False

    def release(self, owner) -> None:
        with self._lock:
            group, self._group = self._group, None
        if group is not None:
            remove_placement_group(group)

    def position(self, owner) -> None:
        return None  # the server counts the waiting runs (RayBackend.position)


class _RunActor:
    """Inside the worker process: one Runner, its slot a placement group (_Slot). Threaded
    (max_concurrency), so reads and stop are served while `wait_end` blocks."""

    def __init__(self, config: RunConfig, kwargs: dict, group: PlacementGroup, slot_name: str):
        from ..runner import Runner

        self.runner = Runner(config, slots=_Slot(group, slot_name), **kwargs).start()

    def ready(self) -> int:
        return os.getpid()

    def wait_end(self) -> dict:
        """Blocks until the run's thread has ended; then its final record."""
        self.runner.join()
        return self.runner.record()

    def record(self, since: list[int] | None = None) -> dict:
        return self.runner.record(since)

    def progress(self) -> dict:
        return self.runner.progress()

    def status(self) -> str:
        return self.runner.status

    def flags(self) -> dict:
        r = self.runner
        return {"status": r.status, "setting_up": r.setting_up, "has_first_point": r.has_first_point}

    def pause(self) -> str:
        self.runner.pause()
        return self.runner.status

    def resume(self) -> str:
        self.runner.resume()
        return self.runner.status

    def stop(self, reason: str) -> str:
        self.runner.stop(reason)
        return self.runner.status

    def set_lr(self, lr: float) -> None:
        self.runner.set_lr(lr)

    def step(self, steps: int) -> None:
        self.runner.step(steps)

    def set_pause_at(self, step: int | None) -> None:
        self.runner.set_pause_at(step)


RunActor = ray.remote(max_concurrency=4)(_RunActor)


def ensure_ray(address: str | None = None) -> bool:
    """Connect this process to Ray once: `address`, else $BN_DEMO_RAY_ADDRESS, else a new local Ray
    with this machine's cores and no dashboard. True when this call started or joined Ray (so
    shutdown is ours). An unreachable address raises BackendUnavailable("ray_unreachable")."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get(RAY_ADDRESS_ENV) or None
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False, namespace=NAMESPACE)
    if address is None:
        _in_keeper(lambda: ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **quiet))
        return True
    problem = unreachable(address)
    if problem:
        raise BackendUnavailable("ray_unreachable", address=address, detail=problem)
    with _stderr_held() as held:
        try:
            _in_keeper(lambda: ray.init(address=address, **quiet))
        except (ConnectionError, RayError, RuntimeError, ValueError, OSError) as exc:
            held.drop = True  # Ray's C++ client repeats a warning every second while it retries
            log.debug("ray.init(%r): %s", address, held.text()[-2000:])
            raise BackendUnavailable("ray_unreachable", address=address, detail=type(exc).__name__) from None
    return True


# Ray ties the life of the processes it starts (a local Ray's GCS and raylet) to the *thread* that starts
# them: on Linux it sets PR_SET_PDEATHSIG, which fires when that thread ends, not the process. Started from
# a page's script thread, or from any thread that then ends, the local Ray was killed moments later and
# every call failed a minute on with "Failed to connect to GCS within 60 seconds" (seen here with
# BN_DEMO_BACKEND=ray). So ray.init runs on one thread that lives as long as this process.
_keeper_jobs: queue.SimpleQueue = queue.SimpleQueue()
_keeper: threading.Thread | None = None
_keeper_lock = threading.Lock()


def _in_keeper(call) -> None:
    """Run call() on the keeper thread and wait for it; its exception is raised here."""
    global _keeper
    with _keeper_lock:
        if _keeper is None:
            _keeper = threading.Thread(target=_keep, name="bn-demo-ray-keeper", daemon=True)
            _keeper.start()
    done, outcome = threading.Event(), []
    _keeper_jobs.put((call, done, outcome))
    done.wait()
    if outcome:
        raise outcome[0]


def _keep() -> None:
    while True:
        call, done, outcome = _keeper_jobs.get()
        try:
            call()
        except BaseException as exc:  # handed to the caller, who raises it
            outcome.append(exc)
        done.set()


class _stderr_held:
    """Hold what is written to file descriptor 2 (Ray's C++ logs too) while connecting; write it out
    afterwards unless `drop` was set, so a failed connection reads as one line."""

    def __enter__(self):
        import tempfile

        self.drop, self._file = False, tempfile.TemporaryFile()
        sys.stderr.flush()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def text(self) -> str:
        self._file.seek(0)
        return self._file.read().decode(errors="replace")

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if not self.drop:
            sys.stderr.write(self.text())
        self._file.close()
        return False


def unreachable(address: str) -> str | None:
    """Why host:port (or ray://host:port) cannot be reached, in a few words, or None. Ray itself
    retries an absent cluster for minutes; this answers in CONNECT_TIMEOUT seconds."""
    if address == "auto":
        return None
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return "not host:port"
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


class RayRun:
    """A run handle (backends.RunHandle) for one run: its slot (a placement group), then its actor.
    Thread-safe; every wait is bounded."""

    dataset = None  # the data lives in the worker; the page cannot share it across runs

    def __init__(self, backend: RayBackend, config: RunConfig, kwargs: dict, actor_options: dict):
        self.backend = backend
        self.config = config.validate()
        self.run_id = next(_run_ids)
        self.token = secrets.token_urlsafe(12)
        self.fallback = kwargs.get("fallback")
        self._kwargs, self._actor_options = kwargs, actor_options
        self._lock = threading.RLock()
        self._final: dict | None = None  # the run's last record, once it has ended (the actor is gone)
        self._last: dict | None = None  # the latest record read from the actor (what a lost worker leaves)
        self._last_progress: dict | None = None  # the latest progress read, if newer than that record
        self._waiting = False  # placed, then queued again after its pause grace (as last read)
        self._killed = False  # we killed the actor (stop, discard, end), so its death is no fault
        self._slot_name = f"{SLOT_PREFIX}{self.token}"
        # The first slot, asked for once the run heads this server's line (RayBackend._admit), or None.
        self._group: PlacementGroup | None = None
        self._group_ready = None
        self._asks = itertools.count()
        self._entry: tuple[float, int] = (0.0, 0)  # (due, arrival): its place in the line (set by the backend)
        self._actor = None  # created once the group is placed, on its machine
        self._ready_ref = self._end_ref = None
        self._early: list[tuple] = []  # live controls asked for before the actor existed
        self._placed = False

    # -- reads ------------------------------------------------------------------------------------------
    @property
    def placed(self) -> bool:
        """The run's actor has been placed and built its Runner (not waiting for its first slot). The backend's
        monitor thread creates the actor once the slot is placed (RayBackend._watch)."""
        if not self._placed and self._final is None:
            if self._ready_ref is not None and ray.wait([self._ready_ref], timeout=0)[0]:
                self._placed = True
        return self._placed

    @property
    def status(self) -> str:
        if self._final is not None:
            return self._final["status"]
        if not self.placed:  # waiting for its first slot, or (the actor created on it) starting its worker
            return "running" if self._actor is not None else "queued"
        status = self._call("status", default=(self._last or {}).get("status", "running"))
        self._waiting = status == "queued"
        return status

    @property
    def ended(self) -> bool:
        return self.status in rec.ENDED

    @property
    def alive(self) -> bool:
        """The run has not ended here yet (its actor is live or its slot is still to be placed)."""
        if self._final is None:
            self._poll_end()
        return self._final is None

    @property
    def error(self) -> dict | None:
        return (self._final or {}).get("error")

    @property
    def setting_up(self) -> bool:
        if self._final is None and not self.placed:
            return self._actor is not None  # its worker process starts (imports torch) and builds the Runner
        return self._flags().get("setting_up", False)

    @property
    def has_first_point(self) -> bool:
        if self._final is not None:
            return any(len(t["eval"]["step"]) for t in self._final["twins"].values())
        return self._flags().get("has_first_point", False)

    def queue_position(self) -> int | None:
        if self._final is not None or self.status != "queued":
            return None
        return self.backend.position(self)

    def record(self, since: list[int] | None = None) -> dict:
        """Always the whole record, whatever `since` asks: the handle keeps the latest one and asks its
        actor only for what changed after it, so a long run's series cross the process boundary once."""
        if self._final is not None:
            return copy.copy(self._final)
        if not self.placed:
            return self._early_record()
        held = self._last
        fresh = self._call("record", held["cursor"] if held else None)
        record = rec.merge(held, self._stamp(fresh)) if fresh is not None else None
        if record is None and fresh is not None:  # not a continuation of what the handle holds
            fresh = self._call("record")
            record = self._stamp(fresh) if fresh is not None else None
        if record is None:  # the worker was lost meanwhile, or did not answer in time
            return copy.copy(self._final or self._last or self._early_record())
        self._waiting = record["status"] == "queued"
        if self._waiting:  # queued again after its pause grace: its place among this server's waiting runs
            record["progress"]["queue_position"] = self.backend.position(self)
        self._last, self._last_progress = record, None
        return record

    def progress(self) -> dict:
        if self._final is not None:
            return dict(self._final["progress"])
        if not self.placed:
            return self._early_record()["progress"]
        progress = self._call("progress")
        if progress is None:
            return dict((self._last or self._early_record())["progress"])
        self._last_progress = progress
        return progress

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (at most `timeout` seconds); True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._final is None:
            left = MONITOR_WAIT if deadline is None else min(MONITOR_WAIT, deadline - time.monotonic())
            if left <= 0:
                return False
            if self._end_ref is not None:
                if ray.wait([self._end_ref], timeout=left)[0]:
                    self._finish()
            else:  # waiting for its first slot: the monitor creates the actor once Ray places it
                time.sleep(left)
        return True

    # -- control ----------------------------------------------------------------------------------------
    def pause(self) -> None:
        if self._final is None and self._actor is not None:  # a starting run pauses once its Runner exists
            self._control("pause")

    def resume(self) -> None:
        if self._final is None and self._actor is not None:
            self._control("resume")

    # The live controls are the worker's Runner's; a bad value raises ConfigError here, before anything is sent.
    def set_lr(self, lr: float) -> None:
        self._control("set_lr", checked_lr(self.config, lr))

    def step(self, steps: int = 1) -> None:
        self._control("step", checked_steps("steps", steps))

    def set_pause_at(self, step: int | None) -> None:
        self._control("set_pause_at", None if step is None else checked_steps("pause_at", step))

    def stop(self, reason: str = "user") -> None:
        """End the run now: status "stopped" (or the ending it had reached), its actor killed, its
        slot back in the cluster. The final record stays readable here."""
        if reason not in rec.STOP_REASONS:
            raise ValueError(f"unknown stop reason {reason!r}")
        with self._lock:
            if self._final is not None:
                return
            if not self.placed:  # still waiting for its first slot: nothing ran, nothing to keep
                self._kill()
                self._final = {**self._early_record(), "status": "stopped", "stop_reason": reason}
                self._final["progress"]["queue_position"] = None
                self.backend.forget(self)
                return
            if self._call("stop", reason) is None:
                return  # the worker was lost: _lost() has ended the run
            ready, _ = ray.wait([self._end_ref], timeout=STOP_WAIT)
            if ready:
                self._finish()
            else:  # the worker is inside something it cannot leave (a first import): keep what it has
                record = self._call("record")
                self._kill()
                self._final = self._stamp(record or self._last or self._early_record())
        self.backend.forget(self)

    def discard(self, reason: str = "user") -> None:
        """Stop the run; its networks went with the actor, only the final record is kept."""
        self.stop(reason)

    # -- inside -----------------------------------------------------------------------------------------
    def _create_actor(self) -> None:
        """The run's first slot is placed: its actor goes to that machine and takes the slot over."""
        with self._lock:
            if self._actor is not None or self._killed or self._group is None:  # withdrawn meanwhile
                return
            node = placement_group_table(self._group)["bundles_to_node_id"][0]
            self._actor = RunActor.options(
                name=f"{ACTOR_PREFIX}{self.token}", namespace=NAMESPACE, num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False), **self._actor_options,
            ).remote(self.config, self._kwargs, self._group, self._slot_name)
            self._ready_ref = self._actor.ready.remote()
            self._end_ref = self._actor.wait_end.remote()
            for method, args in self._early:  # Ray runs them once the actor has built its Runner
                getattr(self._actor, method).remote(*args)
            self._early.clear()

    def _call(self, method: str, *args, default=None):
        """An actor method's answer; `default` on a time-out; None after the worker was lost."""
        try:
            return ray.get(getattr(self._actor, method).remote(*args), timeout=CALL_TIMEOUT)
        except GetTimeoutError:
            return default
        except RayActorError as exc:
            self._lost(exc)
            return None

    @property
    def _asking(self) -> bool:
        """Its first slot is asked for and not placed yet."""
        return self._final is None and self._group is not None and self._actor is None

    def _ask_slot(self) -> None:
        """Ask Ray for the run's first slot (RayBackend._admit: the head of the line, one run at a time)."""
        with self._lock:
            if self._final is None and self._group is None and not self._killed:
                self._group = placement_group([{"CPU": 1}], name=f"{self._slot_name}-s{next(self._asks)}")
                self._group_ready = self._group.ready()

    def _withdraw_slot(self) -> bool:
        """Take back a slot asked for and not placed yet (a run due earlier came); False when too late."""
        with self._lock:
            if self._actor is not None or self._group is None or self._final is not None:
                return False
            group, self._group, self._group_ready = self._group, None, None
        remove_placement_group(group)
        return True

    def _control(self, method: str, *args) -> None:
        """A live control: forwarded to the Runner, or, while the run waits for its first slot, kept
        and sent when its actor is created, so the request is not lost."""
        with self._lock:
            if self._final is not None:
                return
            if self._actor is None:
                self._early.append((method, args))
                return
        if self.placed:
            self._call(method, *args)
        else:
            getattr(self._actor, method).remote(*args)

    def _flags(self) -> dict:
        if self._final is not None or not self.placed:
            return {}
        return self._call("flags") or {}

    def _poll_end(self) -> None:
        if self._end_ref is not None and ray.wait([self._end_ref], timeout=0)[0]:
            self._finish()

    def _finish(self) -> None:
        """The actor's run has ended (or its worker died): keep the final record, free the slot."""
        with self._lock:
            if self._final is not None:
                return
            try:
                record = ray.get(self._end_ref, timeout=CALL_TIMEOUT)
            except (RayActorError, GetTimeoutError) as exc:
                self._lost(exc)
                return
            self._kill()
            self._final = self._stamp(record)
        self.backend.forget(self)

    def _lost(self, exc: Exception) -> None:
        """The worker process died under the run (unless we killed it): the run failed."""
        with self._lock:
            if self._final is not None:
                return
            if self._killed:
                self._final = self._stamp(self._last or self._early_record())
            else:
                log.warning("run %s: its Ray worker was lost (%s)", self.run_id, type(exc).__name__)
                base = self._last or self._early_record()
                self._final = {**self._stamp(base), "status": "failed", "stop_reason": None,
                               "error": {"code": LOST, "type": type(exc).__name__}}
                # The series end where the last record read ended; the step count may be a little later.
                progress = {k: v for k, v in (self._last_progress or {}).items() if k in base["progress"]}
                self._final["progress"] = {**base["progress"], **progress, "queue_position": None,
                                           "eta_seconds": None}
            self._kill()
        self.backend.forget(self)

    def _kill(self) -> None:
        """The actor killed and every placement group of the run removed (a lost worker cannot)."""
        self._killed = True
        if self._actor is not None:
            try:
                ray.kill(self._actor, no_restart=True)
            except (RayError, ValueError) as exc:  # already gone
                log.debug("run %s: kill: %s", self.run_id, exc)
        remove_slots(self._slot_name)

    def _stamp(self, record: dict) -> dict:
        return {**record, "run_id": self.run_id, "fallback": self.fallback}

    def _early_record(self) -> dict:
        """The record before the actor has built its Runner: queued for the run's first slot, or (its slot
        placed, the actor created) running and setting up, as a thread run reads while it loads."""
        starting = self._actor is not None
        record = rec.empty(self.run_id, "running" if starting else "queued", self.config.to_dict())
        record["progress"]["queue_position"] = None if starting else self.backend.position(self)
        record["fallback"] = self.fallback
        return record


def live_slots(prefix: str = SLOT_PREFIX) -> list[str]:
    """The names of this project's placement groups not removed yet (pending or placed)."""
    return sorted(info["name"] for info in placement_group_table().values()
                  if info["name"].startswith(prefix) and info["state"] != "REMOVED")


def remove_slots(prefix: str) -> None:
    for group_id, info in placement_group_table().items():
        if info["name"].startswith(prefix) and info["state"] != "REMOVED":
            try:
                remove_placement_group(PlacementGroup(ray.PlacementGroupID(bytes.fromhex(group_id))))
            except (RayError, ValueError) as exc:  # removed meanwhile
                log.debug("slot %s: remove: %s", info["name"], exc)


class RayBackend:
    """Runs as Ray actors, each with a slot of one CPU (a placement group) and a GPU fraction for CUDA runs."""

    name = "ray"

    def __init__(self, address: str | None = None, budget=None, gpu_fraction: float | None = None,
                 pause_grace: float | None = None, slots=None):
        # `slots` (a SlotPool) belongs to the thread backend: here the cluster's CPUs are the slots.
        self.owns_ray = ensure_ray(address)
        self.budget, self.pause_grace = budget, pause_grace
        self.gpu_fraction = gpu_fraction if gpu_fraction is not None else \
            float(os.environ.get(GPU_FRACTION_ENV) or DEFAULT_GPU_FRACTION)
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._runs: dict[RayRun, int] = {}  # live runs -> start order
        # Runs not yet asking Ray for their first slot, by their (due, arrival) entry: runner.SlotPool's order.
        self._line: list[RayRun] = []
        self._admitting = threading.Lock()  # one admission at a time (start() and the monitor thread)
        self._monitor: threading.Thread | None = None
        self._stats: tuple[float, dict | None] = (0.0, None)  # (monotonic time, stats()) of the latest answer

    def start(self, config: RunConfig, **kwargs) -> RayRun:
        kwargs.pop("slots", None)
        kwargs.setdefault("budget", self.budget)
        kwargs.setdefault("pause_grace", self.pause_grace)
        run = RayRun(self, config, kwargs, self.resources(config))
        expected = expected_slot_seconds(run.config, kwargs["budget"], kwargs.get("data_dir"))
        with self._lock:
            order = next(self._order)
            self._runs[run] = order
            run._entry = (time.monotonic() + expected, order)
            bisect.insort(self._line, run, key=attrgetter("_entry"))
            if self._monitor is None or not self._monitor.is_alive():
                self._monitor = threading.Thread(target=self._watch, name="bn-demo-ray-monitor", daemon=True)
                self._monitor.start()
        self._admit()
        return run

    def _admit(self) -> None:
        """Ask Ray for the first slot of the run at the head of this server's line, one run at a time, so
        runs get their first slots in the line's order: runner.SlotPool's, the shortest expected run first and
        every second waited bringing a run's turn nearer. A run due before the one asking takes its turn (the
        pending request is withdrawn and that run goes back in line). Never called under a run's lock."""
        with self._admitting:
            with self._lock:
                asking = next((run for run in self._runs if run._asking), None)
                head = self._line[0] if self._line else None
            if asking is not None and head is not None and head._entry < asking._entry and asking._withdraw_slot():
                with self._lock:
                    bisect.insort(self._line, asking, key=attrgetter("_entry"))
                asking = None
            if asking is not None:
                return
            with self._lock:
                if not self._line:
                    return
                run = self._line.pop(0)
            run._ask_slot()

    def resources(self, config: RunConfig) -> dict:
        """The actor's own resources (its CPU is the run's slot): a GPU fraction when it trains on CUDA
        (device cuda, or auto on a cluster with GPUs), kept while paused, as its GPU memory is. A run
        without GPU resources sees no GPU in its worker (auto then means CPU)."""
        gpus = ray.cluster_resources().get("GPU", 0) if config.device == "auto" else 0
        wants_gpu = config.device == "cuda" or gpus > 0
        return {"num_gpus": self.gpu_fraction} if wants_gpu else {}

    def position(self, run: RayRun) -> int | None:
        """1-based place among this backend's runs waiting for a slot: the one asking Ray for its first slot,
        then the line, then runs queued again after their pause grace (their workers ask Ray themselves),
        oldest first. Runs queued by other servers on the same cluster are not counted."""
        with self._lock:
            waiting = [r for r in self._runs if r._asking] + self._line
            waiting += [r for r, _ in sorted(self._runs.items(), key=lambda item: item[1])
                        if r._placed and r._waiting and r._final is None]
        return waiting.index(run) + 1 if run in waiting else None

    def forget(self, run: RayRun) -> None:
        with self._lock:
            self._runs.pop(run, None)
            self._line = [waiting for waiting in self._line if waiting is not run]

    def runs(self) -> list[RayRun]:
        with self._lock:
            return list(self._runs)

    def _watch(self) -> None:
        """Create a run's actor as soon as its first slot is placed, and finish runs as they end, so
        slots come back even when nobody reads the run."""
        while True:
            self._admit()
            with self._lock:
                ending = {r._end_ref: r for r in self._runs if r._final is None and r._end_ref is not None}
                placing = {r._group_ready: r for r in self._runs
                           if r._final is None and r._end_ref is None and r._group_ready is not None}
                if not ending and not placing and not self._line:
                    self._monitor = None
                    return
            if not ending and not placing:  # a run stopped while asking: the next one asks on the next turn
                time.sleep(MONITOR_WAIT)
                continue
            ready, _ = ray.wait([*ending, *placing], num_returns=1, timeout=MONITOR_WAIT)
            for ref in ready:
                if ref in ending:
                    ending[ref]._finish()
                else:
                    placing[ref]._create_actor()

    def stats(self, max_age: float = 0.0) -> dict:
        """The cluster's slots and GPUs, free and in all. `max_age`: an answer taken up to this many seconds
        ago will do, so a page's refreshes ask the cluster (three calls, ~1 ms) once per interval, not once
        per open session."""
        with self._lock:
            taken, answer = self._stats
        if answer is None or time.monotonic() - taken > max_age:
            total, free = ray.cluster_resources(), ray.available_resources()
            answer = {"backend": self.name, "slots": int(total.get("CPU", 0)), "free": int(free.get("CPU", 0)),
                      "gpus": total.get("GPU", 0), "free_gpus": free.get("GPU", 0), "nodes": len(ray.nodes())}
            with self._lock:
                self._stats = (time.monotonic(), answer)
        return dict(answer)

    def shutdown(self) -> None:
        """Stop every live run (their actors go); disconnect from Ray if this backend connected."""
        for run in self.runs():
            run.stop("released")
        if self.owns_ray:
            ray.shutdown()


def live_actor_names() -> list[str]:
    """The names of this project's live actors in the cluster (Ray's GCS, no dashboard needed)."""
    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                  if a.get("namespace") == NAMESPACE and a["name"].startswith(ACTOR_PREFIX))
