"""The thread backend: today's Runner, a training thread in this process, under one SlotPool."""

from __future__ import annotations

from ..config import RunConfig
from ..runner import Budget, Runner, SlotPool


class ThreadRun(Runner):
    """A Runner with the backend interface's one extra read."""

    def queue_position(self) -> int | None:
        """1-based place in the slot queue, or None when not waiting."""
        return self.slots.position(self) if self.slots is not None else None


class ThreadBackend:
    name = "thread"

    def __init__(self, slots: SlotPool | None = None, budget: Budget | None = None,
                 pause_grace: float | None = None):
        self.slots, self.budget, self.pause_grace = slots, budget, pause_grace

    def start(self, config: RunConfig, **kwargs) -> ThreadRun:
        kwargs.setdefault("slots", self.slots)
        kwargs.setdefault("budget", self.budget)
        kwargs.setdefault("pause_grace", self.pause_grace)
        return ThreadRun(config, **kwargs).start()

    def stats(self, max_age: float = 0.0) -> dict:  # counted here, always fresh
        if self.slots is None:
            return {"backend": self.name, "slots": None, "free": None}
        return {"backend": self.name, "slots": self.slots.size,
                "free": max(0, self.slots.size - self.slots.active_count)}

    def shutdown(self) -> None:
        pass
