"""`ApiClient.request(before_send=...)`: the write-ahead mark's moment.

It must come after the limiter granted the slot (a row waiting for the limiter is not in flight) and
before anything reaches the server (a crash after the write leaves the row marked), once per request
however many attempts it takes; and a failing mark sends nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from batchgs.transport.limiter import SlidingWindowLimiter
from batchgs.transport.result import Outcome
from tests.transport.transport_helpers import Recorder, client_for, fast_policy, make_app, serve

TOO_MANY = {"externalapierror": {"status": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}}


def answers(*replies: tuple[int, dict[str, Any], dict[str, str] | None]) -> Any:
    queue = list(replies)

    async def handler(request: web.Request) -> web.StreamResponse:
        status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.json_response(body, status=status, headers=headers or {})

    return handler


def test_the_mark_comes_after_the_grant_before_the_server_sees_it_once_per_request() -> None:
    recorder = Recorder()
    limiter = SlidingWindowLimiter(1000.0, burst=1000)
    seen_at_mark: list[tuple[int, int]] = []  # (limiter slots held, requests the server had seen)

    async def mark() -> None:
        seen_at_mark.append((limiter.stats().in_flight, len(recorder.requests)))

    async def main() -> Any:
        app = make_app(
            [
                web.post(
                    "/v1/events/custom", answers((429, TOO_MANY, {"Retry-After": "0.01"}), (200, {}, None))
                )
            ],
            recorder,
        )
        async with serve(app) as url, client_for(url, limiter=limiter, policy=fast_policy()) as client:
            return await client.request(
                "POST", "/v1/events/custom", json={"seq": 1}, idempotent=False, before_send=mark
            )

    result = asyncio.run(asyncio.wait_for(main(), 30))
    assert result.outcome is Outcome.SUCCESS and result.attempts == 2
    assert len(recorder.requests) == 2  # the 429 and the retry
    assert seen_at_mark == [(1, 0)]  # once, holding its slot, before the server saw anything


def test_a_mark_that_fails_sends_nothing_and_gives_the_slot_back() -> None:
    recorder = Recorder()
    limiter = SlidingWindowLimiter(1000.0, burst=1000)

    async def mark() -> None:
        raise OSError("journal disk full")

    async def main() -> None:
        app = make_app([web.post("/v1/events/custom", answers((200, {}, None)))], recorder)
        async with serve(app) as url, client_for(url, limiter=limiter) as client:
            await client.request("POST", "/v1/events/custom", json={}, idempotent=False, before_send=mark)

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(asyncio.wait_for(main(), 30))
    assert recorder.requests == []
    assert limiter.stats().in_flight == 0
