"""Server-wide bookkeeping for many browser sessions on one machine: the one place runs are tracked.

Each browser session has at most one current run, held here; the page keeps only summaries of its
finished runs. All runs share one SlotPool (a server-wide cap on concurrent training) and get the
server's Budget and pause grace period. A session's run is stopped and let go of (networks,
optimizers, history, slot) when the session starts another run, resets, or is released: by
Streamlit's session-scoped resource release or, independently of it, by the reaper when a page with
a live run has not checked in for `idle_timeout` seconds. The tokens of runs ended that way are
remembered for a while, so a page that comes back as a new session can say what became of its run.

Runs start through the backend $BN_DEMO_BACKEND names (bn_demo/backends): thread, the default, trains
in this process under the SlotPool; ray connects to Ray once per process, from a thread the registry
starts so that no page waits for it (ray_backend keeps a local Ray alive on a keeper thread of its
own), and its runs are Ray actors whose slots are the cluster's CPUs. A Ray that cannot be had leaves the registry on the thread backend, with the
reason as a code (`backend_error`) for the page to phrase.
No Streamlit import here.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, field

from .backends import DEFAULT_BACKEND, BackendUnavailable, RunHandle, backend_name, get_backend
from .config import RunConfig
from .runner import ACTIVE, Budget, SlotPool

MAX_RUNS_ENV = "BN_DEMO_MAX_RUNS"
IDLE_TIMEOUT_ENV = "BN_DEMO_IDLE_TIMEOUT"
PAUSE_GRACE_ENV = "BN_DEMO_PAUSE_GRACE"
MAX_SECONDS_ENV = "BN_DEMO_MAX_RUN_SECONDS"
MAX_WORK_ENV = "BN_DEMO_MAX_RUN_WORK"
# A training page refreshes every 2 s and a paused one checks in every 20 s; Streamlit keeps a
# disconnected session for 120 s (server.disconnectedSessionTTL). Past that without a check-in,
# nobody is watching.
DEFAULT_IDLE_TIMEOUT = 150.0
DEFAULT_PAUSE_GRACE = 30.0  # seconds a paused run keeps its slot
DEFAULT_MAX_SECONDS = 1800.0  # training time per run
# Work = steps × batch size × trainable parameters. The ioffe2015 preset (50,000 steps of 60 on 3×100
# twins, 200,020 parameters) is 6.0e11; the page's largest run (12×512 twins on MNIST, batch 1,024,
# 10⁶ steps) is 6.8e15. 1e13 lets every preset run whole and stops the largest after ~1,500 steps.
DEFAULT_MAX_WORK = 1e13
REAP_INTERVAL = 5.0
# How long a Start waits for the Ray connection begun with the registry: a local Ray takes ~4 s to start
# on a 2-core machine, and a cluster that does not answer is given up after its connect time-out.
CONNECT_WAIT = 120.0
REMEMBERED_ENDINGS = 500  # tokens of runs ended because their page went away


def default_slot_count() -> int:
    """One training thread per core, leaving one core to the web server (at least one slot)."""
    configured = os.environ.get(MAX_RUNS_ENV)
    if configured:
        return max(1, int(configured))
    return max(1, (os.cpu_count() or 2) - 1)


def _limit_from_env(name: str, default: float) -> float | None:
    """A limit from the environment: unset means the default, 0 or less means no limit."""
    configured = os.environ.get(name)
    value = float(configured) if configured else default
    return value if value > 0 else None


def server_budget() -> Budget:
    return Budget(seconds=_limit_from_env(MAX_SECONDS_ENV, DEFAULT_MAX_SECONDS),
                  work=_limit_from_env(MAX_WORK_ENV, DEFAULT_MAX_WORK))


def server_pause_grace() -> float | None:
    return _limit_from_env(PAUSE_GRACE_ENV, DEFAULT_PAUSE_GRACE)


@dataclass
class _Seat:
    """A session's place in the registry."""

    owner: object = None  # the page's object for the session (state.SessionRuns), for server-wide clean-up
    runner: RunHandle | None = None  # the session's current run, live or ended
    last_seen: float = field(default_factory=time.monotonic)


