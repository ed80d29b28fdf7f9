"""A rate limiter that holds the rate in EVERY sliding window, and slows everybody down on a 429.

A token bucket alone (aiolimiter's `AsyncLimiter(200, 1)`) lets a full bucket through right after an
idle moment and then keeps refilling, so a server counting a sliding second can see almost twice the
rate. Here the guarantee comes from a log of the last grants: a request is let through only if fewer
than `rate` grants happened in the last `window + margin` seconds. The margin absorbs the timing noise
between this process and the server (a request granted late can arrive early relative to an older
one). A small token bucket on top paces requests evenly so that they do not leave in bursts.

Adaptive: a 429 from any worker starts one SHARED pause (Retry-After, or a growing backoff) and lowers
the current rate (×0.7); the rate then climbs back additively for every clean second. 429s that answer
requests granted before the slowdown belong to the same episode and do not lower the rate again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class LimiterStats:
    configured_rate: float
    current_rate: float
    window: float
    pauses: int  # slow-down episodes (one per burst of 429s)
    rate_limited: int  # 429s reported to the limiter
    paused_seconds: float


class SlidingWindowLimiter:
    """At most `rate` grants in any `window` seconds (plus `margin`), shared by all workers of a run."""

    def __init__(
        self,
        rate: float,
        *,
        window: float = 1.0,
        margin: float = 0.02,
        burst: int | None = None,
        decrease: float = 0.7,
        recover_fraction: float = 0.05,
        recover_interval: float = 1.0,
        min_fraction: float = 0.05,
        pause_base: float = 1.0,
        pause_cap: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or window <= 0:
            raise ValueError("rate and window must be positive")
        self.configured_rate = float(rate)
        self.current_rate = float(rate)
        self.window = window
        self.span = window + margin
        self.burst = burst if burst is not None else max(1, math.ceil(rate * 0.05))
        self.decrease = decrease
        self.recover_step = max(rate * recover_fraction, 1e-9)
        self.recover_interval = recover_interval
        self.min_rate = max(rate * min_fraction, 1e-6)
        self.pause_base = pause_base
        self.pause_cap = pause_cap
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._log: deque[float] = deque()
        self._tokens = float(self.burst)
        self._refilled_at = clock()
        self._paused_until = -math.inf
        self._last_decrease = -math.inf
        self._last_adjust = -math.inf
        self._episodes_in_a_row = 0
        self._pauses = 0
        self._rate_limited = 0
        self._paused_seconds = 0.0

    # -- granting ---------------------------------------------------------------------------------
    @property
    def limit(self) -> int:
        """Grants allowed per window at the current rate."""
        return max(1, math.floor(self.current_rate))

    def _recover(self, now: float) -> None:
        if self.current_rate >= self.configured_rate or now < self._paused_until:
            return
        clean = now - max(self._last_adjust, self._paused_until)
        steps = math.floor(clean / self.recover_interval)
        if steps > 0:
            self.current_rate = min(self.configured_rate, self.current_rate + steps * self.recover_step)
            self._last_adjust = max(self._last_adjust, self._paused_until) + steps * self.recover_interval

    def _refill(self, now: float) -> None:
        if now > self._refilled_at:
            per_second = self.current_rate / self.span
            self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) * per_second)
            self._refilled_at = now

    def _wait_needed(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        while self._log and self._log[0] <= now - self.span:
            self._log.popleft()
        limit = self.limit
        if len(self._log) >= limit:
            return self._log[len(self._log) - limit] + self.span - now + 1e-6
        if self._tokens < 1.0:
            return (1.0 - self._tokens) * self.span / self.current_rate
        return 0.0

    async def acquire(self) -> float:
        """Wait for a slot; returns the grant time (pass it to `on_rate_limited` if a 429 follows)."""
        async with self._lock:
            while True:
                now = self._clock()
                self._recover(now)
                self._refill(now)
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._tokens -= 1.0
                    self._log.append(now)
                    return now
                await self._sleep(wait)

    # -- slowing down ------------------------------------------------------------------------------
    def on_rate_limited(self, retry_after: float | None = None, *, granted_at: float | None = None) -> float:
        """A 429 arrived: pause every worker and lower the rate, once per episode. Returns the pause end
        (on this limiter's clock)."""
        now = self._clock()
        self._rate_limited += 1
        same_episode = granted_at is not None and granted_at < self._last_decrease
        if same_episode:
            if retry_after is not None:
                self._extend_pause(now, now + retry_after)
            return self._paused_until
        recent = now - self._last_decrease < 10 * self.window + self.pause_cap
        self._episodes_in_a_row = self._episodes_in_a_row + 1 if recent else 1
        if retry_after is None:
            retry_after = min(self.pause_cap, self.pause_base * 2 ** (self._episodes_in_a_row - 1))
        self._extend_pause(now, now + retry_after)
        self.current_rate = max(self.min_rate, self.current_rate * self.decrease)
        self._last_decrease = now
        self._last_adjust = now
        self._pauses += 1
        self._tokens = 0.0
        self._refilled_at = self._paused_until
        return self._paused_until

    def _extend_pause(self, now: float, until: float) -> None:
        if until > self._paused_until:
            self._paused_seconds += until - max(now, self._paused_until)
            self._paused_until = until
            self._refilled_at = max(self._refilled_at, until)

    def pause_for(self, seconds: float) -> None:
        """Hold every worker for `seconds` without lowering the rate (e.g. a server-wide hiccup)."""
        now = self._clock()
        self._extend_pause(now, now + seconds)

    def stats(self) -> LimiterStats:
        return LimiterStats(
            configured_rate=self.configured_rate,
            current_rate=self.current_rate,
            window=self.window,
            pauses=self._pauses,
            rate_limited=self._rate_limited,
            paused_seconds=self._paused_seconds,
        )


def px_limiter(rate: float, **options: Any) -> SlidingWindowLimiter:
    """PX: `rate` requests in any sliding second (the service allows about 200)."""
    return SlidingWindowLimiter(rate, window=1.0, **options)


def cs_limiter(per_minute: int = 100, **options: Any) -> SlidingWindowLimiter:
    """CS: `per_minute` calls in any sliding minute, which keeps every fixed minute window safe too."""
    options.setdefault("margin", 0.5)
    options.setdefault("burst", 5)
    return SlidingWindowLimiter(per_minute, window=60.0, **options)
