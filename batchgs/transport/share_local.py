"""The share board of one machine: a SQLite file in the state folder, no set-up.

Every tick is one `BEGIN IMMEDIATE` transaction (read the pool's records, `plan_tick`, write), so the
board's invariant holds between processes. Times are this machine's wall clock, shared by its processes.
Rows hold hashes and counts only: the pool id (a hash of the key's fingerprint and base URL), the
fingerprint, the base URL, and per job its host name, process id and run label.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from batchgs.transport.ledger import immediate, open_state_db
from batchgs.transport.share import BoardView, JobRecord, TickInput, plan_tick

BOARD_FILE = "shared-limiter.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    pool TEXT NOT NULL, job TEXT NOT NULL, record TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (pool, job)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pools (
    pool TEXT PRIMARY KEY, scope TEXT NOT NULL, fingerprint TEXT NOT NULL, base_url TEXT NOT NULL,
    capacity INTEGER NOT NULL, window REAL NOT NULL, updated_at REAL NOT NULL
) WITHOUT ROWID;
"""


def board_path(state_dir: Path) -> Path:
    return Path(state_dir) / BOARD_FILE


class LocalShareBoard:
    """The jobs of one pool (key + base URL) on this machine."""

    def __init__(
        self,
        state_dir: Path,
        pool: str,
        *,
        scope: str,
        fingerprint: str,
        base_url: str,
        capacity: int,
        window: float,
        stale_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.capacity = capacity
        self.window = window
        self.stale_after = stale_after
        self._clock = clock
        self._guard = threading.Lock()
        self._conn = open_state_db(board_path(state_dir), create=True, schema=_SCHEMA)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO pools VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pool) DO UPDATE SET "
                "capacity = excluded.capacity, window = excluded.window, updated_at = excluded.updated_at",
                (pool, scope, fingerprint, base_url, capacity, window, clock()),
            )

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._conn, self._guard)

    def tick_now(self, me: TickInput) -> JobRecord:
        """One atomic plan on the board (blocking; `tick` runs it off the event loop)."""
        with self._transaction() as conn:
            now = self._clock()
            records = {
                job: JobRecord.from_json(json.loads(text))
                for job, text in conn.execute("SELECT job, record FROM jobs WHERE pool = ?", (self.pool,))
            }
            mine, _alive, expired = plan_tick(
                records,
                me,
                now=now,
                capacity=self.capacity,
                window=self.window,
                stale_after=self.stale_after,
            )
            conn.executemany("DELETE FROM jobs WHERE pool = ? AND job = ?", [(self.pool, j) for j in expired])
            conn.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)",
                (self.pool, me.job, json.dumps(mine.to_json()), mine.expires),
            )
        return mine

    async def tick(self, me: TickInput) -> JobRecord:
        return await asyncio.to_thread(self.tick_now, me)

    async def leave(self, me: TickInput) -> None:
        await asyncio.to_thread(self.tick_now, me)

    async def close(self) -> None:
        with self._guard:
            self._conn.close()


def list_local_pools(state_dir: Path, *, now: float | None = None) -> list[tuple[str, str, BoardView]]:
    """(fingerprint, base URL, view) of every pool with a live job on this machine, for `batchgs quota`."""
    path = board_path(state_dir)
    if not path.exists():
        return []
    now = time.time() if now is None else now
    conn = open_state_db(path, create=False)
    try:
        pools = conn.execute(
            "SELECT pool, scope, fingerprint, base_url, capacity, window FROM pools"
        ).fetchall()
        views = []
        for pool, scope, fingerprint, base_url, capacity, window in pools:
            jobs = [
                JobRecord.from_json(json.loads(text))
                for (text,) in conn.execute(
                    "SELECT record FROM jobs WHERE pool = ? AND expires > ? ORDER BY job", (pool, now)
                )
            ]
            if jobs:
                views.append(
                    (fingerprint, base_url, BoardView(pool, scope, int(capacity), float(window), jobs))
                )
        return views
    finally:
        conn.close()
