"""Bounded histories: a 50,000-step run keeps at most `cap` points per series.

Points are kept at an even stride that doubles whenever the series would outgrow its cap, so the
kept points stay evenly spaced over the whole run; the first point and the latest one are always
present. Memory and the cost of a run record stay flat however long a run is.
"""

from __future__ import annotations

DEFAULT_CAP = 2000


class BoundedSeries:
    def __init__(self, cap: int = DEFAULT_CAP):
        if cap < 2:
            raise ValueError("cap must be at least 2")
        self.cap = cap
        self.stride = 1
        self.kept: list = []  # items whose arrival index is a multiple of stride
        self.count = 0  # items ever added
        self.latest = None  # the newest item, kept even when the stride skips it

    def add(self, item) -> None:
        if self.count % self.stride == 0:
            self.kept.append(item)
            if len(self.kept) > self.cap:
                self.kept = self.kept[::2]  # arrival indices now multiples of 2·stride
                self.stride *= 2
        self.latest = item
        self.count += 1

    def items(self) -> list:
        if self.count and (self.count - 1) % self.stride != 0:
            return [*self.kept, self.latest]
        return list(self.kept)

    def __len__(self) -> int:
        return len(self.kept) + (1 if self.count and (self.count - 1) % self.stride != 0 else 0)
