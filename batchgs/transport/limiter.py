"""A rate limiter that holds the rate in EVERY sliding window, and slows everybody down on a 429.

A token bucket alone (aiolimiter's `AsyncLimiter(200, 1)`) lets a full bucket through right after an
idle moment and keeps refilling, so a server counting a sliding second can see almost twice the rate.
Here the guarantee comes from a log of slots: a request is let through only while fewer than `rate`
slots are live, and a slot stays live for one window after the server can last have seen it.

`exact=True` (the default) ends a slot one window after its ANSWER arrived: the server saw the request
before it answered, so no timing noise (a stalled process, a slow network) can ever let the server see
`rate + 1` in a second. It costs throughput in proportion to latency (rate / (1 s + latency)).
`exact=False` ends a slot `window + margin` after it was granted: faster, but a request delayed by more
than `margin` on its way can be seen by the server together with a full next window.
A small token bucket on top paces requests evenly so that they do not leave in bursts.

Adaptive: a 429 from any worker starts one SHARED pause (Retry-After, or a growing backoff) and lowers
the current rate (×0.7); the rate then climbs back additively for every clean second. 429s that answer
requests granted before the slowdown belong to the same episode and do not lower the rate again.
The rate at which the last 429 came is remembered for a while: the climb is quick up to just below it
and slow (a fifth of the step) past it, so a budget shared with another client is probed gently
instead of being hit again every few seconds.

Shared: when several batchgs jobs use one key, `transport.share` gives this limiter a `share` (slots
per window) on top of its own rate; the share may drop to 0 (wait), and `fail(exc)` makes every waiting
and later `acquire` raise `exc` (the coordinator is lost: stop rather than send unthrottled).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
    in_flight: int
    share: int | None  # slots per window granted by the jobs sharing the key; None = not shared


@dataclass(frozen=True)
class Grant:
    """One slot. Give it back with `release` when the answer (or the failure) is in."""

    id: int
    at: float  # grant time on the limiter's clock


class SlidingWindowLimiter:
    """At most `rate` requests in any `window` seconds, shared by all workers of a run."""

    def __init__(
        self,
        rate: float,
        *,
        window: float = 1.0,
        margin: float = 0.02,
        exact: bool = True,
        burst: int | None = None,
        decrease: float = 0.7,
        recover_fraction: float = 0.05,
        recover_interval: float = 1.0,
        ceiling_memory: float = 60.0,
        min_fraction: float = 0.05,
        pause_base: float = 1.0,
        pause_cap: float = 30.0,
        max_hold: float = 900.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or window <= 0:
            raise ValueError("rate and window must be positive")
        self.configured_rate = float(rate)
        self.current_rate = float(rate)
        self.window = window
        self.span = window + margin
        self.exact = exact
        self.burst = burst if burst is not None else max(1, math.ceil(rate * 0.05))
        self.decrease = decrease
        self.recover_step = max(rate * recover_fraction, 1e-9)
        self.recover_interval = recover_interval
        self.ceiling_memory = ceiling_memory
        self._ceiling: float | None = None  # the rate at which the last 429 episode began
        self.min_rate = max(rate * min_fraction, 1e-6)
        self.pause_base = pause_base
        self.pause_cap = pause_cap
        self.max_hold = max_hold
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._ids = itertools.count()
        self._expiries: list[float] = []  # heap: when each answered slot stops counting
        self._in_flight: dict[int, float] = {}  # exact mode: granted, not yet answered
        self._tokens = float(self.burst)
        self._refilled_at = clock()
        self._paused_until = -math.inf
        self._last_decrease = -math.inf
        self._last_adjust = -math.inf
        self._episodes_in_a_row = 0
        self._pauses = 0
        self._rate_limited = 0
        self._paused_seconds = 0.0
        self._share: int | None = None
        self._failure: BaseException | None = None

    # -- sharing the key with other jobs -----------------------------------------------------------
    def set_share(self, slots: int | None) -> None:
        """At most `slots` requests per window from now on (None: only this limiter's own rate).
        Lowering applies to the next grant; slots already live keep counting until they expire."""
        self._share = None if slots is None else max(0, int(slots))
        self._changed.set()

    @property
    def share(self) -> int | None:
        return self._share

    def fail(self, error: BaseException) -> None:
        """Every waiting and later `acquire` raises `error`; slots already granted finish normally."""
        self._failure = error
        self._changed.set()

    def live_slots(self) -> int:
        """Slots that may still be seen by the server in the current window (granted, in flight, or
        answered less than a window ago): what this job holds of the key's rate right now."""
        now = self._clock()
        return sum(1 for at in self._expiries if at > now) + len(self._in_flight)

    @property
    def rate_now(self) -> float:
        """Requests per window allowed now: the adaptive rate, capped by the share."""
        return self.current_rate if self._share is None else min(self.current_rate, float(self._share))

    # -- granting ---------------------------------------------------------------------------------
    @property
    def limit(self) -> int:
        """Requests allowed per window at the current rate (0 while a share of 0 holds every grant)."""
        own = max(1, math.floor(self.current_rate))
        return own if self._share is None else min(own, self._share)

    def _recover(self, now: float) -> None:
        if self.current_rate >= self.configured_rate or now < self._paused_until:
            return
        clean = now - max(self._last_adjust, self._paused_until)
        steps = math.floor(clean / self.recover_interval)
        if steps > 0:
            if self._ceiling is not None and now - self._last_decrease > self.ceiling_memory:
                self._ceiling = None
            rate = self.current_rate
            for _ in range(min(steps, 10_000)):
                near = self._ceiling is not None and rate + self.recover_step > 0.95 * self._ceiling
                rate = min(self.configured_rate, rate + self.recover_step * (0.2 if near else 1.0))
            self.current_rate = rate
            self._last_adjust = max(self._last_adjust, self._paused_until) + steps * self.recover_interval

    def _refill(self, now: float) -> None:
        if now > self._refilled_at:
            per_second = self.rate_now / self.span
            self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) * per_second)
            self._refilled_at = now

    def _drop_stale(self, now: float) -> None:
        """A slot never released (a bug elsewhere) must not block the run forever."""
        for key, at in list(self._in_flight.items()):
            if now - at > self.max_hold:
                del self._in_flight[key]
                heapq.heappush(self._expiries, now + self.window)

    def _wait_needed(self, now: float) -> float | None:
        """Seconds to wait before the next grant; 0 to grant now; None to wait for a release."""
        if now < self._paused_until:
            return self._paused_until - now
        while self._expiries and self._expiries[0] <= now:
            heapq.heappop(self._expiries)
        live = len(self._expiries) + len(self._in_flight)
        excess = live - self.limit + 1
        if excess > 0:
            if excess > len(self._expiries):
                self._drop_stale(now)
                return None
            return heapq.nsmallest(excess, self._expiries)[-1] - now + 1e-6
        if self._tokens < 1.0 - 1e-9:
            if self.rate_now <= 0:
                return None
            return (1.0 - self._tokens) * self.span / self.rate_now + 1e-6
        return 0.0

    async def acquire(self) -> Grant:
        """Wait for a slot. Always `release` it (the client does, in a finally)."""
        async with self._lock:
            while True:
                if self._failure is not None:
                    raise self._failure
                now = self._clock()
                self._recover(now)
                self._refill(now)
                self._changed.clear()
                wait = self._wait_needed(now)
                if wait is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), timeout=min(self.max_hold, 5.0))
                    continue
                if wait <= 0:
                    return self._grant(now)
                await self._sleep(wait)

    def _grant(self, now: float) -> Grant:
        self._tokens -= 1.0
        grant = Grant(next(self._ids), now)
        if self.exact:
            self._in_flight[grant.id] = now
        else:
            heapq.heappush(self._expiries, now + self.span)
        return grant

    def release(self, grant: Grant) -> None:
        """The answer to `grant`'s request arrived (or it failed): its slot now counts for one more
        window from now (exact mode), and never less than `window + margin` from the grant."""
        if self._in_flight.pop(grant.id, None) is None:
            return
        heapq.heappush(self._expiries, max(self._clock() + self.window, grant.at + self.span))
        self._changed.set()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Grant]:
        grant = await self.acquire()
        try:
            yield grant
        finally:
            self.release(grant)

    # -- slowing down ------------------------------------------------------------------------------
    def on_rate_limited(self, retry_after: float | None = None, *, granted_at: float | None = None) -> float:
        """A 429 arrived: pause every worker and lower the rate, once per episode. Returns the pause end
        (on this limiter's clock)."""
        now = self._clock()
        self._rate_limited += 1
        same_episode = granted_at is not None and granted_at <= self._last_decrease
        if same_episode:
            if retry_after is not None:
                self._extend_pause(now, now + retry_after)
            return self._paused_until
        recent = now - self._last_decrease < 10 * self.window + self.pause_cap
        self._episodes_in_a_row = self._episodes_in_a_row + 1 if recent else 1
        if retry_after is None:
            retry_after = min(self.pause_cap, self.pause_base * 2 ** (self._episodes_in_a_row - 1))
        self._extend_pause(now, now + retry_after)
        self._ceiling = self.current_rate
        self.current_rate = max(self.min_rate, self.current_rate * self.decrease)
        self._last_decrease = now
        self._last_adjust = now
        self._pauses += 1
        self._tokens = 0.0
        self._refilled_at = self._paused_until
        self._changed.set()
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
        self._changed.set()

    def stats(self) -> LimiterStats:
        return LimiterStats(
            configured_rate=self.configured_rate,
            current_rate=self.current_rate,
            window=self.window,
            pauses=self._pauses,
            rate_limited=self._rate_limited,
            paused_seconds=self._paused_seconds,
            in_flight=len(self._in_flight),
            share=self._share,
        )


def px_limiter(rate: float, **options: Any) -> SlidingWindowLimiter:
    """PX: `rate` requests in any sliding second (the service allows about 200)."""
    return SlidingWindowLimiter(rate, window=1.0, **options)


def cs_limiter(per_minute: int = 100, **options: Any) -> SlidingWindowLimiter:
    """CS: `per_minute` calls in any sliding minute, which keeps every fixed minute window safe too."""
    options.setdefault("margin", 0.5)
    options.setdefault("burst", 5)
    return SlidingWindowLimiter(per_minute, window=60.0, **options)
