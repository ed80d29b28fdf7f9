"""The daily request quota, on disk, shared by every batchgs process on the machine.

Gainsight counts requests per key over a rolling 24 hours (PX 1,000,000, CS 50,000). Several batchgs
processes may use one key at once, so the count lives in one SQLite file in the state folder (WAL mode,
busy timeout) and every reservation is an atomic check-and-add inside `BEGIN IMMEDIATE`. Rows are keyed
by `Secret.fingerprint()` and a scope ("px"/"cs") — never the key — and hold per-minute buckets; a
bucket counts until its whole minute is older than 24 hours, which errs on the safe side by < 1 minute.
"""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from batchgs.errors import QuotaExhausted

LEDGER_FILE = "quota-ledger.sqlite3"
DAY = 86_400.0
BUCKET = 60  # seconds per bucket

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    key TEXT NOT NULL, scope TEXT NOT NULL, minute INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (key, scope, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS limits (
    key TEXT NOT NULL, scope TEXT NOT NULL, daily_limit INTEGER NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (key, scope)
) WITHOUT ROWID;
"""


def ledger_path(state_dir: Path) -> Path:
    return Path(state_dir) / LEDGER_FILE


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def open_state_db(path: Path, *, create: bool, schema: str = _SCHEMA) -> sqlite3.Connection:
    """A SQLite file of the state folder shared by processes: owner-only, WAL, a long busy timeout."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if create:
                conn.executescript(schema)
            break
        except sqlite3.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.05)
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection, guard: threading.Lock) -> Iterator[sqlite3.Connection]:
    """One `BEGIN IMMEDIATE` transaction: the write lock up front, so check-then-write is atomic
    between processes; rolled back on any error."""
    with guard:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def exhausted_error(
    n: int, available_at: float, *, used: int, daily_limit: int, scope: str, key: str
) -> QuotaExhausted:
    """The one message for a spent daily quota, whichever ledger counted it."""
    if math.isinf(available_at):
        return QuotaExhausted(
            f"{n} requests are more than the daily limit of {daily_limit}",
            hint="raise --daily-limit if your subscription allows more, or split the work",
        )
    return QuotaExhausted(
        f"daily request quota reached: {used:,} of {daily_limit:,} requests used in the rolling "
        f"24 hours ({scope.upper()} key {key[:8]})",
        available_at=available_at,
        hint=f"capacity returns at {_when(available_at)}; resume then, or use --wait-for-quota",
    )


def _live_after(now: float) -> float:
    """Buckets with `minute` greater than this still count at `now`."""
    return (now - DAY) / BUCKET - 1


