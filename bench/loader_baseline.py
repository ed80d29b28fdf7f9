"""A baseline written here from scratch that loads users the way Gainsight's own PX data loader does:
one row at a time, one request at a time, a new connection for every request, PUT the user and POST it
when the PUT answers 404. No concurrency, no rate limiter (it never needs one), one retry-free pass.

It exists only to be measured against batchgs on the same file (`bench/import_rate.py`).
"""

from __future__ import annotations

import csv
import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit


def row_to_user(row: dict[str, str], product_key: str) -> dict[str, Any]:
    """The body the loader sends for one row of `harness.write_users_csv`."""
    return {
        "identifyId": row["identifyId"],
        "email": row["email"],
        "firstName": row["firstName"],
        "lastName": row["lastName"],
        "title": row["title"],
        "location": {"city": row["location.city"]},
        "customAttributes": {"seats": int(row["custom.seats"])},
        "propertyKeys": [product_key],
    }


def _request(base: str, key: str, method: str, path: str, body: dict[str, Any]) -> int:
    """One request on a brand-new connection, as the loader does."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request(
            method,
            path,
            body=json.dumps(body),
            headers={"X-APTRINSIC-API-Key": key, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def load_users(
    base_url: str, key: str, path: Path, product_key: str, *, limit: int | None = None
) -> dict[str, Any]:
    """Load the first `limit` rows of `path`; returns rows, requests, statuses and the wall time."""
    statuses: dict[int, int] = {}
    rows = requests = 0
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if limit is not None and rows >= limit:
                break
            user = row_to_user(row, product_key)
            status = _request(base_url, key, "PUT", f"/v1/users/{quote(user['identifyId'], safe='')}", user)
            requests += 1
            if status == 404:
                status = _request(base_url, key, "POST", "/v1/users", user)
                requests += 1
            statuses[status] = statuses.get(status, 0) + 1
            rows += 1
    seconds = time.perf_counter() - started
    return {"rows": rows, "requests": requests, "seconds": seconds, "statuses": statuses}
