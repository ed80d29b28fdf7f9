"""The coordinator (a real redis-server): one daily ledger for jobs on separate "machines" (state
folders), refusing to start when it cannot be reached (nothing sent), stopping — never unthrottled —
when it is lost mid-run, and keeping no key or secret in Redis."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest
import redis
from aiohttp import web

from batchgs.config import Secret, Settings, parse_coordinator
from batchgs.errors import ConfigError, CoordinatorLost, QuotaExhausted
from batchgs.transport.client import ApiClient, px_client
from batchgs.transport.coordination import pool_figures, quota_left
from batchgs.transport.share import pool_id
from tests.redis_server import RedisServer, free_port
from tests.transport.transport_helpers import KEY, Recorder, make_app, serve

DEADLINE = 60.0


async def ok(request: web.Request) -> web.Response:
    return web.json_response({})


def settings_for(url: str, state: Path, coordinator: str, *, daily_limit: int = 1_000_000) -> Settings:
    return Settings(
        px_base_url=url,
        px_api_key=Secret(KEY),
        rate=50,
        key_rate=50,
        daily_limit=daily_limit,
        state_dir=state,
        coordinator=parse_coordinator(coordinator),
    )


def test_jobs_on_separate_machines_share_one_daily_limit_and_continue_when_it_frees(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    recorder = Recorder()

    async def drain(c: ApiClient) -> int:
        sent = 0
        try:
            while True:
                assert (await c.request("GET", "/v1/x")).ok
                sent += 1
        except QuotaExhausted as exc:
            assert not isinstance(exc, CoordinatorLost) and exc.available_at is not None
            assert "daily request quota reached: 40 of 40" in exc.message
            return sent

    async def main(url_holder: list[str]) -> list[int]:
        async with serve(make_app([web.get("/v1/x", ok)], recorder)) as url:
            url_holder.append(url)
            clients = [
                px_client(settings_for(url, tmp_path / f"machine{n}", redis_server.url, daily_limit=40))
                for n in range(3)
            ]
            for c in clients:
                await c.__aenter__()
            try:
                return list(await asyncio.gather(*(drain(c) for c in clients)))
            finally:
                for c in clients:
                    await c.close()

    url: list[str] = []
    sent = asyncio.run(asyncio.wait_for(main(url), DEADLINE))
    assert sum(sent) == len(recorder.arrivals) == 40  # together they stop at the limit, not 3 x 40
    settings = settings_for(url[0], tmp_path / "elsewhere", redis_server.url, daily_limit=40)
    assert quota_left(settings, Secret(KEY).fingerprint(), "px", 40, url[0]) == 0
    [figures] = pool_figures(settings)
    assert (figures.scope, figures.used, figures.daily_limit) == ("px", 40, 40)

    redis_server.age_ledger()  # a day later the rolling window is free again
    assert quota_left(settings, Secret(KEY).fingerprint(), "px", 40, url[0]) == 40


def test_an_unreachable_coordinator_refuses_to_start_and_sends_nothing(tmp_path: Path) -> None:
    recorder = Recorder()
    nobody = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"

    async def main() -> None:
        async with serve(make_app([web.get("/v1/x", ok)], recorder)) as url:
            client = px_client(settings_for(url, tmp_path / "state", nobody))
            with pytest.raises(ConfigError) as caught:
                async with client:
                    await client.request("GET", "/v1/x")
            message = caught.value.message
            assert (
                message.startswith("cannot reach the coordinator redis://127.0.0.1:")
                and "nothing was sent" in message
            )
            assert "hunter2" not in message

    asyncio.run(asyncio.wait_for(main(), DEADLINE))
    assert recorder.arrivals == []


def test_a_coordinator_lost_mid_run_stops_the_run_and_nothing_more_is_sent(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    killed: dict[str, float] = {}

    async def main() -> BaseException:
        async with (
            serve(make_app([web.get("/v1/x", ok)], recorder)) as url,
            px_client(settings_for(url, tmp_path / "state", redis_server.url)) as client,
        ):

            async def worker() -> None:
                while True:
                    await client.request("GET", "/v1/x")

            workers = [asyncio.create_task(worker()) for _ in range(8)]
            deadline = time.monotonic() + DEADLINE
            while len(recorder.arrivals) < 30:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            redis_server.stop()  # SIGKILL: the coordinator is gone
            killed["at"] = time.monotonic()
            killed["in_flight"] = client.limiter.stats().in_flight
            done, _pending = await asyncio.wait(workers, timeout=DEADLINE)
            assert len(done) == len(workers)
            errors = [task.exception() for task in done]
            assert all(isinstance(e, CoordinatorLost) for e in errors), errors
            return errors[0]  # type: ignore[return-value]

    error = asyncio.run(asyncio.wait_for(main(), DEADLINE * 2))
    assert "stopped rather than send" in str(error)
    # Held at once: after the kill, only what was granted before it (in flight, or granted within
    # the tick that noticed) may still arrive; nothing for the seconds until the run stopped.
    after = [t for t in recorder.arrivals if t > killed["at"]]
    assert len(after) <= killed["in_flight"] + 20, (len(after), killed)


def test_redis_holds_hashes_and_counts_never_the_key(redis_server: RedisServer, tmp_path: Path) -> None:
    async def main() -> str:
        async with serve(make_app([web.get("/v1/x", ok)])) as url:
            async with px_client(settings_for(url, tmp_path / "state", redis_server.url)) as client:
                for _ in range(5):
                    assert (await client.request("GET", "/v1/x")).ok
            return url

    url = asyncio.run(asyncio.wait_for(main(), DEADLINE))
    client = redis.Redis.from_url(redis_server.url)
    try:
        dump = []
        for key in client.scan_iter("*"):
            dump.append(key)
            kind = client.type(key)
            if kind == b"hash":
                dump.extend(b"%s=%s" % pair for pair in client.hgetall(key).items())
            elif kind == b"set":
                dump.extend(client.smembers(key))
        text = b"\n".join(dump).decode()
    finally:
        client.close()
    pool = pool_id(Secret(KEY).fingerprint(), url, "px")
    assert f"batchgs:{pool}:day" in text and f"batchgs:{pool}:jobs" in text
    for form in (KEY, base64.b64encode(KEY.encode()).decode().rstrip("=")):
        assert form not in text
