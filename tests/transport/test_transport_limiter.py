"""The rate limiter: no sliding window ever holds more than the rate — measured at a server on
loopback from its own monotonic arrival times — and one 429 slows every worker down."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from aiohttp import web

from batchgs.transport.client import ApiClient
from batchgs.transport.limiter import Grant, SlidingWindowLimiter, cs_limiter, px_limiter
from tests.transport.transport_helpers import Recorder, client_for, make_app, max_in_window, serve

RATE = 200
WORKERS = 50


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def ok(request: web.Request) -> web.Response:
    return web.json_response({})


async def send(client: ApiClient, count: int, workers: int = WORKERS) -> None:
    """`count` GETs from `workers` concurrent workers sharing one client (and one limiter)."""
    numbers = iter(range(count))

    async def worker() -> None:
        for _ in numbers:
            assert (await client.request("GET", "/v1/x")).ok

    await asyncio.gather(*(worker() for _ in range(workers)))


def test_no_sliding_second_exceeds_the_rate_at_start_and_after_idle() -> None:
    recorder = Recorder()
    limiter = px_limiter(RATE)

    async def main() -> float:
        async with (
            serve(make_app([web.get("/v1/x", ok)], recorder)) as url,
            client_for(url, limiter=limiter) as c,
        ):
            await send(c, 300)
            idle_from = recorder.arrivals[-1]
            await asyncio.sleep(0.7)  # the scenario, not synchronisation: an idle moment refills buckets
            await send(c, 300)
            return idle_from

    idle_from = run(main())
    assert len(recorder.arrivals) == 600
    assert max_in_window(recorder.arrivals) <= RATE
    after_idle = [t for t in recorder.arrivals if t > idle_from]
    assert len(after_idle) == 300 and max_in_window(after_idle) <= RATE
    # The first second right after start is full but not over: a burst limiter would let 300 through.
    assert max_in_window(recorder.arrivals[:300]) <= RATE


class SpyLimiter(SlidingWindowLimiter):
    """Records grant times and 429 reports, on the limiter's own monotonic clock."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.grants: list[float] = []
        self.slowdowns: list[tuple[float, float, float]] = []  # (reported at, pause end, rate after)

    def _grant(self, now: float) -> Grant:
        self.grants.append(now)
        return super()._grant(now)

    def on_rate_limited(self, retry_after: float | None = None, *, granted_at: float | None = None) -> float:
        reported_at = self._clock()
        until = super().on_rate_limited(retry_after, granted_at=granted_at)
        self.slowdowns.append((reported_at, until, self.current_rate))
        return until


def test_one_429_pauses_every_worker_and_lowers_the_rate() -> None:
    recorder = Recorder()
    limiter = SpyLimiter(RATE)
    counter = itertools.count(1)

    async def sometimes_429(request: web.Request) -> web.Response:
        if next(counter) == 80:
            body = {"externalapierror": {"status": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}}
            return web.json_response(body, status=429, headers={"Retry-After": "0.4"})
        return web.json_response({})

    async def main() -> None:
        app = make_app([web.get("/v1/x", sometimes_429)], recorder)
        async with serve(app) as url, client_for(url, limiter=limiter) as client:
            await send(client, 400)

    run(main())
    assert len(recorder.arrivals) == 401  # 400 requests + 1 retry
    assert limiter.stats().pauses == 1 and limiter.stats().rate_limited == 1
    reported_at, pause_end, rate_after = limiter.slowdowns[0]
    assert pause_end >= reported_at + 0.4
    assert rate_after == RATE * 0.7
    later = [g for g in limiter.grants if g > reported_at]
    assert later and all(g >= pause_end for g in later)  # nobody was let through during the pause
    assert max_in_window(recorder.arrivals) <= RATE
    after_pause = [t for t in recorder.arrivals if t >= pause_end]
    assert max_in_window(after_pause) <= RATE


# -- fake-clock unit tests ---------------------------------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def windows_ok(times: list[float], limit: int, window: float) -> bool:
    return max_in_window(times, window) <= limit


