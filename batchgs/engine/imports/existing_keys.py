"""The `auto` upsert strategy: learn which keys already exist so that each row costs one request.

Two ways to learn, whichever is cheaper for this file and this subscription:
- scroll the whole collection's keys (1,000 per page): ceil(totalHits / 1000) requests;
- look the file's own keys up in chunks with OR-ed filters (`filter=identifyId==a&filter=identifyId==b`).
The answer is a hint: a PUT that meets 404 still falls back to POST, so a stale hint costs a request,
never a row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from batchgs.engine.imports.current_records import filter_chunks
from batchgs.engine.px_requests import filter_safe
from batchgs.transport.result import Outcome

SCROLL_PAGE = 1000
LOOKUP_CHUNK = 100


@dataclass
class ExistingKeys:
    method: str  # "scroll" | "lookup" | "none"
    keys: set[str] = field(default_factory=set)
    complete: bool = False  # True when `keys` holds every existing key (scroll)
    answers: dict[str, bool] = field(default_factory=dict)  # lookup mode: per-key answers, used once
    requests_used: int = 0
    total_hits: int = 0

    def lookup(self, key: str) -> bool | None:
        if key in self.answers:
            return self.answers.pop(key)
        if key in self.keys:
            return True
        return False if self.complete else None

    def per_row_lookup_cost(self, rows: int) -> int:
        return 0 if self.complete else math.ceil(rows / LOOKUP_CHUNK)

    def describe(self) -> str:
        if self.method == "scroll":
            return f"auto: read {self.total_hits} existing keys in {self.requests_used} requests"
        return (
            f"auto: subscription holds {self.total_hits} records; keys looked up {LOOKUP_CHUNK} per request"
        )


async def discover_existing(
    client: Any, path: str, records_key: str, key_field: str, *, expected_rows: int
) -> ExistingKeys:
    """Scroll every key when that costs less than looking the file's keys up in chunks."""
    first = await client.request("GET", path, params={"pageSize": "1"})
    if first.outcome is not Outcome.SUCCESS or not isinstance(first.body, dict):
        return ExistingKeys("none", requests_used=1)
    total = int(first.body.get("totalHits") or 0)
    scroll_cost = math.ceil(total / SCROLL_PAGE)
    lookup_cost = math.ceil(expected_rows / LOOKUP_CHUNK)
    if scroll_cost > lookup_cost:
        return ExistingKeys("lookup", requests_used=1, total_hits=total)
    keys: set[str] = set()
    used = 1
    scroll_id: str | None = None
    seen = 0
    while True:
        params = {"pageSize": str(SCROLL_PAGE)}
        if scroll_id:
            params["scrollId"] = scroll_id
        page = await client.request("GET", path, params=params)
        used += 1
        if page.outcome is not Outcome.SUCCESS or not isinstance(page.body, dict):
            return ExistingKeys("lookup", keys, complete=False, requests_used=used, total_hits=total)
        records = page.body.get(records_key) or []
        keys.update(str(r.get(key_field)) for r in records if r.get(key_field) is not None)
        seen += len(records)
        next_id = page.body.get("scrollId")
        if len(records) < SCROLL_PAGE or not next_id or next_id == scroll_id or seen >= total:
            break
        scroll_id = next_id
    return ExistingKeys("scroll", keys, complete=True, requests_used=used, total_hits=total)


async def lookup_keys(
    client: Any, path: str, records_key: str, key_field: str, keys: Iterable[str]
) -> tuple[set[str], int]:
    """Which of `keys` exist, asked in chunks of OR-ed equality filters. Returns (existing, requests)."""
    found: set[str] = set()
    requests = 0
    safe = [key for key in keys if filter_safe(key)]  # others stay unknown: put-first decides
    for chunk in filter_chunks(key_field, safe):
        params = [("pageSize", str(SCROLL_PAGE))] + [("filter", f"{key_field}=={k}") for k in chunk]
        result = await client.request("GET", path, params=params)
        requests += 1
        if result.outcome is Outcome.SUCCESS and isinstance(result.body, dict):
            wanted = set(chunk)
            found.update(
                str(r.get(key_field))
                for r in result.body.get(records_key) or []
                if str(r.get(key_field)) in wanted
            )
    return found, requests
