"""Seeded fault injection: failures before applying, ambiguous writes, dropped connections, latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from batchgs.sandbox.faults import Fate, FaultInjector
from batchgs.sandbox.settings import SandboxConfig
from tests.sandbox.sandbox_helpers import event, user

KEY = "sandbox"


async def _send(url: str, requests: list[tuple[str, str, Any]]) -> list[int | str]:
    """One request at a time on fresh connections (no keep-alive, so no client-side retry hides a drop)."""
    out: list[int | str] = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, headers={"X-APTRINSIC-API-KEY": KEY}) as session:
        for method, path, body in requests:
            try:
                async with session.request(method, url + path, json=body) as response:
                    await response.read()
                    out.append(response.status)
            except aiohttp.ServerDisconnectedError:
                out.append("dropped")
    return out


def run(url: str, requests: list[tuple[str, str, Any]]) -> list[int | str]:
    return asyncio.run(_send(url, requests))


def creates(n: int) -> list[tuple[str, str, Any]]:
    return [("POST", "/v1/users", user(f"u{i:03d}")) for i in range(n)]


def test_failures_are_decided_before_applying_and_honour_the_rate(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(fail_rate=0.3, seed=11, rate_limit=0)
    statuses = run(sandbox.url, creates(300))
    failed = [s for s in statuses if s != 201]
    assert set(failed) <= {429, 500, 503} and len(set(failed)) == 3
    assert 0.2 < len(failed) / 300 < 0.4
    created = {f"u{i:03d}" for i, s in enumerate(statuses) if s == 201}
    assert set(sandbox.store.users) == created, "a failed request changed nothing"
    assert sandbox.stats()["faults"] == {"fail": len(failed)}


def test_same_seed_same_faults(sandbox_factory: Any) -> None:
    first = sandbox_factory(fail_rate=0.25, drop_rate=0.1, seed=5, rate_limit=0)
    second = sandbox_factory(fail_rate=0.25, drop_rate=0.1, seed=5, rate_limit=0)
    other = sandbox_factory(fail_rate=0.25, drop_rate=0.1, seed=6, rate_limit=0)
    reads = [("GET", "/v1/users", None)] * 80
    assert run(first.url, reads) == run(second.url, reads) != run(other.url, reads)


def test_ambiguous_writes_are_applied_then_answered_500(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(ambiguous_rate=0.4, seed=3, rate_limit=0)
    statuses = run(sandbox.url, [("POST", "/v1/events/custom", event(eventId=f"E{i}")) for i in range(200)])
    assert set(statuses) == {201, 500}
    assert 0.3 < statuses.count(500) / 200 < 0.5
    assert len(sandbox.store.custom_events) == 200, "every request was applied, answered or not"


@pytest.mark.parametrize("after", [False, True])
def test_dropped_connections_before_or_after_applying(sandbox_factory: Any, after: bool) -> None:
    sandbox = sandbox_factory(drop_rate=0.3, drop_after_apply=after, seed=9, rate_limit=0)
    statuses = run(sandbox.url, creates(150))
    assert set(statuses) == {201, "dropped"}
    assert 0.2 < statuses.count("dropped") / 150 < 0.4
    answered = {f"u{i:03d}" for i, s in enumerate(statuses) if s == 201}
    assert set(sandbox.store.users) == ({f"u{i:03d}" for i in range(150)} if after else answered)
    stats = sandbox.stats()
    assert stats["dropped"] == statuses.count("dropped") == stats["by_status"]["dropped"]


def test_faults_can_be_switched_at_runtime_and_apply_to_cs_paths(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory()
    assert run(sandbox.url, [("GET", "/v1/users", None)] * 5) == [200] * 5
    sandbox.configure(fail_rate=1.0, fail_statuses=[503])
    assert run(sandbox.url, [("GET", "/v1/users", None)]) == [503]

    async def cs_call() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession(headers={"accesskey": sandbox.cs.access_key}) as session,
            session.get(sandbox.url + "/v2/cockpit/admin/picklist/lite") as response,
        ):
            return response.status, response.headers["Content-Type"]

    assert asyncio.run(cs_call()) == (503, "text/html; charset=utf-8")
    sandbox.configure(fail_rate=0.0)
    assert asyncio.run(cs_call())[0] == 200


def test_injected_429_and_500_bodies(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(fail_rate=1.0, fail_statuses=(429,))

    async def get() -> tuple[int, Any, str | None]:
        async with (
            aiohttp.ClientSession(headers={"X-APTRINSIC-API-KEY": KEY}) as session,
            session.get(sandbox.url + "/v1/users") as response,
        ):
            return response.status, await response.json(), response.headers.get("Retry-After")

    status, body, retry_after = asyncio.run(get())
    assert (
        status == 429 and body["externalapierror"]["message"] == "Rate limit exceeded" and retry_after == "1"
    )
    sandbox.configure(fail_statuses=(500,))
    status, body, _ = asyncio.run(get())
    assert status == 500 and body["externalapierror"]["status"] == "INTERNAL_SERVER_ERROR"


def test_latency_with_jitter_is_drawn_within_its_bounds() -> None:
    injector = FaultInjector(seed=1)
    config = SandboxConfig(latency_ms=50, jitter_ms=20)
    delays = [injector.decide(config).latency_s for _ in range(500)]
    assert all(0.030 <= d <= 0.070 for d in delays)
    assert max(delays) - min(delays) > 0.03, "jitter actually varies"
    assert {injector.decide(SandboxConfig()).fate for _ in range(50)} == {Fate.NORMAL}


def test_latency_delays_answers(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(latency_ms=40)
    started = time.monotonic()
    run(sandbox.url, [("GET", "/v1/users", None)] * 3)
    assert time.monotonic() - started >= 3 * 0.040  # a lower bound only: never flaky on a slow machine


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        SandboxConfig(fail_rate=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        SandboxConfig(fail_rate=0.6, drop_rate=0.6)
    with pytest.raises(ValueError, match="fail_statuses"):
        SandboxConfig(fail_statuses=(404,))
    with pytest.raises(ValueError, match="unknown sandbox setting"):
        SandboxConfig().with_changes(fail_rat=0.1)
