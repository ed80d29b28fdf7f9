"""The first request of every PX run: a cheap authenticated GET that proves the key and the region before
anything is written, so a wrong key stops the run with a clear hint instead of failing every row."""

from __future__ import annotations

from typing import Any

from batchgs.errors import FatalApiError
from batchgs.transport.result import Outcome


async def preflight(client: Any) -> None:
    """Raise FatalApiError (exit 4, resumable) when the API refuses the key."""
    result = await client.request("GET", "/v1/users", params={"pageSize": 1})
    if result.outcome is Outcome.FATAL:
        raise FatalApiError(
            f"the API refused the key (HTTP {result.status}): {result.message}",
            status=result.status,
            hint="check GAINSIGHT_PX_API_KEY and --region/--base-url",
        )
