"""One write transaction on a run folder's SQLite files (the journal, the before-images).

`BEGIN IMMEDIATE` takes the write lock up front, so a reader never sees half of it and another process
waits instead of failing mid-way; a thread lock serialises the threads of this process on the shared
connection. `synced=False` relaxes the fsync for bulk data that can be read again (list pages),
never for outcomes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def immediate(
    db: sqlite3.Connection, mutex: threading.Lock, *, synced: bool = True
) -> Iterator[sqlite3.Cursor]:
    with mutex:
        cur = db.cursor()
        if not synced:
            cur.execute("PRAGMA synchronous=NORMAL")
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        finally:
            if not synced:
                cur.execute("PRAGMA synchronous=FULL")
