"""Auth and limits (gainsight-api.md §1.1): 401/403, 200 per sliding second per key, the daily quota,
Retry-After on/off, the duplicate-request guard. Rates are checked through the sandbox's stats."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px, error_of, user

DAY_S = 24 * 3600


def test_missing_or_bad_key_is_401_json(sandbox: SandboxThread) -> None:
    for key in ("", "wrong"):
        response = Px(sandbox, key=key).get("/v1/users")
        assert response.status_code == 401
        assert error_of(response)["status"] == "UNAUTHORIZED"
    assert sandbox.api_key not in Px(sandbox, key="wrong").get("/v1/users").text


def test_read_only_key_reads_but_gets_403_html_on_writes(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(read_only_keys=("reader",))
    Px(sandbox).post("/v1/users", user("u1"))
    reader = Px(sandbox, key="reader")
    assert reader.get("/v1/users/u1").status_code == 200
    assert reader.post("/v2/user/preferences", {"identifyId": "u1"}).status_code == 200, "a read by POST"
    for response in (
        reader.post("/v1/users", user("u2")),
        reader.put("/v1/users/u1", {"title": "x"}),
        reader.delete("/v1/users/u1"),
        reader.put("/v2/user/preferences/u1", {"surveys": False}),
        reader.post("/v1/events/custom", {"identifyId": "u1"}),
    ):
        assert response.status_code == 403
        assert response.headers["Content-Type"].startswith("text/html")
    assert sorted(sandbox.store.users) == ["u1"] and sandbox.store.users["u1"]["title"] is None


async def _offer(url: str, key: str, rate: float, seconds: float) -> list[int]:
    """Send `rate` requests per second for `seconds`, each on its own schedule (not waiting for answers)."""
    count = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector, headers={"X-APTRINSIC-API-KEY": key}) as session:
        start = time.monotonic()

        async def one(i: int) -> int:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with session.get(f"{url}/v1/users/u{i}") as response:
                await response.read()
                return response.status

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_300_offered_per_second_at_most_200_accepted_in_any_sliding_second(sandbox: SandboxThread) -> None:
    statuses = asyncio.run(_offer(sandbox.url, sandbox.api_key, rate=300, seconds=2))
    stats = sandbox.stats()
    assert stats["requests_total"] == len(statuses) == 600
    assert set(statuses) <= {404, 429}
    assert stats["max_arrivals_per_second"] > 200, "the client did offer more than the limit"
    assert stats["max_accepted_per_second"] <= 200
    assert stats["responses_429"] == statuses.count(429) > 0
    # the limiter was not stricter than needed: each 429 came after 200 accepted in the second before it
    log = stats["log"]
    accepted = [t for t, _, _, status in log if status != 429]
    for t, _, _, status in log:
        if status == 429:
            assert sum(1 for a in accepted if t - 1 + 1e-5 < a <= t) >= 199


def test_limit_is_per_key_and_429_carries_the_decided_body_and_retry_after(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(rate_limit=3, read_only_keys=("other",))
    px, other = Px(sandbox), Px(sandbox, key="other")
    statuses = [px.get("/v1/users").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    refused = px.get("/v1/users")
    assert refused.status_code == 429
    assert refused.json() == {
        "externalapierror": {
            "status": "TOO_MANY_REQUESTS",
            "message": "Rate limit exceeded",
            "debugMessage": None,
            "subErrors": None,
        }
    }
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.get("/v1/users").status_code == 200, "another key has its own budget"
    sandbox.advance_clock(1.01)
    assert px.get("/v1/users").status_code == 200
    sandbox.configure(retry_after=False)
    last = next(r for r in (px.get("/v1/users") for _ in range(10)) if r.status_code == 429)
    assert "Retry-After" not in last.headers


def test_unauthorised_requests_spend_no_budget(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(rate_limit=2)
    for _ in range(5):
        assert Px(sandbox, key="bad").get("/v1/users").status_code == 401
    assert [Px(sandbox).get("/v1/users").status_code for _ in range(2)] == [200, 200]


def test_daily_limit_over_the_rolling_24_hours(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(daily_limit=5)
    px = Px(sandbox)
    statuses = []
    for _ in range(4):
        statuses.append(px.get("/v1/users").status_code)
        sandbox.advance_clock(1.5)
    sandbox.advance_clock(12 * 3600)
    statuses += [px.get("/v1/users").status_code for _ in range(2)]
    assert statuses == [200] * 5 + [429]
    refused = px.get("/v1/users")
    assert error_of(refused)["message"] == "Daily request limit exceeded"
    assert int(refused.headers["Retry-After"]) > 3600
    sandbox.advance_clock(12 * 3600 - 5)
    assert px.get("/v1/users").status_code == 200, "the first four fell out of the rolling day"


def test_duplicate_get_guard(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(duplicate_window_ms=5000)
    px = Px(sandbox)
    assert px.get("/v1/users", pageSize=5).status_code == 200
    blocked = px.get("/v1/users", pageSize=5)
    assert blocked.status_code == 429 and error_of(blocked)["message"].startswith("Duplicate request blocked")
    assert px.get("/v1/users", pageSize=6).status_code == 200, "a different request passes"
    sandbox.advance_clock(5.1)
    assert px.get("/v1/users", pageSize=5).status_code == 200


def test_runtime_config_changes_limits(sandbox: SandboxThread) -> None:
    sandbox.configure(rate_limit=1)
    px = Px(sandbox)
    assert [px.get("/v1/users").status_code for _ in range(3)][:2] == [200, 429]
    sandbox.configure(rate_limit=0)
    assert {px.get("/v1/users").status_code for _ in range(20)} == {200}