def test_log_bound_and_pacing_with_a_fake_clock() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(10, exact=False, burst=3, clock=fake.clock, sleep=fake.sleep)

    async def main() -> list[float]:
        return [(await limiter.acquire()).at for _ in range(100)]

    times = run(main())
    assert times[:3] == [0.0, 0.0, 0.0]  # the small burst
    assert windows_ok(times, 10, 1.0) and windows_ok(times, 10, 1.02)
    assert not windows_ok(times, 9, 1.0)  # and it does use the rate
    assert all(b >= a for a, b in itertools.pairwise(times))


def test_exact_mode_holds_a_slot_until_one_window_after_the_answer() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(2, burst=2, clock=fake.clock, sleep=fake.sleep)

    async def main() -> Grant:
        first = await limiter.acquire()
        await limiter.acquire()
        third = asyncio.create_task(limiter.acquire())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not third.done()  # both slots are in flight: nobody can know when the server saw them
        fake.now = 5.0
        limiter.release(first)
        return await third

    assert run(main()).at == pytest.approx(6.0)


def test_429_episode_lowers_once_then_recovers_additively() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(100, exact=False, clock=fake.clock, sleep=fake.sleep)

    async def main() -> None:
        early = await limiter.acquire()
        limiter.on_rate_limited(None, granted_at=early.at)
        assert limiter.current_rate == 70
        limiter.on_rate_limited(None, granted_at=early.at)  # an answer to a request sent before: same episode
        assert limiter.current_rate == 70 and limiter.stats().pauses == 1
        resumed = await limiter.acquire()
        assert resumed.at >= 1.0  # the default pause without Retry-After
        fake.now = resumed.at + 3.0
        await limiter.acquire()
        assert limiter.current_rate == 85  # +5% of the configured rate per clean second
        fake.now += 60
        await limiter.acquire()
        assert limiter.current_rate == 100  # back to the configured rate, never above
        late = await limiter.acquire()
        limiter.on_rate_limited(2.0, granted_at=late.at)  # a new episode
        assert limiter.current_rate == 70 and limiter.stats().pauses == 2
        assert (await limiter.acquire()).at >= late.at + 2.0

    run(main())


def test_cs_limiter_holds_100_per_minute_in_every_fixed_and_sliding_minute() -> None:
    fake = FakeTime()
    limiter = cs_limiter(100, exact=False, clock=fake.clock, sleep=fake.sleep)

    async def main() -> list[float]:
        return [(await limiter.acquire()).at for _ in range(350)]

    times = run(main())
    assert windows_ok(times, 100, 60.0)
    minutes: dict[int, int] = {}
    for t in times:
        minutes[int(t // 60)] = minutes.get(int(t // 60), 0) + 1
    assert max(minutes.values()) <= 100


def test_rates_below_one_per_window_are_paced() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(0.5, exact=False, burst=1, clock=fake.clock, sleep=fake.sleep)

    async def main() -> list[float]:
        return [(await limiter.acquire()).at for _ in range(5)]

    times = run(main())
    assert all(b - a >= 2.0 - 1e-9 for a, b in itertools.pairwise(times))


def test_recovery_slows_near_the_rate_of_the_last_429_and_forgets_it_later() -> None:
    """A budget shared with another client: climb quickly back to just below where the 429 came, then
    probe gently (a fifth of the step), instead of hitting the same wall every few seconds."""
    fake = FakeTime()
    limiter = SlidingWindowLimiter(100, exact=False, clock=fake.clock, sleep=fake.sleep, ceiling_memory=60.0)

    async def main() -> None:
        first = await limiter.acquire()
        fake.now = 10.0
        limiter.on_rate_limited(0.0, granted_at=first.at)  # the wall is at 100
        assert limiter.current_rate == 70
        fake.now = 14.0
        await limiter.acquire()
        assert limiter.current_rate == pytest.approx(90)  # 4 quick steps of 5
        fake.now = 16.0
        await limiter.acquire()
        assert limiter.current_rate == pytest.approx(96)  # one quick step to 95, then a step of 1
        late = await limiter.acquire()
        fake.now = 20.0
        limiter.on_rate_limited(0.0, granted_at=late.at)  # a new wall, lower: 96
        assert limiter.current_rate == pytest.approx(67.2)
        fake.now = 100.0  # long clean: the wall is forgotten, a quick climb to the configured rate
        await limiter.acquire()
        assert limiter.current_rate == 100

    run(main())
