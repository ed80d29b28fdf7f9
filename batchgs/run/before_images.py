"""`before_images.sqlite3`: what a users/accounts run found, wrote and changed — what `undo` needs.

Three tables, each written in one transaction per batch of rows BEFORE those rows are sent (write-ahead),
so a `kill -9` at any moment leaves every acknowledged write with its before-image on disk:
- `images`: the record as Gainsight held it when the run first read it (NULL: it did not exist). The
  first image of a key is kept forever (`INSERT OR IGNORE`): a resumed run reads records it may already
  have written, and those must never replace the true "before".
- `written`: per input row, the key and the payload the row sends (what undo checks for conflicts).
- `changes`: the `--changed-only` diff, one line per changed field, for changes.csv.
- `details`: per row, what a report needs beyond the outcome (undo: the three values of a conflict).
A separate file from the journal (same durability: WAL, synchronous=FULL, 0600) keeps the journal's
schema untouched and lets `undo` read a run folder without taking its lock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from batchgs import fastjson
from batchgs.run.folder import FILE_MODE, create_private_file, make_private_dir
from batchgs.run.transactions import immediate

BEFORE_IMAGES_FILE = "before_images.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, record TEXT);
CREATE TABLE IF NOT EXISTS written (row INTEGER PRIMARY KEY, key TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS details (row INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    row INTEGER NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,
    field TEXT NOT NULL, before TEXT, after TEXT, PRIMARY KEY (row, seq)
);
"""
_IN_CHUNK = 500  # keys per `IN (...)` (SQLite allows 999 parameters on old builds)

ChangeLine = tuple[int, str, str, str, Any, Any]  # row, key, action, field, before, after


