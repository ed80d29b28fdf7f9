"""The script people write first: `asyncio.gather` over every row, an `AsyncLimiter(200, 1)`, one
aiohttp session, PUT then POST on 404, and no backoff — a 429 simply loses the row.

`AsyncLimiter(200, 1)` is a leaky bucket of capacity 200: after an idle moment it lets 200 through at
once and then 200 more during the next second, so the server can see up to ~400 in one sliding second.
Measured against batchgs on the same file (`bench/import_rate.py`).
"""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiolimiter import AsyncLimiter

from bench.loader_baseline import row_to_user


async def _load(base_url: str, key: str, rows: list[dict[str, str]], product_key: str) -> dict[int, int]:
    limiter = AsyncLimiter(200, 1)
    statuses: dict[int, int] = {}
    headers = {"X-APTRINSIC-API-Key": key}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:

        async def send(method: str, path: str, body: dict[str, Any]) -> int:
            async with limiter, session.request(method, path, json=body) as response:
                await response.read()
                return response.status

        async def one(row: dict[str, str]) -> None:
            user = row_to_user(row, product_key)
            status = await send("PUT", f"/v1/users/{quote(user['identifyId'], safe='')}", user)
            if status == 404:
                status = await send("POST", "/v1/users", user)
            statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(one(row) for row in rows))
    return statuses


def load_users(
    base_url: str, key: str, path: Path, product_key: str, *, limit: int | None = None
) -> dict[str, Any]:
    """Send the first `limit` rows of `path`; returns per-row final statuses and the wall time."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    started = time.perf_counter()
    statuses = asyncio.run(_load(base_url, key, rows, product_key))
    return {"rows": len(rows), "seconds": time.perf_counter() - started, "statuses": statuses}
