"""Async generators over the pages of a list, with every stop rule of gainsight-api.md 1.8.

Each page comes with a `PageInfo` that says how to continue (the next scrollId or page number and the
running count), so that a resumable exporter can record its progress and start again from there. No
loop here can run forever: an empty page, a short page, a missing or repeated scrollId, the count
reaching totalHits, or the same page served twice all end it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from batchgs.errors import ResumableStop
from batchgs.transport.client import Params, raise_for_result
from batchgs.transport.result import ApiResult

DAY_MS = 86_400_000
MAX_PAGE_SIZE = 1000
Record = dict[str, Any]


class Reader(Protocol):
    """What paging needs of a client (an ApiClient, or the engine's Client): a GET or a search POST."""

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> ApiResult: ...


@dataclass(frozen=True)
class PageInfo:
    index: int  # 0-based count of pages fetched in this iteration
    fetched: int  # records so far, this page included (plus the `already_fetched` of a resume)
    total_hits: int | None
    last: bool  # nothing follows this page
    scroll_id: str | None = None  # scroll: the id that fetches the NEXT page
    page_number: int | None = None  # page-number and CS lists: the number of THIS page


def _param_pairs(params: Params | None) -> list[tuple[str, Any]]:
    if not params:
        return []
    items: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    return list(items)


def _signature(records: list[Record]) -> str:
    """Enough of a page to notice the same page served twice (an ignored scrollId or pageNumber)."""
    return json.dumps([len(records), records[0], records[-1]], sort_keys=True, default=str)


def _records(body: Any, key: str, what: str) -> tuple[list[Record], Mapping[str, Any]]:
    if isinstance(body, list):  # tolerate a bare array
        return body, {}
    if not isinstance(body, Mapping):
        raise ResumableStop(f"{what}: unexpected answer (not a JSON object)")
    records = body.get(key)
    if records is None:
        return [], body
    if not isinstance(records, list):
        raise ResumableStop(f"{what}: unexpected answer ({key!r} is not a list)")
    return records, body


def int_or_none(value: Any) -> int | None:
    """A count from an answer (`totalHits` may also come as {"value": n})."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("value"), int):
        return int(value["value"])
    return None


def scroll_ends(
    count: int, page_size: int, next_id: Any, scroll_id: str | None, total: int | None, fetched: int
) -> bool:
    """Whether a scroll page is its last: short, without a (new) scrollId, or the count reached."""
    return (
        count < page_size or not next_id or next_id == scroll_id or (total is not None and fetched >= total)
    )


def page_list_ends(count: int, page_size: int, flag: Any, total: int | None, fetched: int) -> bool:
    """Whether a page-number page is its last: `isLastPage`, else short, or the count reached."""
    return flag is True or (flag is None and count < page_size) or (total is not None and fetched >= total)


async def scroll(
    client: Reader,
    path: str,
    records_key: str,
    params: Params | None = None,
    page_size: int = MAX_PAGE_SIZE,
    *,
    scroll_id: str | None = None,
    already_fetched: int = 0,
) -> AsyncIterator[tuple[list[Record], PageInfo]]:
    """Pages of a scroll list (users, accounts, event histories). Give `scroll_id`/`already_fetched`
    from a recorded PageInfo to resume. Filter, sort and pageSize stay unchanged while scrolling."""
    page_size = max(1, min(MAX_PAGE_SIZE, page_size))
    base = [*_param_pairs(params), ("pageSize", page_size)]
    fetched, index, previous = already_fetched, 0, None
    what = f"GET {path}"
    while True:
        query = [*base, ("scrollId", scroll_id)] if scroll_id else base
        result = await client.request("GET", path, params=query)
        raise_for_result(result, what=what)
        records, body = _records(result.body, records_key, what)
        if not records:
            return
        signature = _signature(records)
        if signature == previous:
            return  # the service served the same page again: the scrollId was not honoured
        total = int_or_none(body.get("totalHits"))
        next_id = body.get("scrollId") or None
        fetched += len(records)
        last = scroll_ends(len(records), page_size, next_id, scroll_id, total, fetched)
        yield records, PageInfo(index, fetched, total, last, scroll_id=None if last else str(next_id))
        if last:
            return
        scroll_id, previous, index = str(next_id), signature, index + 1


async def page_numbers(
    client: Reader,
    path: str,
    records_key: str,
    page_size: int,
    params: Params | None = None,
    *,
    start_page: int = 0,
    already_fetched: int = 0,
) -> AsyncIterator[tuple[list[Record], PageInfo]]:
    """Pages of a page-number list (`pageNumber` from 0, `isLastPage` in the answer)."""
    base = [*_param_pairs(params), ("pageSize", page_size)]
    number, fetched, index, previous = start_page, already_fetched, 0, None
    what = f"GET {path}"
    while True:
        result = await client.request("GET", path, params=[*base, ("pageNumber", number)])
        raise_for_result(result, what=what)
        records, body = _records(result.body, records_key, what)
        if not records:
            return
        signature = _signature(records)
        if signature == previous:
            return
        fetched += len(records)
        total = int_or_none(body.get("totalHits"))
        last = page_list_ends(len(records), page_size, body.get("isLastPage"), total, fetched)
        yield records, PageInfo(index, fetched, total, last, page_number=number)
        if last:
            return
        number, previous, index = number + 1, signature, index + 1


def _cs_records(data: Any) -> list[Record]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in ("records", "data", "ctas", "results"):
            if isinstance(data.get(key), list):
                return list(data[key])
        for value in data.values():
            if isinstance(value, list):
                return value
    return []


async def cs_pages(
    client: Reader,
    path: str,
    query: Mapping[str, Any],
    page_size: int = MAX_PAGE_SIZE,
    *,
    start_page: int = 1,
    already_fetched: int = 0,
) -> AsyncIterator[tuple[list[Record], PageInfo]]:
    """Pages of a CS list/search (`POST` with pageNumber from 1 and pageSize ≤ 1000 in the body).
    GSOBJ_1011 (no entity matches) is an empty result, not a failure."""
    page_size = max(1, min(MAX_PAGE_SIZE, page_size))
    number, fetched, index, previous = start_page, already_fetched, 0, None
    what = f"POST {path}"
    while True:
        result = await client.request(
            "POST", path, json={**query, "pageSize": page_size, "pageNumber": number}
        )
        if result.empty:
            return
        raise_for_result(result, what=what)
        body = result.body if isinstance(result.body, Mapping) else {}
        records = _cs_records(body.get("data"))
        if not records:
            return
        signature = _signature(records)
        if signature == previous:
            return
        fetched += len(records)
        last = len(records) < page_size
        yield records, PageInfo(index, fetched, None, last, page_number=number)
        if last:
            return
        number, previous, index = number + 1, signature, index + 1


def date_windows(since_ms: int, until_ms: int, max_days: int = 190) -> list[tuple[int, int]]:
    """Disjoint inclusive windows [start, end] covering every millisecond of [since_ms, until_ms],
    each spanning less than `max_days` days (history calls refuse more than 190)."""
    if until_ms < since_ms:
        return []
    step = max_days * DAY_MS
    windows: list[tuple[int, int]] = []
    start = since_ms
    while start <= until_ms:
        end = min(until_ms, start + step - 1)
        windows.append((start, end))
        start = end + 1
    return windows


def window_params(
    start_ms: int,
    end_ms: int,
    style: Literal["dateRange", "filter"] = "filter",
    filters: Iterable[str] = (),
) -> list[tuple[str, str | int]]:
    """Query pairs for one history window: `dateRangeStart/End` (custom events) or a date filter,
    ANDed into every OR-branch of the user's own filters."""
    filters = [f for f in filters if f]
    if style == "dateRange":
        return [("dateRangeStart", start_ms), ("dateRangeEnd", end_ms), *(("filter", f) for f in filters)]
    window = f"date>={start_ms};date<={end_ms}"
    if not filters:
        return [("filter", window)]
    return [("filter", f"{f};{window}") for f in filters]