def _dump(value: Any) -> str:
    """Compact JSON text, by orjson (a 100,000-record list pass is stored in a fraction of a second).
    A value orjson cannot write (an integer beyond 64 bits) is written by the stdlib behind a leading
    space, so `_load` knows which parser keeps every digit without scanning each text for long numbers."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return " " + fastjson.dumps(value).decode("utf-8")


def _load(text: str) -> Any:
    return fastjson.loads(text.encode("utf-8")) if text.startswith(" ") else orjson.loads(text)


class BeforeImages:
    """The before-images of one run folder. Open with `create` (a new run) or `open` (resume, undo)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._mutex = threading.Lock()

    @classmethod
    def create(cls, run_dir: Path, *, entity: str, key_field: str) -> BeforeImages:
        make_private_dir(Path(run_dir))
        path = Path(run_dir) / BEFORE_IMAGES_FILE
        if not path.exists():
            create_private_file(path, exclusive=True)
        store = cls(path, _connect(path))
        with store._transaction() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO meta(name, value) VALUES (?, ?)",
                [("entity", entity), ("key_field", key_field), ("complete", "0")],
            )
        return store

    @classmethod
    def open(cls, run_dir: Path) -> BeforeImages | None:
        """The store of `run_dir`, or None when the run kept no before-images."""
        path = Path(run_dir) / BEFORE_IMAGES_FILE
        if not path.is_file():
            return None
        return cls(path, _connect(path))

    # ------------------------------------------------------------------------------------- meta
    def meta(self, name: str, default: str = "") -> str:
        with self._mutex:
            found = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(found[0]) if found else default

    def set_meta(self, name: str, value: str) -> None:
        with self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))

    @property
    def key_field(self) -> str:
        return self.meta("key_field")

    @property
    def complete(self) -> bool:
        """True once every key of the input has an image (a full list pass has been stored)."""
        return self.meta("complete") == "1"

    # ------------------------------------------------------------------------------------- images
    def add_images(
        self, images: Iterable[tuple[str, Mapping[str, Any] | None]], *, synced: bool = True
    ) -> int:
        """Keep the first image of each key; later ones are ignored. Returns the keys offered.

        `synced` False: committed without waiting for the disk (a list pass stores 100 pages of 1,000
        records: one fsync per page doubled its time). Safe because nothing is sent on those images
        alone: the batch that sends rows commits with a full sync (`add_batch`), and syncing the
        write-ahead log makes every earlier commit durable with it; a process killed meanwhile loses
        nothing committed."""
        params = [(key, None if record is None else _dump(record)) for key, record in images]
        with self._transaction(synced=synced) as cur:
            cur.executemany("INSERT OR IGNORE INTO images(key, record) VALUES (?, ?)", params)
        return len(params)

    def images(self, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """The stored images of `keys` (a key without an image is absent from the answer)."""
        found: dict[str, dict[str, Any] | None] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            sql = f"SELECT key, record FROM images WHERE key IN ({', '.join('?' * len(chunk))})"
            with self._mutex:
                rows = self._db.execute(sql, chunk).fetchall()
            found.update({key: None if record is None else _load(record) for key, record in rows})
        return found

    def image_count(self) -> int:
        with self._mutex:
            return int(self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    # ------------------------------------------------------------------------------------- writes
    def add_batch(
        self,
        *,
        written: Sequence[tuple[int, str, Mapping[str, Any]]] = (),
        changes: Sequence[ChangeLine] = (),
    ) -> None:
        """What a batch of rows is about to send, and its diff lines: one transaction, before sending."""
        with self._transaction() as cur:
            cur.executemany(
                "INSERT OR REPLACE INTO written(row, key, payload) VALUES (?, ?, ?)",
                [(row, key, _dump(payload)) for row, key, payload in written],
            )
            rows = sorted({line[0] for line in changes})
            cur.executemany("DELETE FROM changes WHERE row = ?", [(r,) for r in rows])
            seq: dict[int, int] = {}
            params = []
            for row, key, action, name, before, after in changes:
                seq[row] = seq.get(row, 0) + 1
                params.append((row, seq[row], key, action, name, _dump(before), _dump(after)))
            cur.executemany(
                "INSERT INTO changes(row, seq, key, action, field, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                params,
            )

    def written(self, rows: Iterable[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        found: dict[int, tuple[str, dict[str, Any]]] = {}
        wanted = list(rows)
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            sql = f"SELECT row, key, payload FROM written WHERE row IN ({', '.join('?' * len(chunk))})"
            with self._mutex:
                got = self._db.execute(sql, chunk).fetchall()
            found.update({row: (key, _load(payload)) for row, key, payload in got})
        return found

    def iter_written(self, *, chunk: int = 5000) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """Every (row, key, payload) in row order (flat memory)."""
        last = -1
        while True:
            with self._mutex:
                batch = self._db.execute(
                    "SELECT row, key, payload FROM written WHERE row > ? ORDER BY row LIMIT ?", (last, chunk)
                ).fetchall()
            for row, key, payload in batch:
                yield row, key, _load(payload)
            if len(batch) < chunk:
                return
            last = batch[-1][0]

    def add_details(self, details: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        with self._transaction() as cur:
            cur.executemany(
                "INSERT OR REPLACE INTO details(row, data) VALUES (?, ?)",
                [(row, _dump(data)) for row, data in details],
            )

    def details(self) -> dict[int, dict[str, Any]]:
        with self._mutex:
            rows = self._db.execute("SELECT row, data FROM details").fetchall()
        return {row: _load(data) for row, data in rows}

    def iter_changes(self, *, chunk: int = 5000) -> Iterator[ChangeLine]:
        """Every diff line in row order (flat memory)."""
        last = (-1, -1)
        sql = (
            "SELECT row, seq, key, action, field, before, after FROM changes "
            "WHERE (row, seq) > (?, ?) ORDER BY row, seq LIMIT ?"
        )
        while True:
            with self._mutex:
                batch = self._db.execute(sql, (*last, chunk)).fetchall()
            for row, _seq, key, action, name, before, after in batch:
                yield row, key, action, name, _load(before), _load(after)
            if len(batch) < chunk:
                return
            last = (batch[-1][0], batch[-1][1])

    # ------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        with self._mutex:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", FILE_MODE)

    def __enter__(self) -> BeforeImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, *, synced: bool = True) -> contextlib.AbstractContextManager[sqlite3.Cursor]:
        return immediate(self._db, self._mutex, synced=synced)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db
