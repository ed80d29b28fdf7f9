"""Which share board and daily ledger a client uses: the state folder's (every process of one machine,
no set-up) or Redis (`BATCHGS_COORDINATOR` / profile key `coordinator`: every machine).

`KeySharing.start()` runs before anything is sent: a board that cannot be reached is a ConfigError
(exit 2, nothing sent). Lost later, the keeper holds every grant and then stops the run (exit 4).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from batchgs.config import Coordinator, Settings
from batchgs.errors import ConfigError, CoordinatorLost
from batchgs.transport.ledger import Ledger, QuotaLedger, list_ledger_entries
from batchgs.transport.limiter import SlidingWindowLimiter
from batchgs.transport.share import BoardView, JobRecord, ShareBoard, ShareKeeper, pool_id
from batchgs.transport.share_local import LocalShareBoard, list_local_pools

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# Seconds past a window before a silent job's record (and claim) is dropped: longer than TICK +
# TICK_TIMEOUT, after which a job that lost the board has stopped granting (see share.py).
STALE_MARGIN = 3.0


def describe_coordinator(url: str) -> str:
    """`redis://host:port/db` without a user name, password or query: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or ''}"


def _unreachable(where: str, exc: BaseException) -> ConfigError:
    return ConfigError(
        f"cannot reach {where} ({type(exc).__name__}); nothing was sent",
        hint="start the coordinator or fix BATCHGS_COORDINATOR (profile key `coordinator`), then run again",
    )


def _board_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the board cannot be used", without importing redis when it is not used."""
    import sys

    redis_exceptions = sys.modules.get("redis.exceptions")
    extra = (redis_exceptions.RedisError,) if redis_exceptions is not None else ()
    return (OSError, sqlite3.Error, TimeoutError, *extra)


@dataclass
class KeySharing:
    """The ledger and the share keeper of one client, and the Redis connection they share."""

    ledger: Ledger | None
    keeper: ShareKeeper | None
    where: str
    redis: aioredis.Redis | None = None

    async def start(self) -> None:
        try:
            if self.keeper is not None:
                await self.keeper.start()
            elif self.redis is not None:
                await self.redis.ping()
        except _board_errors() as exc:
            await self.aclose()
            raise _unreachable(self.where, exc) from None

    async def aclose(self) -> None:
        if self.keeper is not None:
            await self.keeper.stop()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None


def open_sharing(
    settings: Settings,
    *,
    fingerprint: str,
    scope: str,
    base_url: str,
    limiter: SlidingWindowLimiter,
    daily_limit: int,
    use_ledger: bool,
    share: bool,
    label: str = "",
) -> KeySharing:
    """The board and ledger for one key at one API, from the settings."""
    pool = pool_id(fingerprint, base_url, scope)
    capacity = settings.key_rate if scope == "px" else settings.cs_per_minute
    stale_after = limiter.window + STALE_MARGIN
    if settings.coordinator:
        from batchgs.transport import share_redis

        where = f"the coordinator {describe_coordinator(settings.coordinator.url)}"
        client = share_redis.connect(settings.coordinator)
        meta = {"scope": scope, "fingerprint": fingerprint, "base_url": base_url}
        board: ShareBoard | None = None
        if share:
            board = share_redis.RedisShareBoard(
                client, pool, capacity=capacity, window=limiter.window, stale_after=stale_after, meta=meta
            )
        ledger: Ledger | None = None
        if use_ledger:
            ledger = share_redis.RedisLedger(
                client,
                pool,
                scope=scope,
                fingerprint=fingerprint,
                daily_limit=daily_limit,
                meta=meta,
                describe=where,
            )
        keeper = ShareKeeper(board, limiter, label=label, describe=where) if board is not None else None
        return KeySharing(ledger, keeper, where, client)
    where = f"the shared limiter in {settings.state_dir}"
    try:
        local_board = (
            LocalShareBoard(
                settings.state_dir,
                pool,
                scope=scope,
                fingerprint=fingerprint,
                base_url=base_url,
                capacity=capacity,
                window=limiter.window,
                stale_after=stale_after,
            )
            if share
            else None
        )
        ledger = QuotaLedger(settings.state_dir, fingerprint, scope, daily_limit) if use_ledger else None
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"cannot use the state folder {settings.state_dir} ({type(exc).__name__})"
        ) from None
    keeper = ShareKeeper(local_board, limiter, label=label, describe=where) if local_board else None
    return KeySharing(ledger, keeper, where)


