"""PX custom events and histories (gainsight-api.md §1.6, §1.9): limits, no dedupe, 190-day windows."""

from __future__ import annotations

from typing import Any

import pytest

from batchgs.sandbox.px.events import HISTORIES
from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px, error_of, event, scroll_all, sub_fields, user

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def px(sandbox: SandboxThread) -> Px:
    return Px(sandbox)


def test_post_stores_one_event_and_never_dedupes_on_event_id(px: Px, sandbox: SandboxThread) -> None:
    body = event(
        "u1", accountId="a1", date=1_767_000_000_000, eventId="E-1", attributes={"amount": 3, "ok": True}
    )
    assert px.post("/v1/events/custom", body).status_code == 201
    assert px.post("/v1/events/custom", body).status_code == 201
    stored = sandbox.store.custom_events
    assert len(stored) == 2 and all(e["eventId"] == "E-1" for e in stored)
    assert stored[0]["attributes"] == {"amount": 3, "ok": True} and stored[0]["date"] == 1_767_000_000_000
    before = sandbox.clock.epoch_ms()
    px.post("/v1/events/custom", event("u1"))
    assert before <= sandbox.store.custom_events[-1]["date"] <= sandbox.clock.epoch_ms(), "no date: now"


@pytest.mark.parametrize("missing", ["identifyId", "propertyKey", "userType", "eventName"])
def test_required_fields(px: Px, missing: str) -> None:
    body = event()
    del body[missing]
    assert sub_fields(px.post("/v1/events/custom", body)) == [missing]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"userType": "EMPTY_USER_TYPE"}, "userType"),
        ({"eventName": "x" * 2001}, "eventName"),
        ({"attributes": {f"a{i}": i for i in range(51)}}, "attributes"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({"attributes": {"y" * 1025: 1}}, "attributes." + "y" * 40 + "..."),
        ({"date": "2026-01-01T00:00:00Z"}, "date"),
        ({"eventId": 12}, "eventId"),
        ({"sessionCount": 1}, "sessionCount"),
    ],
)
def test_event_limits_and_types(px: Px, sandbox: SandboxThread, changes: dict[str, Any], field: str) -> None:
    assert field in sub_fields(px.post("/v1/events/custom", {**event(), **changes}))
    assert sandbox.store.custom_events == []


def test_limits_at_their_edges_are_accepted(px: Px) -> None:
    edge = event(name="n" * 2000, attributes={("k" * 1023) + str(i % 10): i for i in range(50)})
    assert px.post("/v1/events/custom", edge).status_code == 201


def test_at_most_2000_distinct_event_names(px: Px, sandbox: SandboxThread) -> None:
    sandbox.store.event_names.update(f"name-{i}" for i in range(2000))
    assert px.post("/v1/events/custom", event(name="name-7")).status_code == 201
    refused = px.post("/v1/events/custom", event(name="one too many"))
    assert refused.status_code == 400 and "2000" in error_of(refused)["message"]


def test_events_of_a_denied_user_are_accepted_and_ignored(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/users", user("u1"))
    px.put("/v1/users/denylist/u1", {"denied": True})
    assert px.post("/v1/events/custom", event("u1")).status_code == 201
    assert sandbox.store.custom_events == []


def test_custom_event_history_windows(px: Px, sandbox: SandboxThread) -> None:
    now = sandbox.clock.epoch_ms()
    for days_ago in (0, 2, 100, 300):
        px.post("/v1/events/custom", event(date=now - days_ago * DAY_MS - 1000, eventId=f"E{days_ago}"))
    default = px.get("/v1/events/custom").json()
    assert [e["eventId"] for e in default["customEvents"]] == ["E0"], "no range: the last day"
    window = px.get(
        "/v1/events/custom", dateRangeStart=now - 190 * DAY_MS, dateRangeEnd=now, pageSize=100
    ).json()
    assert [e["eventId"] for e in window["customEvents"]] == ["E100", "E2", "E0"], "oldest first"
    too_long = px.get("/v1/events/custom", dateRangeStart=now - 190 * DAY_MS - 1, dateRangeEnd=now)
    assert too_long.status_code == 400 and error_of(too_long)["message"] == "Exceeded date range190days"
    start_only = px.get("/v1/events/custom", dateRangeStart=now - 400 * DAY_MS)
    assert start_only.status_code == 400
    filtered = px.get(
        "/v1/events/custom", dateRangeStart=now - 190 * DAY_MS, dateRangeEnd=now, filter="eventId==e2"
    ).json()
    assert [e["eventId"] for e in filtered["customEvents"]] == ["E2"]
    assert px.get("/v1/events/custom", dateRangeStart="yesterday").status_code == 400


@pytest.mark.parametrize("kind", sorted(HISTORIES))
def test_histories_use_their_records_key_and_filter_windows(sandbox_factory: Any, kind: str) -> None:
    sandbox = sandbox_factory(seed_users=20, seed_events=400)
    px = Px(sandbox)
    path, records_key = HISTORIES[kind]
    anchor = sandbox.config.seed_anchor_ms
    start, end = anchor - 190 * DAY_MS, anchor
    window = f"date>={start};date<={end}"
    pages = scroll_all(px, path, records_key, 40, filter=window)
    got = [e for p in pages for e in p]
    expected = [e for e in sandbox.store.history[kind] if start <= e["date"] <= end]
    assert sorted(e["eventId"] for e in got) == sorted(e["eventId"] for e in expected) and got
    dates = [e["date"] for e in got]
    assert dates == sorted(dates)
    for e in got:
        assert {"eventId", "identifyId", "accountId", "propertyKey", "date", "eventType", "sessionId"} <= set(
            e
        )
    too_long = px.get(path, filter=f"date>={anchor - 191 * DAY_MS};date<={anchor}")
    assert too_long.status_code == 400 and error_of(too_long)["message"] == "Exceeded date range190days"
    assert px.get(path).json()[records_key] == [], "no window: the last day, and the seed is older"


def test_seeded_events_span_more_than_two_windows(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(seed_users=5, seed_events=300)
    dates = [e["date"] for e in sandbox.store.custom_events]
    assert max(dates) - min(dates) > 2 * 190 * DAY_MS * 0.9
