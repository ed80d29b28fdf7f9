"""Scroll and page-number paging of gainsight-api.md §1.8.

A scroll starts with a snapshot of the matching records; each page gets a fresh `scrollId` that
points just past it, and the LAST page still carries a non-null `scrollId` (the real service does
that too), so a client must stop on a short or empty page, a repeated id, or `totalHits`. Re-sending
an id returns the same page again, so a retried page is harmless. A scroll expires `ttl` seconds
after its last use.
"""

from __future__ import annotations

import base64
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from batchgs.sandbox.clock import Clock
from batchgs.sandbox.errors import ApiError

Record = dict[str, Any]
MAX_REMEMBERED_EXPIRED = 100_000


@dataclass
class _Cursor:
    records: list[Record]
    page_size: int
    last_used: float


@dataclass(frozen=True)
class ScrollPage:
    records: list[Record]
    total_hits: int
    scroll_id: str


class ScrollRegistry:
    """Live scroll contexts, keyed by every scrollId handed out."""

    def __init__(self, clock: Clock, ttl_s: Callable[[], float], seed: int = 0) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._rng = random.Random(seed)
        self._ids: dict[str, tuple[_Cursor, int]] = {}
        self._cursors: dict[int, list[str]] = {}
        self._by_use: OrderedDict[int, _Cursor] = OrderedDict()  # least recently used first
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._serial = 0

    def start(self, records: list[Record], page_size: int) -> ScrollPage:
        self._prune()
        cursor = _Cursor(records, page_size, self._clock.monotonic())
        self._cursors[id(cursor)] = []
        self._by_use[id(cursor)] = cursor
        return self._page(cursor, 0, page_size)

    def resume(self, scroll_id: str, page_size: int | None) -> ScrollPage:
        entry = self._ids.get(scroll_id)
        now = self._clock.monotonic()
        if entry is not None and now - entry[0].last_used > self._ttl_s():
            self._drop(entry[0])
            entry = None
        if entry is None:
            if scroll_id in self._expired:
                raise ApiError(
                    400,
                    f"The scrollId has expired (scrolls live {self._ttl_s():g} s after their last use); "
                    "start the search again without scrollId",
                )
            raise ApiError(400, "Invalid scrollId: it is unknown or has expired")
        cursor, offset = entry
        cursor.last_used = now
        self._by_use.move_to_end(id(cursor))
        if offset >= len(cursor.records):
            return ScrollPage([], len(cursor.records), scroll_id)
        return self._page(cursor, offset, page_size or cursor.page_size)

    def active(self) -> int:
        return len(self._cursors)

    def _page(self, cursor: _Cursor, offset: int, page_size: int) -> ScrollPage:
        chunk = cursor.records[offset : offset + page_size]
        scroll_id = self._new_id()
        self._ids[scroll_id] = (cursor, offset + len(chunk))
        self._cursors[id(cursor)].append(scroll_id)
        return ScrollPage(chunk, len(cursor.records), scroll_id)

    def _new_id(self) -> str:
        # base64 like Elasticsearch's ids, `+`, `/` and `=` included: a client must percent-encode it.
        self._serial += 1
        raw = b"queryThenFetch;" + self._serial.to_bytes(8, "big") + self._rng.randbytes(16)
        return base64.b64encode(raw).decode("ascii")

    def _prune(self) -> None:
        """Drop the scrolls unused for longer than the ttl: the least recently used first, so a scroll
        start costs the stale ones only (a scan of every scrollId handed out grew with every export a
        sandbox served: ~5,000 ids after a few benchmark runs, scanned on each of 64 starts)."""
        now = self._clock.monotonic()
        ttl = self._ttl_s()
        while self._by_use:
            cursor = next(iter(self._by_use.values()))
            if now - cursor.last_used <= ttl:
                break
            self._drop(cursor)

    def _drop(self, cursor: _Cursor) -> None:
        self._by_use.pop(id(cursor), None)
        for scroll_id in self._cursors.pop(id(cursor), []):
            self._ids.pop(scroll_id, None)
            self._expired[scroll_id] = None
        while len(self._expired) > MAX_REMEMBERED_EXPIRED:
            self._expired.popitem(last=False)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], else 400 naming it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got '{raw[:40]}'") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def page_number_slice(records: list[Record], page_number: int, page_size: int) -> tuple[list[Record], bool]:
    """Page `page_number` (from 0) and whether it is the last one."""
    start = page_number * page_size
    chunk = records[start : start + page_size]
    return chunk, start + page_size >= len(records)
