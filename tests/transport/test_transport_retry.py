"""Retry policy: exponential backoff with full jitter, Retry-After honoured but capped, attempts and
total time bounded."""

from __future__ import annotations

import asyncio
import random

from aiohttp import web

from batchgs.transport.result import Outcome
from batchgs.transport.retry import RetryPolicy
from tests.transport.transport_helpers import Recorder, client_for, make_app, serve


def test_full_jitter_stays_under_an_exponential_ceiling_capped() -> None:
    policy = RetryPolicy(base=0.5, cap=30, rng=random.Random(1))
    for attempt in range(1, 15):
        ceiling = min(30, 0.5 * 2 ** (attempt - 1))
        draws = [policy.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # it is a spread, not a constant
    assert max(policy.backoff(40) for _ in range(100)) <= 30


def test_seeded_rng_makes_delays_reproducible() -> None:
    first = RetryPolicy(rng=random.Random(42))
    second = RetryPolicy(rng=random.Random(42))
    assert [first.delay(n) for n in range(1, 9)] == [second.delay(n) for n in range(1, 9)]


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(cap=30, rng=random.Random(0))
    assert policy.delay(1, retry_after=7) == 7
    assert policy.delay(5, retry_after=0) == 0
    assert policy.delay(1, retry_after=3600) == 30


def test_attempts_and_total_time_bound_the_retries() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_seconds=10, base=1, cap=5, rng=random.Random(0))
    assert policy.next_delay(1, elapsed=0) is not None
    assert policy.next_delay(2, elapsed=0) is not None
    assert policy.next_delay(3, elapsed=0) is None  # the third attempt was the last
    assert policy.next_delay(1, elapsed=9.5, retry_after=1) is None  # would pass the total time
    assert policy.next_delay(1, elapsed=8.5, retry_after=1) == 1


def test_client_caps_a_huge_retry_after() -> None:
    recorder = Recorder()
    answers = iter([503, 200])

    async def handler(request: web.Request) -> web.Response:
        status = next(answers)
        return web.json_response({}, status=status, headers={"Retry-After": "3600"} if status == 503 else {})

    async def main() -> Outcome:
        policy = RetryPolicy(max_attempts=3, max_total_seconds=5, base=0.01, cap=0.05, rng=random.Random(0))
        async with (
            serve(make_app([web.get("/v1/x", handler)], recorder)) as url,
            client_for(url, policy=policy) as c,
        ):
            return (await c.request("GET", "/v1/x")).outcome

    assert asyncio.run(asyncio.wait_for(main(), 20)) is Outcome.SUCCESS
    assert len(recorder.requests) == 2
