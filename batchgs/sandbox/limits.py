"""PX request limits per API key: N accepted requests in ANY sliding second, and a rolling 24-hour quota.

Only accepted requests spend budget, so a client hammering at 300/s sees exactly `rate_limit`
accepted per sliding second and the rest answered 429 (gainsight-api.md §1.1).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

DAY_S = 24 * 3600.0
RATE_LIMIT_MESSAGE = "Rate limit exceeded"
DAILY_LIMIT_MESSAGE = "Daily request limit exceeded"
DUPLICATE_MESSAGE = "Duplicate request blocked. Please wait before retrying"


class SlidingSecond:
    """Times of accepted requests within the last second; the window is (now - 1, now]."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def count(self, now: float) -> int:
        times = self._times
        while times and times[0] <= now - 1.0:
            times.popleft()
        return len(times)

    def add(self, now: float) -> None:
        self._times.append(now)

    def seconds_until_free(self, now: float) -> float:
        return max(0.0, self._times[0] + 1.0 - now) if self._times else 0.0


class RollingDay:
    """Accepted requests in the last 24 hours, counted in one-second buckets (86,400 at most)."""

    def __init__(self) -> None:
        self._buckets: deque[list[int]] = deque()  # [second, count]
        self.total = 0

    def count(self, now: float) -> int:
        horizon = math.floor(now - DAY_S)
        buckets = self._buckets
        while buckets and buckets[0][0] <= horizon:
            self.total -= buckets.popleft()[1]
        return self.total

    def add(self, now: float) -> None:
        second = math.floor(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([second, 1])
        self.total += 1

    def seconds_until_free(self, now: float) -> float:
        return max(1.0, self._buckets[0][0] + 1 + DAY_S - now) if self._buckets else 0.0


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused before reaching its handler."""

    message: str
    retry_after_s: float


class KeyLimits:
    """The per-key windows and the duplicate-GET guard."""

    def __init__(self) -> None:
        self._second: dict[str, SlidingSecond] = {}
        self._day: dict[str, RollingDay] = {}
        self._recent: dict[tuple[str, str], float] = {}

    def admit(self, key: str, now: float, *, rate_limit: int, daily_limit: int) -> Refusal | None:
        """Spend one request of `key`'s budget, or say why not (nothing is spent then)."""
        day = self._day.setdefault(key, RollingDay())
        if daily_limit and day.count(now) >= daily_limit:
            return Refusal(DAILY_LIMIT_MESSAGE, day.seconds_until_free(now))
        second = self._second.setdefault(key, SlidingSecond())
        if rate_limit and second.count(now) >= rate_limit:
            return Refusal(RATE_LIMIT_MESSAGE, second.seconds_until_free(now))
        second.add(now)
        day.add(now)
        return None

    def duplicate(self, key: str, identity: str, now: float, window_s: float) -> Refusal | None:
        """Refuse an identical request seen less than `window_s` ago (the clock restarts on each try)."""
        if window_s <= 0:
            return None
        slot = (key, identity)
        last = self._recent.get(slot)
        self._recent[slot] = now
        if len(self._recent) > 10_000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < window_s}
        if last is not None and now - last < window_s:
            return Refusal(DUPLICATE_MESSAGE, window_s)
        return None


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1, as HTTP wants."""
    return str(max(1, math.ceil(seconds)))
