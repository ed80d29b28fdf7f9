"""A cursor whose part has its last page on the way starts the next part meanwhile (one round trip
sooner per part on a sliced export), and nothing is lost or doubled by it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from batchgs.engine.export import fetch
from tests.engine.export.export_helpers import (
    ANCHOR,
    DAY_MS,
    options_for,
    read_csv,
    run_library,
    seeded_store,
)

SINCE, UNTIL = ANCHOR - 400 * DAY_MS, ANCHOR  # three 190-day windows: three parts on one cursor


class _FirstFreesItsCursor(fetch.PartFetcher):
    """The first part handed out says its last request is out before it fetches anything, then does
    `after_freeing` (with one cursor, only a cursor freed by that call can start the next part); every
    other part sets `next_started`, then fetches."""

    first: ClassVar[list[int]]
    next_started: ClassVar[asyncio.Event]

    async def fetch(self) -> Any:
        if self.first:
            self.next_started.set()
            return await super().fetch()
        self.first.append(self.part.id)
        assert self.on_last_request is not None
        self.on_last_request()
        await self.after_freeing()
        return await super().fetch()

    async def after_freeing(self) -> None:
        await asyncio.wait_for(self.next_started.wait(), timeout=60)


def _first_frees(after: Any = None) -> type[_FirstFreesItsCursor]:
    """A fresh `_FirstFreesItsCursor` (its own class state), with `after` as its `after_freeing`."""
    attributes: dict[str, Any] = {"first": [], "next_started": asyncio.Event()}
    if after is not None:
        attributes["after_freeing"] = after
    return type("FirstFrees", (_FirstFreesItsCursor,), attributes)


def _export(sandbox_factory, tmp_path: Path, fetcher: type[fetch.PartFetcher]) -> Any:
    store = seeded_store(users=50, events=3000)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "events.csv"
    options = options_for("events", out, slices=1, since_ms=SINCE, until_ms=UNTIL, page_size=200)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fetch, "PartFetcher", fetcher)
        run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    return store, run, out


def test_a_freed_cursor_starts_the_next_part_while_the_last_page_comes(
    sandbox_factory, tmp_path: Path
) -> None:
    Gate = _first_frees()
    store, run, out = _export(sandbox_factory, tmp_path, Gate)
    assert run.error is None, run.error
    assert Gate.next_started.is_set() and len(Gate.first) == 1
    expected = sorted(e["eventId"] for e in store.custom_events if SINCE <= e["date"] <= UNTIL)
    assert sorted(r["eventId"] for r in read_csv(out)) == expected  # every event, each once


def test_a_part_failing_after_it_freed_its_cursor_fails_the_export(sandbox_factory, tmp_path: Path) -> None:
    async def fail(self: _FirstFreesItsCursor) -> None:
        raise RuntimeError("the first part failed after its cursor was freed")

    _, run, out = _export(sandbox_factory, tmp_path, _first_frees(fail))
    assert isinstance(run.error, RuntimeError) and "freed" in str(run.error)
    assert not out.exists()


def test_its_failure_is_the_one_reported_when_the_next_part_stops_for_it(
    sandbox_factory, tmp_path: Path
) -> None:
    """The next part is running when the freed part fails: it stops at its next page (`Interrupted`),
    and the export reports the failure that stopped it, not the stop."""

    async def fail_once_the_next_runs(self: _FirstFreesItsCursor) -> None:
        await asyncio.wait_for(self.next_started.wait(), timeout=60)
        raise RuntimeError("the first part failed while the next one ran")  # (which stops at its page)

    _, run, out = _export(sandbox_factory, tmp_path, _first_frees(fail_once_the_next_runs))
    assert isinstance(run.error, RuntimeError) and "while the next one ran" in str(run.error)
    assert not out.exists()


def test_the_request_of_a_parts_last_page_frees_its_cursor(sandbox_factory, tmp_path: Path) -> None:
    """The real fetcher says so when it asks for the page that holds the part's last records, not
    before: once per part, while the page before it is still being read."""
    calls: list[tuple[fetch.PartFetcher, int]] = []  # (the part's fetcher, its pages spooled by then)
    fetchers: list[fetch.PartFetcher] = []

    class Watch(fetch.PartFetcher):
        def __init__(self, *args: Any, on_last_request: Any = None, **kwargs: Any) -> None:
            def freed() -> None:
                calls.append((self, self.part.pages))
                if on_last_request is not None:
                    on_last_request()

            super().__init__(*args, on_last_request=freed, **kwargs)
            fetchers.append(self)

    store, run, out = _export(sandbox_factory, tmp_path, Watch)
    assert run.error is None
    several = {id(f.part) for f in fetchers if f.part.pages > 1}
    assert len(several) >= 2  # (the third window, 20 days, fits in one page: nothing to hand over)
    assert sorted(id(f.part) for f, _ in calls) == sorted(several)  # each part of several pages, once
    for fetcher, pages in calls:
        assert fetcher.part.status == "done" and fetcher.part.pages == pages + 2
    assert len(read_csv(out)) == sum(1 for e in store.custom_events if SINCE <= e["date"] <= UNTIL)
