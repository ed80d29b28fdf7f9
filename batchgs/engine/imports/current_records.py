"""Read the records Gainsight holds now for a file's keys, by whichever way costs fewer requests.

- `lookup`: the file's keys, 100 OR-ed equality filters per list request (a key the filter syntax
  cannot carry — `;`, `*`, spaces at the ends... — is read with one GET): about n/100 requests;
- `scroll`: the whole collection, 1,000 records per page, in several disjoint key ranges at once
  (`identifyId>=a;identifyId<b`, cut at the quantiles of the file's own keys, the slicing the sliced
  export uses for keys): about totalHits/1,000 requests, fast because the cursors run side by side.
One probe (`pageSize=1`) gives totalHits; the cheaper way wins and the plan says which and what it
costs. Records read are matched to the file's keys exactly (filter values compare case-insensitively,
ids do not).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from batchgs.engine import px_requests as rq
from batchgs.engine.px_requests import Client, key_boundary
from batchgs.transport.client import raise_for_result
from batchgs.transport.paging import scroll
from batchgs.transport.result import Outcome

Record = dict[str, Any]
Method = Literal["lookup", "scroll", "get"]
PAGE = 1000
LOOKUP_CHUNK = 100
URL_BUDGET = 6_000  # bytes of filter parameters per lookup request
MAX_CURSORS = 8
QUANTILE_SAMPLE = 4_096  # keys whose quantiles cut the ranges of a list pass
PAGES_PER_CURSOR = 4  # below this many pages per cursor, another cursor saves nothing
_FILTER_UNSAFE = frozenset(";,*?=<>!~&\t\r\n")
Sink = Callable[[list[tuple[str, Record | None]]], object]


@dataclass(frozen=True, slots=True)
class Collection:
    """Where the records of an entity are listed: `/v1/users` under `users`, keyed by identifyId."""

    path: str
    records_key: str
    key_field: str

    @property
    def calls(self) -> rq.PxCollection:
        return rq.USERS if self.key_field == "identifyId" else rq.ACCOUNTS


COLLECTIONS = {
    "users": Collection("/v1/users", "users", "identifyId"),
    "accounts": Collection("/v1/accounts", "accounts", "id"),
}


def filter_chunks(key_field: str, keys: Iterable[str]) -> Iterator[list[str]]:
    """`keys` in chunks of at most LOOKUP_CHUNK whose OR-ed `filter=key==value` parameters stay within
    URL_BUDGET bytes once percent-encoded: a request line past 8 KiB is refused by common servers
    (aiohttp's own limit is 8,190 bytes), and 100 keys of 70 characters would pass it."""
    chunk: list[str] = []
    size = 0
    for key in keys:
        cost = len(quote(f"{key_field}=={key}", safe="")) + len("&filter=")
        if chunk and (len(chunk) >= LOOKUP_CHUNK or size + cost > URL_BUDGET):
            yield chunk
            chunk, size = [], 0
        chunk.append(key)
        size += cost
    if chunk:
        yield chunk


def filter_safe(value: str) -> bool:
    """True when `key==value` in a filter means exactly this value (no separator, wildcard or
    operator inside, no blanks at the ends that the service would trim)."""
    return bool(value) and value == value.strip() and not any(ch in _FILTER_UNSAFE for ch in value)


@dataclass(frozen=True)
class ReadPlan:
    """How the current records will be read, and what it costs (shown in the plan)."""

    method: Method
    keys: int  # distinct keys of the file to read
    total_hits: int  # records in the collection now
    requests: int  # estimate, the probe included
    cursors: int = 1

    def describe(self, entity: str) -> str:
        if self.method == "get":
            return f"current preferences: one read per user (the API lists none): ~{self.requests:,} requests"
        if self.method == "scroll":
            return (
                f"current records: list all {self.total_hits:,} {entity} in {self.cursors} key range(s), "
                f"1,000 per page: ~{self.requests:,} requests (cheaper than looking up {self.keys:,} keys)"
            )
        return (
            f"current records: look up {self.keys:,} keys, {LOOKUP_CHUNK} per filtered list request: "
            f"~{self.requests:,} requests (cheaper than listing all {self.total_hits:,} {entity})"
        )


async def plan_reads(client: Client, collection: Collection, key_count: int) -> ReadPlan:
    """Probe the collection's size (one request) and choose the cheaper way to read `key_count` keys."""
    first = await client.request("GET", collection.path, params={"pageSize": "1"})
    raise_for_result(first, what=f"GET {collection.path}")
    total = int(first.body.get("totalHits") or 0) if isinstance(first.body, Mapping) else 0
    lookup_cost = math.ceil(key_count / LOOKUP_CHUNK)
    pages = math.ceil(total / PAGE)
    cursors = max(1, min(MAX_CURSORS, pages // PAGES_PER_CURSOR, key_count // PAGE or 1))
    scroll_cost = pages + cursors - 1  # each extra cursor may end on one short page
    if scroll_cost <= lookup_cost:
        return ReadPlan("scroll", key_count, total, 1 + scroll_cost, cursors)
    return ReadPlan("lookup", key_count, total, 1 + lookup_cost)


def key_ranges(keys: Sequence[str], count: int) -> list[tuple[str | None, str | None]]:
    """`count` disjoint half-open ranges covering every key, cut at quantiles of `keys` (lower-cased,
    filter-safe prefixes: the service compares filter values case-insensitively)."""
    if count <= 1 or not keys:
        return [(None, None)]
    sample = keys[:: max(1, len(keys) // QUANTILE_SAMPLE)]  # cuts only balance the ranges: any key may
    ordered = sorted(key_boundary(k) for k in sample)  # fall anywhere, the ranges still cover them all
    cuts = sorted({ordered[len(ordered) * j // count] for j in range(1, count)} - {""})
    edges: list[str | None] = [None, *cuts, None]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _range_filter(key_field: str, low: str | None, high: str | None) -> list[tuple[str, str]]:
    clauses = ([f"{key_field}>={low}"] if low is not None else []) + (
        [f"{key_field}<{high}"] if high is not None else []
    )
    return [("filter", ";".join(clauses))] if clauses else []


async def read_all(
    client: Client,
    collection: Collection,
    wanted: set[str],
    sink: Sink,
    *,
    cursors: int,
    expected: int = 0,
) -> int:
    """List the whole collection (in `cursors` key ranges at once); hand the records of `wanted` keys to
    `sink` page by page, then `(key, None)` for every wanted key not found. Returns the requests used.

    `expected` is the collection's size when the plan was made: when the ranges together listed fewer
    records (a service that compares range bounds differently from the documented case-insensitive
    way, or records deleted meanwhile), the wanted keys not seen are looked up by filter, so a key
    the ranges missed is never taken for a record that does not exist."""
    found: set[str] = set()
    listed: set[str] = set()
    pages = 0

    async def one_range(low: str | None, high: str | None) -> None:
        nonlocal pages
        params = _range_filter(collection.key_field, low, high)
        async for records, _info in scroll(client, collection.path, collection.records_key, params, PAGE):
            pages += 1
            listed.update(str(r.get(collection.key_field)) for r in records)
            mine = _matching(records, collection.key_field, wanted)
            found.update(key for key, _ in mine)
            if mine:
                sink(mine)

    ranges = key_ranges(list(wanted), cursors)
    await asyncio.gather(*(one_range(low, high) for low, high in ranges))
    missing = wanted - found
    if missing and len(listed) < expected:
        looked, used = await lookup(client, collection, sorted(missing))
        pages += used
        sink([(key, record) for key, record in looked.items() if record is not None])
        missing = {key for key, record in looked.items() if record is None}
    absent: list[tuple[str, Record | None]] = [(key, None) for key in missing]
    for start in range(0, len(absent), 10_000):
        sink(absent[start : start + 10_000])
    return pages


def _matching(records: Iterable[Record], key_field: str, wanted: set[str]) -> list[tuple[str, Record | None]]:
    out: list[tuple[str, Record | None]] = []
    for record in records:
        key = record.get(key_field)
        if key is not None and str(key) in wanted:
            out.append((str(key), record))
    return out


async def lookup(
    client: Client, collection: Collection, keys: Iterable[str]
) -> tuple[dict[str, Record | None], int]:
    """The current record of each key (None: no such record), asked in parallel chunks.
    Returns (records by key, requests used)."""
    distinct = list(dict.fromkeys(keys))
    safe = [k for k in distinct if filter_safe(k)]
    chunks: list[Awaitable[dict[str, Record | None]]] = [
        _lookup_chunk(client, collection, chunk) for chunk in filter_chunks(collection.key_field, safe)
    ]
    chunks += [_get_one(client, collection, k) for k in distinct if not filter_safe(k)]
    answers = await asyncio.gather(*chunks)
    result: dict[str, Record | None] = {}
    for answer in answers:
        result.update(answer)
    return result, len(chunks)


async def _lookup_chunk(client: Client, collection: Collection, keys: list[str]) -> dict[str, Record | None]:
    params = [("pageSize", str(PAGE))] + [("filter", f"{collection.key_field}=={k}") for k in keys]
    result = await client.request("GET", collection.path, params=params)
    raise_for_result(result, what=f"GET {collection.path}")
    records = result.body.get(collection.records_key) if isinstance(result.body, Mapping) else None
    found: dict[str, Record | None] = dict.fromkeys(keys)
    found.update(_matching(records or [], collection.key_field, set(keys)))
    return found


async def _get_one(client: Client, collection: Collection, key: str) -> dict[str, Record | None]:
    call = collection.calls.get(key)
    result = await client.request(call.method, call.path)
    if result.status == 404:
        return {key: None}
    raise_for_result(result, what=f"GET {collection.path}/…")
    if result.outcome is Outcome.SUCCESS and isinstance(result.body, dict):
        return {key: result.body}
    return {key: None}


async def read_preferences(client: Client, keys: Iterable[str]) -> tuple[dict[str, Record | None], int]:
    """Each user's v2 preferences (None: no such user): one request per user, side by side."""
    distinct = list(dict.fromkeys(keys))
    answers = await asyncio.gather(*(_get_preferences(client, key) for key in distinct))
    return dict(zip(distinct, answers, strict=True)), len(distinct)


async def _get_preferences(client: Client, key: str) -> Record | None:
    call = rq.preferences_get(key)
    result = await client.request(call.method, call.path, json=call.json)
    if result.status == 404:
        return None
    raise_for_result(result, what="GET /v2/user/preferences/…")
    return result.body if isinstance(result.body, dict) else None
