"""Server-wide bookkeeping for many browser sessions on one machine.

Each browser session owns its runs. All runs share one SlotPool (a server-wide cap on concurrent
training). A session's runs are stopped and dropped when the session is released — by Streamlit's
session-scoped resource release, or, independently of it, by the reaper when the page has not
polled for `idle_timeout` seconds (a closed tab stops polling). No Streamlit import here.
"""

from __future__ import annotations

import os
import threading
import time

from .config import RunConfig
from .runner import Runner, SlotPool

MAX_RUNS_ENV = "BN_DEMO_MAX_RUNS"
IDLE_TIMEOUT_ENV = "BN_DEMO_IDLE_TIMEOUT"
# A page polls about once a second while a run is active; Streamlit keeps a disconnected session
# for 120 s (server.disconnectedSessionTTL). Past that without a poll, nobody is watching.
DEFAULT_IDLE_TIMEOUT = 150.0
REAP_INTERVAL = 5.0
STOP_JOIN_SECONDS = 5.0


def default_slot_count() -> int:
    """One training thread per core, leaving one core to the web server (at least one slot)."""
    configured = os.environ.get(MAX_RUNS_ENV)
    if configured:
        return max(1, int(configured))
    return max(1, (os.cpu_count() or 2) - 1)


class SessionRegistry:
    def __init__(self, slots: int | None = None, idle_timeout: float | None = None,
                 reap_interval: float = REAP_INTERVAL):
        self.pool = SlotPool(slots or default_slot_count())
        self.idle_timeout = idle_timeout or float(os.environ.get(IDLE_TIMEOUT_ENV) or DEFAULT_IDLE_TIMEOUT)
        self.reap_interval = reap_interval
        self._lock = threading.Lock()
        self._runs: dict[str, list[Runner]] = {}
        self._last_seen: dict[str, float] = {}
        self._reaper: threading.Thread | None = None

    def start_run(self, session_id: str, config: RunConfig, **runner_kwargs) -> Runner:
        """Start a run for a session; it queues when every slot is busy."""
        runner = Runner(config, slots=self.pool, **runner_kwargs)
        with self._lock:
            self._runs.setdefault(session_id, []).append(runner)
            self._last_seen[session_id] = time.monotonic()
        self._ensure_reaper()
        return runner.start()

    def touch(self, session_id: str) -> None:
        """The session's page is alive (called on every rerun / fragment refresh)."""
        with self._lock:
            if session_id in self._runs:
                self._last_seen[session_id] = time.monotonic()

    def forget(self, session_id: str, runner: Runner) -> None:
        """Stop one run and drop it (Reset)."""
        runner.stop()
        runner.join(STOP_JOIN_SECONDS)
        with self._lock:
            runs = self._runs.get(session_id, [])
            if runner in runs:
                runs.remove(runner)

    def release(self, session_id: str) -> int:
        """Stop every run of a session and forget them; returns how many were stopped."""
        with self._lock:
            runs = self._runs.pop(session_id, [])
            self._last_seen.pop(session_id, None)
        for runner in runs:
            runner.stop()
        for runner in runs:
            runner.join(STOP_JOIN_SECONDS)
        return len(runs)

    def reap(self, now: float | None = None) -> list[str]:
        """Release sessions whose page stopped polling; the fallback when no release callback came."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [sid for sid, seen in self._last_seen.items() if now - seen > self.idle_timeout]
        for sid in idle:
            self.release(sid)
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
                if not self._runs:  # nothing to watch: the thread ends, the next run restarts it
                    self._reaper = None
                    return

    def stats(self) -> dict:
        with self._lock:
            runs = [r for rs in self._runs.values() for r in rs]
            sessions = len(self._runs)
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
