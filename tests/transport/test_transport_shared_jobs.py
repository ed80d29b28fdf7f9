"""Jobs sharing one key — through one state folder, or through Redis with a state folder each (three
"machines") — each with its own client, limiter and board connection as separate processes have,
measured at a loopback server from its own arrival times: the sum holds in every sliding second,
shares are fair, a late job gets its share, an ended or dead job gives its share back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from batchgs.config import Secret, Settings, parse_coordinator
from batchgs.transport.client import ApiClient, px_client
from batchgs.transport.coordination import pool_figures, share_of_run
from batchgs.transport.share import ShareSnapshot
from tests.transport.transport_helpers import KEY, Recorder, make_app, max_in_window, serve

KEY_RATE = 60
DEADLINE = 60.0  # generous bound for any wait below; never a measured figure


async def ok(request: web.Request) -> web.Response:
    return web.json_response({})


Where = tuple[Path, str | None]  # (state folder, coordinator URL) of one job


def settings_for(
    url: str, state: Path, *, rate: float = KEY_RATE, coordinator: str | None = None
) -> Settings:
    return Settings(
        px_base_url=url,
        px_api_key=Secret(KEY),
        rate=rate,
        key_rate=KEY_RATE,
        state_dir=state,
        coordinator=parse_coordinator(coordinator) if coordinator else None,
    )


@pytest.fixture(params=["state-folder", "redis"])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Where]:
    """Where job `name` runs: one shared state folder, or a folder each (three machines) plus Redis."""
    if request.param == "state-folder":
        return lambda name: (tmp_path / "state", None)
    server = request.getfixturevalue("redis_server")
    return lambda name: (tmp_path / f"state-{name}", server.url)


def client(
    url: str, where: Where, label: str, on_change: Callable[[ShareSnapshot], None] | None = None
) -> ApiClient:
    state, coordinator = where
    made = px_client(settings_for(url, state, coordinator=coordinator), use_ledger=False, label=label)
    assert made.sharing is not None and made.sharing.keeper is not None
    made.sharing.keeper.on_change = on_change
    return made


async def keep_sending(c: ApiClient, path: str, stop: asyncio.Event, workers: int = 8) -> None:
    async def worker() -> None:
        while not stop.is_set():
            assert (await c.request("GET", path)).ok

    await asyncio.gather(*(worker() for _ in range(workers)))


async def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_three_jobs_hold_the_key_rate_in_every_second_and_a_late_one_gets_its_fair_share(
    board: Callable[[str], Where],
) -> None:
    recorder = Recorder()
    settled: dict[str, float] = {}

    def note(name: str) -> Callable[[ShareSnapshot], None]:
        def on_change(snapshot: ShareSnapshot) -> None:
            if snapshot.limit == KEY_RATE // 3:
                settled.setdefault(name, time.monotonic())

        return on_change

    async def main() -> None:
        routes = [web.get(f"/v1/{n}", ok) for n in "abc"]
        async with serve(make_app(routes, recorder)) as url:
            stop = asyncio.Event()
            a = await client(url, board("a"), "a", note("a")).__aenter__()
            b = await client(url, board("b"), "b", note("b")).__aenter__()
            senders = [asyncio.create_task(keep_sending(a, "/v1/a", stop))]
            senders.append(asyncio.create_task(keep_sending(b, "/v1/b", stop)))
            await wait_for(lambda: len(recorder.arrivals) >= 2 * KEY_RATE)  # a and b busy: the key is full
            late = await client(url, board("c"), "c", note("c")).__aenter__()
            senders.append(asyncio.create_task(keep_sending(late, "/v1/c", stop)))
            await wait_for(lambda: len(settled) == 3)
            since = time.monotonic()
            await wait_for(lambda: sum(1 for t in recorder.arrivals if t > since) >= 5 * KEY_RATE)
            stop.set()
            await asyncio.gather(*senders)
            settled["all"] = since
            for c in (a, b, late):
                await c.close()

    asyncio.run(asyncio.wait_for(main(), DEADLINE * 2))
    assert max_in_window(recorder.arrivals) <= KEY_RATE
    together = [
        r["path"] for r, t in zip(recorder.requests, recorder.arrivals, strict=True) if t > settled["all"]
    ]
    counts = [together.count(f"/v1/{n}") for n in "abc"]
    # Shares while all three run: 10% apart in the benchmark; 15% here, where a busy test machine
    # can stall one job's event-loop turn (a broken division, 30/15/15, is 50% apart).
    assert min(counts) >= 0.85 * max(counts), counts


def test_an_ended_or_dead_job_gives_its_share_back(
    board: Callable[[str], tuple[Path, str | None]], tmp_path: Path
) -> None:
    async def main() -> None:
        async with serve(make_app([web.get("/v1/x", ok)])) as url:
            runs = {name: (tmp_path / name).resolve() for name in ("a", "b", "dead")}
            a = await client(url, board("a"), str(runs["a"])).__aenter__()
            b = await client(url, board("b"), str(runs["b"])).__aenter__()
            dead = await client(url, board("dead"), str(runs["dead"])).__aenter__()
            await wait_for(lambda: a.limiter.share == b.limiter.share == dead.limiter.share == KEY_RATE // 3)
            state, coordinator = board("a")
            seen_by_a = settings_for(url, state, coordinator=coordinator)
            found = await asyncio.to_thread(share_of_run, seen_by_a, runs["a"])
            assert found is not None and found[0].limit == KEY_RATE // 3 and found[1].capacity == KEY_RATE
            figures = await asyncio.to_thread(pool_figures, seen_by_a)
            assert [len(f.board.jobs) for f in figures if f.board] == [3]

            keeper = dead.sharing.keeper  # type: ignore[union-attr]
            assert keeper is not None and keeper._task is not None
            keeper._task.cancel()  # the process is gone: no heartbeat, no goodbye
            await wait_for(lambda: a.limiter.share == b.limiter.share == KEY_RATE // 2)

            await b.close()  # ends cleanly: its share goes back after its last window
            await wait_for(lambda: a.limiter.share == KEY_RATE)
            assert await asyncio.to_thread(share_of_run, seen_by_a, runs["b"]) is None
            await a.close()
            await dead.close()

    asyncio.run(asyncio.wait_for(main(), DEADLINE * 2))


def test_a_job_alone_gets_its_own_rate_at_once(tmp_path: Path) -> None:
    async def main() -> int | None:
        async with serve(make_app([web.get("/v1/x", ok)])) as url:
            settings = settings_for(url, tmp_path / "state", rate=45)
            async with px_client(settings, use_ledger=False) as alone:
                return alone.limiter.share

    assert asyncio.run(main()) == 45