def run_label(journal: Any) -> str:
    """How a run's job is named on the board: its run folder, absolute (what `batchgs status` looks up)."""
    run_dir = getattr(journal, "run_dir", None)
    return str(Path(run_dir).resolve()) if run_dir is not None else ""


def share_of_run(settings: Settings, run_dir: Path) -> tuple[JobRecord, BoardView] | None:
    """The running job of `run_dir` and the jobs it shares its key with, if it is running now."""
    label = str(Path(run_dir).resolve())
    for figures in pool_figures(settings):
        board = figures.board
        for job in board.jobs if board is not None else []:
            if board is not None and job.label == label and not job.ending:
                return job, board
    return None


# -- read side: `batchgs quota`, the quota share of a plan -------------------------------------------
@dataclass(frozen=True)
class PoolFigures:
    """One key at one API as `batchgs quota` shows it."""

    scope: str
    fingerprint: str
    base_url: str
    used: int | None
    daily_limit: int | None
    board: BoardView | None
    next_free_at: float | None = None  # epoch when the oldest counted request stops counting


def quota_left(settings: Settings, fingerprint: str, scope: str, daily_limit: int, base_url: str) -> int:
    """Requests left in the rolling 24 hours for this key (the coordinator's count when there is one)."""
    if not settings.coordinator:
        with QuotaLedger(settings.state_dir, fingerprint, scope, daily_limit) as ledger:
            return ledger.left()
    coordinator = settings.coordinator
    where = f"the coordinator {describe_coordinator(coordinator.url)}"

    async def ask() -> int:
        from batchgs.transport import share_redis

        client = share_redis.connect(coordinator)
        try:
            ledger = share_redis.RedisLedger(
                client,
                pool_id(fingerprint, base_url, scope),
                scope=scope,
                fingerprint=fingerprint,
                daily_limit=daily_limit,
                meta={"base_url": base_url},
                lost_after=0.0,
                describe=where,
            )
            return await ledger.left_async()
        finally:
            await client.aclose()

    try:
        return asyncio.run(ask())
    except CoordinatorLost as exc:  # lost_after=0: the first failure says it
        raise _unreachable(where, exc) from None
    except _board_errors() as exc:  # evaluated after the failure, once redis is imported
        raise _unreachable(where, exc) from None


def pool_figures(settings: Settings) -> list[PoolFigures]:
    """Every key known to the state folder (ledger and running jobs), or to the coordinator."""
    if settings.coordinator:
        return _redis_figures(settings.coordinator)
    boards = {(fp, view.scope): (url, view) for fp, url, view in list_local_pools(settings.state_dir)}
    figures = []
    for entry in list_ledger_entries(settings.state_dir):
        url, view = boards.pop((entry.fingerprint, entry.scope), ("", None))
        figures.append(
            PoolFigures(
                entry.scope, entry.fingerprint, url, entry.used, entry.daily_limit, view, entry.next_free_at
            )
        )
    for (fp, scope), (url, view) in boards.items():
        figures.append(PoolFigures(scope, fp, url, None, None, view))
    return figures


def _redis_figures(coordinator: Coordinator) -> list[PoolFigures]:
    async def ask() -> list[Any]:
        from batchgs.transport import share_redis

        client = share_redis.connect(coordinator)
        try:
            return await share_redis.list_pools(client)
        finally:
            await client.aclose()

    try:
        found = asyncio.run(ask())
    except _board_errors() as exc:
        raise _unreachable(f"the coordinator {describe_coordinator(coordinator.url)}", exc) from None
    return [
        PoolFigures(
            meta.get("scope", "?"),
            meta.get("fingerprint", "?"),
            meta.get("base_url", ""),
            used,
            int(meta["daily_limit"]) if meta.get("daily_limit") else None,
            view if view.jobs else None,
        )
        for meta, view, used in found
    ]