class SessionRegistry:
    def __init__(self, slots: int | None = None, idle_timeout: float | None = None,
                 reap_interval: float = REAP_INTERVAL, budget: Budget | None = None,
                 pause_grace: float | None = None, backend: str | None = None):
        self.pool = SlotPool(slots or default_slot_count())
        self.idle_timeout = idle_timeout or float(os.environ.get(IDLE_TIMEOUT_ENV) or DEFAULT_IDLE_TIMEOUT)
        self.reap_interval = reap_interval
        self.budget = budget if budget is not None else server_budget()
        self.pause_grace = pause_grace if pause_grace is not None else server_pause_grace()
        self._lock = threading.Lock()
        self._seats: dict[str, _Seat] = {}
        self._ended: collections.OrderedDict[str, str] = collections.OrderedDict()  # token -> stop reason
        self._reaper: threading.Thread | None = None
        self.backend = get_backend(DEFAULT_BACKEND, slots=self.pool, budget=self.budget, pause_grace=self.pause_grace)
        self.backend_error: dict | None = None  # why the backend asked for could not be had (its code, facts)
        self._connecting: threading.Thread | None = None
        try:
            wanted = backend_name(backend)
        except BackendUnavailable as exc:
            wanted, self.backend_error = DEFAULT_BACKEND, exc.as_error()
        if wanted != DEFAULT_BACKEND:
            self._connecting = threading.Thread(target=self._connect, args=(wanted,), name="bn-demo-backend",
                                                daemon=True)
            self._connecting.start()

    def _connect(self, name: str) -> None:
        try:
            self.backend = get_backend(name, budget=self.budget, pause_grace=self.pause_grace)
        except BackendUnavailable as exc:
            self.backend_error = {**exc.as_error(), "backend": name}

    def ready_backend(self, timeout: float = CONNECT_WAIT):
        """The backend runs start on, once its connection (if any) has been made or given up."""
        if self._connecting is not None:
            self._connecting.join(timeout)
        return self.backend

    @property
    def connecting(self) -> bool:
        return self._connecting is not None and self._connecting.is_alive()

    def start_run(self, session_id: str, config: RunConfig, *, owner=None, **runner_kwargs) -> RunHandle:
        """Start the session's run, in place of its previous one (which is stopped and let go of first,
        so the new run does not queue behind it): a session holds at most one run, and so at most one
        place in the queue."""
        backend = self.ready_backend()
        with self._lock:
            seat = self._seats.setdefault(session_id, _Seat())
            previous, seat.runner = seat.runner, None
            seat.owner = owner if owner is not None else seat.owner
        if previous is not None:
            previous.discard("user")
        runner = backend.start(config, **runner_kwargs)
        stale = None
        with self._lock:
            if self._seats.get(session_id) is seat:
                stale, seat.runner, seat.last_seen = seat.runner, runner, time.monotonic()
            else:  # the session was released meanwhile: the run has nobody to show it to
                seat = None
        if seat is None:
            runner.discard("released")
        if stale is not None:  # another Start of this session got in meanwhile: a session holds one run
            stale.discard("user")
        self._ensure_reaper()
        return runner

    def run_of(self, session_id: str) -> RunHandle | None:
        with self._lock:
            seat = self._seats.get(session_id)
            return seat.runner if seat else None

    def runs(self) -> list[RunHandle]:
        """Every session's current run, oldest first."""
        with self._lock:
            runners = [s.runner for s in self._seats.values() if s.runner is not None]
        return sorted(runners, key=lambda r: r.run_id)

    def owners(self) -> list:
        with self._lock:
            return [s.owner for s in self._seats.values() if s.owner is not None]

    def touch(self, session_id: str) -> None:
        """The session's page is alive (called on every rerun / fragment refresh)."""
        with self._lock:
            if session_id in self._seats:
                self._seats[session_id].last_seen = time.monotonic()

    def forget(self, session_id: str, runner: RunHandle) -> None:
        """Stop the session's run and let go of it (Reset); the session keeps its seat."""
        with self._lock:
            seat = self._seats.get(session_id)
            if seat is not None and seat.runner is runner:
                seat.runner = None
        runner.discard("user")

    def release(self, session_id: str, reason: str = "released") -> int:
        """The session is gone: stop its run and let go of it; returns how many runs were stopped.
        A run still live is remembered by its token as ended for `reason` ("released" or "idle")."""
        with self._lock:
            seat = self._seats.pop(session_id, None)
            runner = seat.runner if seat else None
            if runner is not None and runner.status in ACTIVE:
                self._ended[runner.token] = reason
                while len(self._ended) > REMEMBERED_ENDINGS:
                    self._ended.popitem(last=False)
        if runner is None:
            return 0
        runner.discard(reason)
        return 1

    def ended_by_server(self, token: str) -> str | None:
        """Why the run with this token was ended with its session ("released" / "idle"), if it was."""
        with self._lock:
            return self._ended.get(token)

    def reap(self, now: float | None = None) -> list[str]:
        """Release sessions with a live run whose page stopped checking in; the fallback when no
        release callback came. A page whose run has ended does not check in: it is left alone."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [sid for sid, seat in self._seats.items()
                    if seat.runner is not None and seat.runner.status in ACTIVE
                    and now - seat.last_seen > self.idle_timeout]
        for sid in idle:
            self.release(sid, "idle")
        return idle

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper = threading.Thread(target=self._reap_forever, name="bn-demo-reaper", daemon=True)
            self._reaper.start()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(self.reap_interval)
            self.reap()
            with self._lock:
                if not any(s.runner is not None and s.runner.status in ACTIVE for s in self._seats.values()):
                    self._reaper = None  # nothing to watch: the thread ends, the next run restarts it
                    return

    def stats(self) -> dict:
        runs = self.runs()
        with self._lock:
            sessions = len(self._seats)
        return {
            "sessions": sessions,
            "runs": len(runs),
            "training": sum(1 for r in runs if r.status in ("running", "paused")),
            "queued": sum(1 for r in runs if r.status == "queued"),
            "slots": self.pool.size,
            "threads_alive": sum(1 for r in runs if r.alive),
        }


_default: SessionRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> SessionRegistry:
    """The one registry of this server process (Streamlit runs every session in one process)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SessionRegistry()
        return _default
