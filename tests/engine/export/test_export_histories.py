"""Histories in ≤ 190-day windows, page-number lists, and per-user preferences/denylist."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from batchgs.sandbox.store import HISTORY_KINDS
from tests.engine.export.export_helpers import (
    ANCHOR,
    DAY_MS,
    options_for,
    query_values,
    read_csv,
    read_jsonl,
    run_library,
    seeded_store,
)

HISTORY_ENTITIES = {
    "pageView": ("page-views", "/v1/events/pageView"),
    "email": ("email-events", "/v1/events/email"),
    "engagementView": ("engagement-views", "/v1/events/engagementView"),
    "formSubmit": ("form-submits", "/v1/events/formSubmit"),
    "lead": ("leads", "/v1/events/lead"),
    "feature_match": ("feature-matches", "/v1/events/feature_match"),
    "segment_match": ("segment-matches", "/v1/events/segment_match"),
    "identify": ("identify-events", "/v1/events/identify"),
    "session": ("sessions", "/v1/events/session"),
    "survey": ("survey-responses", "/v1/survey/responses"),
}
SINCE, UNTIL = ANCHOR - 400 * DAY_MS, ANCHOR  # the seeded events span the 400 days before ANCHOR


def _windows_of(calls: list, style: str) -> list[tuple[int, int]]:
    """(start, end) of every first-page request (the ones without scrollId)."""
    windows = []
    for pairs in calls:
        if query_values(pairs, "scrollId"):
            continue
        if style == "dateRange":
            windows.append(
                (int(query_values(pairs, "dateRangeStart")[0]), int(query_values(pairs, "dateRangeEnd")[0]))
            )
        else:
            (text,) = query_values(pairs, "filter")
            clauses = text.split(";")
            start = next(int(c[len("date>=") :]) for c in clauses if c.startswith("date>="))
            end = next(int(c[len("date<=") :]) for c in clauses if c.startswith("date<="))
            windows.append((start, end))
    return sorted(windows)


def _assert_partition(windows: list[tuple[int, int]], since: int, until: int) -> None:
    assert windows[0][0] == since and windows[-1][1] == until
    for (_, a_end), (b_start, _) in itertools.pairwise(windows):
        assert b_start == a_end + 1  # disjoint and nothing between them
    assert all(end - start <= 190 * DAY_MS for start, end in windows)


def test_400_days_of_custom_events_make_three_190_day_windows(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=50, events=3000)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "events.csv"
    options = options_for("events", out, slices=1, since_ms=SINCE, until_ms=UNTIL, page_size=200)
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    assert run.error is None
    calls = [pairs for method, path, pairs in run.calls if path == "/v1/events/custom"]
    windows = _windows_of(calls, "dateRange")
    assert windows == [
        (SINCE, SINCE + 190 * DAY_MS - 1),
        (SINCE + 190 * DAY_MS, SINCE + 380 * DAY_MS - 1),
        (SINCE + 380 * DAY_MS, UNTIL),
    ]
    _assert_partition(windows, SINCE, UNTIL)
    rows = read_csv(out)
    expected = {e["eventId"]: e for e in store.custom_events if SINCE <= e["date"] <= UNTIL}
    assert len(rows) == len(expected) == 3000 and {r["eventId"] for r in rows} == set(expected)
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates)  # windows in order, each sorted by date
    row = rows[0]
    event = expected[row["eventId"]]
    assert row["eventName"] == event["eventName"] and row["attributes.amount"] == str(
        event["attributes"]["amount"]
    )


def test_sliced_history_windows_stay_within_190_days(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=50, events=4000)  # 1,000 page views
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "pv.jsonl"
    options = options_for("page-views", out, slices=4, since_ms=SINCE, until_ms=UNTIL, page_size=100)
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    assert run.error is None
    windows = _windows_of([p for m, path, p in run.calls if path == "/v1/events/pageView"], "filter")
    assert len(windows) >= 8
    _assert_partition(windows, SINCE, UNTIL)
    rows = read_jsonl(out)
    assert sorted(r["eventId"] for r in rows) == sorted(e["eventId"] for e in store.history["pageView"])


@pytest.mark.parametrize("kind", HISTORY_KINDS)
def test_every_history_exports_every_event(sandbox_factory, tmp_path: Path, kind: str) -> None:
    store = seeded_store(users=20, events=800)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    entity, path = HISTORY_ENTITIES[kind]
    out = tmp_path / f"{entity}.csv"
    options = options_for(entity, out, slices=2, since_ms=SINCE, until_ms=UNTIL, page_size=40)
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    assert run.error is None and run.result is not None
    rows = read_csv(out)
    stored = {e["eventId"]: e for e in store.history[kind]}
    assert len(rows) == len(stored) == 200 and {r["eventId"] for r in rows} == set(stored)
    assert run.result.expected == 200
    for row in rows[:20]:
        event = stored[row["eventId"]]
        assert row["identifyId"] == event["identifyId"] and row["eventType"] == event["eventType"]
        assert row["date"].endswith("Z")
    assert list(rows[0])[:5] == ["eventId", "identifyId", "accountId", "propertyKey", "date"]
    assert all(path == p for m, p, _ in run.calls)


def test_default_window_is_the_last_day(sandbox_factory, tmp_path: Path) -> None:
    from batchgs.engine.export.entities import get_export_entity
    from batchgs.engine.export.options import resolve_window

    since, until = resolve_window(get_export_entity("sessions"), None, None, 1_000_000_000_000)
    assert (since, until) == (1_000_000_000_000 - DAY_MS, 1_000_000_000_000)
    since, until = resolve_window(get_export_entity("events"), "2024-01-01", "2024-01-31", 0)
    assert since == 1_704_067_200_000 and until == 1_706_745_599_999  # --until: the end of that day


@pytest.mark.parametrize(
    ("entity", "attribute", "count", "page_size"),
    [
        ("features", "features", 60, 25),
        ("segments", "segments", 30, 25),
        ("engagements", "engagements", 40, 15),
    ],
)
def test_page_number_lists(
    sandbox_factory, tmp_path: Path, entity: str, attribute: str, count: int, page_size: int
) -> None:
    store = seeded_store()
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / f"{entity}.csv"
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options_for(entity, out, page_size=page_size))
    assert run.error is None
    rows = read_csv(out)
    stored = getattr(store, attribute)
    assert [r["id"] for r in rows] == [s["id"] for s in stored] and len(rows) == count
    numbers = [int(query_values(pairs, "pageNumber")[0]) for _, _, pairs in run.calls]
    assert numbers == list(range(-(-count // page_size)))  # 0, 1, ... and stop at isLastPage
    assert rows[0]["name"] == stored[0]["name"]


def _ids_file(path: Path, ids: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["identifyId", "note"])
        for uid in ids:
            writer.writerow([uid, "x"])
    return path


def test_preferences_and_denylist_for_ids_file(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=40)
    users = sorted(store.users)
    store.preferences[users[1]] = {"trackUsage": False, "surveys": False}
    store.denylist.add(users[2])
    sandbox = sandbox_factory(store=store, rate_limit=0)
    wanted = [users[0], users[1], "nobody-1", users[2], users[1], "", "nobody-2", users[3]]
    ids = _ids_file(tmp_path / "ids.csv", wanted)
    for entity in ("preferences", "denylist"):
        out = tmp_path / f"{entity}.csv"
        run = run_library(
            sandbox, tmp_path / "s", tmp_path / f"r-{entity}", options_for(entity, out, ids_file=str(ids))
        )
        assert run.error is None and run.result is not None
        rows = read_csv(out)
        assert [r["identifyId"] for r in rows] == [users[0], users[1], users[2], users[3]]  # file order, once
        assert run.result.failed == 2
        if entity == "preferences":
            assert rows[1]["trackUsage"] == "false" and rows[1]["surveys"] == "false"
            assert rows[1]["guidedTours"] == "true" and rows[0]["trackEmailAnalytics"] == "true"
        else:
            assert [r["denied"] for r in rows] == ["false", "false", "true", "false"]


def test_preferences_of_every_user(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=230)
    users = sorted(store.users)
    store.preferences[users[7]] = {"productUpdates": False}
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "prefs.parquet"
    options = options_for("preferences", out, slices=3, page_size=50, filters=[])
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    assert run.error is None
    import polars as pl

    frame = pl.read_parquet(out)
    assert sorted(frame["identifyId"].to_list()) == users
    row = frame.filter(pl.col("identifyId") == users[7]).to_dicts()[0]
    assert row["productUpdates"] is False and row["trackUsage"] is True
    assert frame.schema["trackUsage"] == pl.Boolean
