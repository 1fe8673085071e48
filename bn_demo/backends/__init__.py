"""Where runs train: a small backend interface with two implementations.

    backend = get_backend("thread")            # today's Runner: a thread in this process (the default)
    backend = get_backend("ray")               # each run a Ray actor in its own worker process
    run = backend.start(config, dataset=..., data_dir=..., probes_on=..., budget=..., fallback=...)
    run.pause(); run.resume(); run.stop("user"); run.discard("user")
    run.set_lr(0.05); run.step(10); run.set_pause_at(500)   # live controls (Runner's, applied between steps)
    run.status, run.queue_position(), run.record(), run.progress(), run.join(timeout), run.alive
    run.record(since=held["cursor"])           # what changed since a record held: rec.merge(held, it)
    backend.stats(max_age=2.0)                 # {"backend", "slots", "free"}, taken at most 2 s ago
    backend.shutdown()

Only the run record (bn_demo/record.py: numbers, arrays and codes) crosses a process boundary; no
live tensor ever does. A run handle has the surface the page, the registry and the CLI already use
on a Runner (RunHandle below), so `thread` returns a Runner (ThreadRun adds queue_position()).

`ray` is imported only when that backend is asked for; without Ray installed, asking for it raises
BackendUnavailable("ray_missing"), and an unreachable cluster BackendUnavailable("ray_unreachable").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..config import RunConfig

BACKENDS = ("thread", "ray")
DEFAULT_BACKEND = "thread"
BACKEND_ENV = "BN_DEMO_BACKEND"  # the page's backend: thread (default) | ray
RAY_ADDRESS_ENV = "BN_DEMO_RAY_ADDRESS"  # unset: a local Ray with this machine's cores; set: that cluster


class BackendUnavailable(RuntimeError):
    """The backend cannot be used: `code` (ray_missing | ray_unreachable | unknown_backend) and its
    facts, for the reader to phrase (no sentence here)."""

    def __init__(self, code: str, **facts):
        self.code, self.facts = code, facts
        super().__init__(f"{code}: {facts}" if facts else code)

    def as_error(self) -> dict:
        return {"code": self.code, **self.facts}


@runtime_checkable
class RunHandle(Protocol):
    """One run, wherever it trains. Control calls return promptly; reads are plain data."""

    run_id: int
    token: str
    config: RunConfig

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self, reason: str = "user") -> None: ...
    def discard(self, reason: str = "user") -> None: ...
    def set_lr(self, lr: float) -> None: ...
    def step(self, steps: int = 1) -> None: ...
    def set_pause_at(self, step: int | None) -> None: ...
    def record(self, since: list[int] | None = None) -> dict: ...  # a delta or the whole record
    def progress(self) -> dict: ...
    def queue_position(self) -> int | None: ...
    def join(self, timeout: float | None = None) -> bool: ...

    @property
    def status(self) -> str: ...  # record.STATUSES

    @property
    def alive(self) -> bool: ...

    @property
    def ended(self) -> bool: ...


class Backend(Protocol):
    name: str

    def start(self, config: RunConfig, **kwargs) -> RunHandle: ...
    def stats(self, max_age: float = 0.0) -> dict: ...  # an answer up to max_age seconds old will do
    def shutdown(self) -> None: ...


def backend_name(name: str | None = None) -> str:
    """The backend asked for: `name`, else $BN_DEMO_BACKEND, else thread."""
    chosen = (name or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND).strip().lower()
    if chosen not in BACKENDS:
        raise BackendUnavailable("unknown_backend", backend=chosen, choices=BACKENDS)
    return chosen


def get_backend(name: str | None = None, **options) -> Backend:
    """A backend by name (see backend_name). thread: options slots (a SlotPool), budget, pause_grace.
    ray: options address (else $BN_DEMO_RAY_ADDRESS), budget, gpu_fraction."""
    chosen = backend_name(name)
    if chosen == "thread":
        from .thread import ThreadBackend

        return ThreadBackend(**options)
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable("ray_missing", detail=str(exc)) from None
    from .ray_backend import RayBackend

    return RayBackend(**options)