class QuotaLedger:
    """Requests used by one key (fingerprint) and scope in the rolling 24 hours, across processes."""

    def __init__(
        self,
        state_dir: Path,
        fingerprint: str,
        scope: str,
        daily_limit: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = ledger_path(state_dir)
        self.fingerprint = fingerprint
        self.scope = scope
        self.daily_limit = int(daily_limit)
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.Lock()
        self._conn = open_state_db(self.path, create=True)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO limits VALUES (?, ?, ?, ?) ON CONFLICT (key, scope) DO UPDATE "
                "SET daily_limit = excluded.daily_limit, updated_at = excluded.updated_at",
                (fingerprint, scope, self.daily_limit, clock()),
            )

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._conn, self._guard)

    def close(self) -> None:
        with self._guard:
            self._conn.close()

    def __enter__(self) -> QuotaLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------------
    def _used(self, conn: sqlite3.Connection, now: float) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(count), 0) FROM usage WHERE key = ? AND scope = ? AND minute > ?",
            (self.fingerprint, self.scope, _live_after(now)),
        ).fetchone()
        return int(row[0])

    def _available_at(self, conn: sqlite3.Connection, now: float, n: int) -> float:
        if n > self.daily_limit:
            return math.inf
        excess = self._used(conn, now) + n - self.daily_limit
        if excess <= 0:
            return now
        freed = 0
        for minute, count in conn.execute(
            "SELECT minute, count FROM usage WHERE key = ? AND scope = ? AND minute > ? ORDER BY minute",
            (self.fingerprint, self.scope, _live_after(now)),
        ):
            freed += count
            if freed >= excess:
                return float((minute + 1) * BUCKET + DAY)
        return now  # counts changed under us; the caller re-checks

    def used(self) -> int:
        """Requests counted in the rolling 24 hours (all processes)."""
        with self._guard:
            return self._used(self._conn, self._clock())

    def left(self) -> int:
        return max(0, self.daily_limit - self.used())

    def available_at(self, n: int = 1) -> float:
        """Epoch seconds when `n` more requests fit (now if they fit already; inf if n > the limit)."""
        with self._guard:
            return self._available_at(self._conn, self._clock(), n)

    # -- reserving ---------------------------------------------------------------------------------
    def try_reserve(self, n: int) -> tuple[bool, float]:
        """Atomically add `n` if they fit: (True, now) or (False, when they would fit)."""
        if n <= 0:
            return True, self._clock()
        got, at = self._reserve(n, upto=False)
        return got > 0, at

    def reserve_upto(self, n: int) -> tuple[int, float]:
        """Atomically reserve min(n, left) requests, at least 1: (how many, now), or (0, when 1 fits)."""
        return self._reserve(n, upto=True)

    def _reserve(self, n: int, *, upto: bool) -> tuple[int, float]:
        now = self._clock()
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM usage WHERE key = ? AND scope = ? AND minute <= ?",
                (self.fingerprint, self.scope, _live_after(now)),
            )
            used = self._used(conn, now)
            size = min(n, max(1, self.daily_limit - used)) if upto else n
            if used + size > self.daily_limit:
                return 0, self._available_at(conn, now, size)
            conn.execute(
                "INSERT INTO usage VALUES (?, ?, ?, ?) ON CONFLICT (key, scope, minute) "
                "DO UPDATE SET count = count + excluded.count",
                (self.fingerprint, self.scope, int(now // BUCKET), size),
            )
        return size, now

    # The async face shared with the Redis ledger (`share_redis.RedisLedger`); SQLite answers at once.
    async def reserve_upto_async(self, n: int) -> tuple[int, float]:
        return self.reserve_upto(n)

    async def refund_async(self, n: int, at: float) -> None:
        self.refund(n, at)

    async def left_async(self) -> int:
        return self.left()

    async def aclose(self) -> None:
        self.close()

    def exhausted(self, n: int, available_at: float) -> QuotaExhausted:
        return exhausted_error(
            n,
            available_at,
            used=self.used(),
            daily_limit=self.daily_limit,
            scope=self.scope,
            key=self.fingerprint,
        )

    def reserve(self, n: int = 1, *, wait: bool = False) -> None:
        """Count `n` requests, or raise QuotaExhausted (with `available_at`); with `wait`, sleep until
        the rolling window frees instead."""
        while True:
            ok, at = self.try_reserve(n)
            if ok:
                return
            if not wait or math.isinf(at):
                raise self.exhausted(n, at)
            self._sleep(max(0.05, at - self._clock()))

    def refund(self, n: int, at: float) -> None:
        """Give back `n` requests reserved at epoch `at` but never sent."""
        if n <= 0:
            return
        with self._transaction() as conn:
            conn.execute(
                "UPDATE usage SET count = MAX(0, count - ?) WHERE key = ? AND scope = ? AND minute = ?",
                (n, self.fingerprint, self.scope, int(at // BUCKET)),
            )


class Ledger(Protocol):
    """What `QuotaLease` needs: the SQLite `QuotaLedger` or the Redis `share_redis.RedisLedger`."""

    daily_limit: int

    async def reserve_upto_async(self, n: int) -> tuple[int, float]: ...

    async def refund_async(self, n: int, at: float) -> None: ...

    async def left_async(self) -> int: ...

    async def aclose(self) -> None: ...

    def exhausted(self, n: int, available_at: float) -> QuotaExhausted: ...


class QuotaLease:
    """Hands out the ledger's quota one request at a time while reserving it in small chunks, so that
    a busy run touches the shared ledger once per `chunk` requests. Unused reservations are refunded on
    `close()`; a crash leaves them counted, which is safe (at most `chunk` too many)."""

    def __init__(self, ledger: Ledger, *, chunk: int = 20) -> None:
        self.ledger = ledger
        self.chunk = max(1, chunk)
        self._held = 0
        self._held_at = 0.0
        self._refilling = asyncio.Lock()

    def take(self) -> None:
        """One request's worth of quota, or QuotaExhausted (SQLite ledger, outside an event loop)."""
        if self._held <= 0:
            assert isinstance(self.ledger, QuotaLedger)
            got, at = self.ledger.reserve_upto(self.chunk)
            if not got:
                raise self.ledger.exhausted(1, at)
            self._held, self._held_at = got, at
        self._held -= 1

    async def take_async(self, *, wait: bool = False) -> None:
        """Like `take`; with `wait`, sleep (without blocking the loop) until the window frees."""
        while True:
            if self._held > 0:
                self._held -= 1
                return
            async with self._refilling:
                if self._held > 0:
                    continue
                got, at = await self.ledger.reserve_upto_async(self.chunk)
                if got:
                    self._held, self._held_at = got, at
                    continue
            exc = self.ledger.exhausted(1, at)
            if not wait or exc.available_at is None:
                raise exc
            await asyncio.sleep(max(0.05, exc.available_at - time.time()))

    def close(self) -> None:
        if self._held > 0:
            assert isinstance(self.ledger, QuotaLedger)
            self.ledger.refund(self._held, self._held_at)
        self._held = 0

    async def aclose(self) -> None:
        held, self._held = self._held, 0
        await self.ledger.refund_async(held, self._held_at)


@dataclass(frozen=True)
class LedgerEntry:
    fingerprint: str
    scope: str
    used: int
    daily_limit: int
    left: int
    next_free_at: float | None  # epoch when the oldest counted bucket stops counting


def list_ledger_entries(state_dir: Path, *, now: float | None = None) -> list[LedgerEntry]:
    """Every key and scope the ledger knows, with use in the rolling 24 hours (for `batchgs quota`)."""
    path = ledger_path(state_dir)
    if not path.exists():
        return []
    now = time.time() if now is None else now
    conn = open_state_db(path, create=False)
    try:
        try:
            limits = conn.execute("SELECT key, scope, daily_limit FROM limits ORDER BY scope, key").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a first job is creating the ledger: nothing counted yet
                return []
            raise
        entries = []
        for key, scope, limit in limits:
            used, oldest = conn.execute(
                "SELECT COALESCE(SUM(count), 0), MIN(minute) FROM usage "
                "WHERE key = ? AND scope = ? AND minute > ? AND count > 0",
                (key, scope, _live_after(now)),
            ).fetchone()
            next_free = float((oldest + 1) * BUCKET + DAY) if oldest is not None else None
            entries.append(
                LedgerEntry(key, scope, int(used), int(limit), max(0, int(limit) - int(used)), next_free)
            )
        return entries
    finally:
        conn.close()
