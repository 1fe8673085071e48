"""Bounded histories: a 50,000-step run keeps at most `cap` points per series.

Points are kept at an even stride that doubles whenever the series would outgrow its cap, so the
kept points stay evenly spaced over the whole run; the first point and the latest one are always
present. Memory and the cost of a run record stay flat however long a run is.

Each item is added with the writer's version (Experiment.version after the write), so a reader that
holds the series as it was at some version can be sent only what changed since (`since`): the kept
items added after it, and the latest. Thinning rewrites the kept list, so a reader from before the
last thinning is sent everything; the stride only doubles, so that happens about log2(run / cap) times.
"""

from __future__ import annotations

from bisect import bisect_right

DEFAULT_CAP = 2000


class BoundedSeries:
    def __init__(self, cap: int = DEFAULT_CAP):
        if cap < 2:
            raise ValueError("cap must be at least 2")
        self.cap = cap
        self.stride = 1
        self.kept: list = []  # items whose arrival index is a multiple of stride
        self.kept_versions: list[int] = []  # the writer's version when each kept item arrived
        self.thinned_at = 0  # the writer's version at the latest thinning (0: never thinned)
        self.count = 0  # items ever added
        self.latest = None  # the newest item, kept even when the stride skips it

    def add(self, item, version: int = 0) -> None:
        if self.count % self.stride == 0:
            self.kept.append(item)
            self.kept_versions.append(version)
            if len(self.kept) > self.cap:
                self.kept = self.kept[::2]  # arrival indices now multiples of 2·stride
                self.kept_versions = self.kept_versions[::2]
                self.stride *= 2
                self.thinned_at = version
        self.latest = item
        self.count += 1

    def _latest_unkept(self) -> bool:
        # A latest item the stride skipped is never kept later (the stride only grows): a reader drops it.
        return bool(self.count) and (self.count - 1) % self.stride != 0

    def items(self) -> list:
        return [*self.kept, self.latest] if self._latest_unkept() else list(self.kept)

    def since(self, version: int) -> tuple[int, list]:
        """What changed after `version`, for a reader holding items() as they were at that version (or at
        any later one): (keep, new): keep the first `keep` items held, then append `new`."""
        keep = 0 if self.thinned_at > version else bisect_right(self.kept_versions, version)
        new = self.kept[keep:]  # a copy of the new rows only: this runs under the engine's lock
        if self._latest_unkept():
            new.append(self.latest)
        return keep, new

    def __len__(self) -> int:
        return len(self.kept) + self._latest_unkept()
