"""The run folder's checkpoint: what each row came to, the input's fingerprint, options and counters.

Storage is one SQLite database, `journal.sqlite3`, in WAL mode with `synchronous=FULL`:

* Every call that changes state (`record`, `set_status`, `add_counters`, `set_progress`) is one
  transaction. A transaction that returned is in the WAL file; a `kill -9` of the process cannot lose it
  (the bytes are in the kernel's page cache and SQLite replays the WAL on the next open), and a torn,
  half-written transaction is ignored on replay, so readers always see a prefix of the committed ones.
* `synchronous=NORMAL` would already be enough for `kill -9`, but not for a power cut or an OS crash,
  which can drop the last transactions. FULL fsyncs the WAL at each commit, so an acknowledged row
  survives those too. The engine records in batches (every ~N rows or ~0.2 s), so that is a handful of
  fsyncs per second: the price is negligible next to the network. An export, whose journal holds only
  what can be fetched again, runs with NORMAL (`relax_durability`): it checkpoints after every page.

The folder is 0700 and its files 0600 (they hold emails and names). Options are stored to make a run
resumable and are refused when a key looks like a credential: a secret never reaches the disk.
An advisory lock (`journal.lock`, flock) keeps two processes from driving the same run at once; it is
released by the kernel when a process dies, so a killed run can be resumed at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from batchgs._version import __version__
from batchgs.errors import NotResumableError, OutputFileError, UsageError
from batchgs.run.folder import (
    FILE_MODE,
    LOCK_FILE,
    InputFingerprint,
    RunFolderBusyError,
    acquire_run_lock,
    check_options,
    create_private_file,
    fingerprint_file,
    make_private_dir,
    release_run_lock,
)
from batchgs.run.outcomes import ROW_STATUSES, RowCounts, RowOutcome, RowStatus
from batchgs.run.rowset import RowSet
from batchgs.run.transactions import immediate

__all__ = [
    "JOURNAL_FILE",
    "InputFingerprint",
    "Journal",
    "RowCounts",
    "RowOutcome",
    "RowSet",
    "RunFolderBusyError",
    "RunMeta",
]

JOURNAL_FILE = "journal.sqlite3"
SCHEMA_VERSION = 2  # 1 kept the run's facts as text in `meta`; 2 keeps them typed in `run`
READABLE_VERSIONS = ("1", "2")
MESSAGE_LIMIT = 4000  # transport already cuts bodies; this only bounds the database

RunKind = Literal["import", "export", "optout", "undo"]
RunStatus = Literal["running", "completed", "paused", "aborted"]
RUN_KINDS: tuple[str, ...] = get_args(RunKind)
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)

_ROW_COLUMNS = "row, status, op, key, code, message, http_status, transient"
_ROW_SLOTS = ", ".join("?" * 8)
_SET_PROGRESS = "INSERT OR REPLACE INTO progress(name, value) VALUES (?, ?)"
_RUN_TABLE = """
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    input_path TEXT,
    input_size INTEGER,
    input_sha256 TEXT,
    options TEXT NOT NULL,
    batchgs_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    segment_started_at TEXT,
    last_activity_at TEXT NOT NULL,
    active_seconds REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    status_reason TEXT,
    finished_at TEXT
)
"""
_SCHEMA = (
    _RUN_TABLE
    + """;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    op TEXT,
    key TEXT,
    code TEXT,
    message TEXT,
    http_status INTEGER,
    transient INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS progress (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
)


@dataclass(frozen=True, slots=True)
class RunMeta:
    kind: str
    entity: str
    input_path: str | None
    input_fingerprint: InputFingerprint | None
    options: dict[str, Any]
    batchgs_version: str
    created_at: str


@dataclass(frozen=True, slots=True)
class RunRow:
    """The journal's one `run` row, typed as stored (no text to parse back)."""

    kind: str
    entity: str
    input_path: str | None
    input_size: int | None
    input_sha256: str | None
    options: str
    batchgs_version: str
    created_at: str
    started_at: str
    segment_started_at: str | None
    last_activity_at: str
    active_seconds: float
    status: str
    status_reason: str | None
    finished_at: str | None

    @classmethod
    def from_legacy(cls, meta: Mapping[str, str]) -> RunRow:
        """A format-1 journal's text `meta` as a row (its empty strings meant "none")."""
        size = meta.get("input_size") or None
        return cls(
            kind=meta["kind"],
            entity=meta["entity"],
            input_path=meta.get("input_path") or None,
            input_size=int(size) if size is not None else None,
            input_sha256=meta.get("input_sha256") or None,
            options=meta["options"],
            batchgs_version=meta.get("batchgs_version", ""),
            created_at=meta.get("created_at", ""),
            started_at=meta["started_at"],
            segment_started_at=meta.get("segment_started_at") or None,
            last_activity_at=meta.get("last_activity_at") or meta["started_at"],
            active_seconds=float(meta.get("active_seconds") or 0),
            status=meta["status"],
            status_reason=meta.get("status_reason") or None,
            finished_at=meta.get("finished_at") or None,
        )


_RUN_FIELDS = tuple(RunRow.__dataclass_fields__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


class Journal:
    """One run folder's checkpoint. Build with `Journal.create` (new run) or `Journal.open` (resume/status).

    Safe to call from any single thread at a time (the engine's event loop thread); an internal lock
    makes concurrent calls from other threads serialise rather than corrupt. Every call is short: one
    small transaction.
    """

    def __init__(self, run_dir: Path, connection: sqlite3.Connection, lock_fd: int | None) -> None:
        self.run_dir = run_dir
        self.path = run_dir / JOURNAL_FILE
        self._db = connection
        self._lock_fd = lock_fd
        self._mutex = threading.Lock()
        self._closed = False
        self._legacy: RunRow | None = None  # a format-1 journal opened read-only: its facts, as a row

    # ----------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        run_dir: Path | str,
        *,
        kind: RunKind,
        entity: str,
        input_path: Path | str | None,
        options: Mapping[str, Any],
        batchgs_version: str = __version__,
    ) -> Journal:
        """Start a new run in `run_dir` (created 0700). Refuses a non-empty folder."""
        run_dir = Path(run_dir)
        if kind not in RUN_KINDS:
            raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}")
        check_options(options)
        try:
            options_json = json.dumps(dict(options), sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"run options must be JSON-serialisable: {exc}") from None
        if run_dir.exists():
            if not run_dir.is_dir():
                raise OutputFileError(f"{run_dir}: exists and is not a folder")
            if any(run_dir.iterdir()):
                hint = (
                    f"continue it with: batchgs resume {run_dir}"
                    if (run_dir / JOURNAL_FILE).exists()
                    else "choose another --run-dir, or let batchgs pick a new one"
                )
                raise OutputFileError(f"{run_dir}: run folder exists and is not empty", hint=hint)
        fingerprint: InputFingerprint | None = None
        input_text: str | None = None
        if input_path is not None:
            input_abs = Path(input_path).resolve()
            try:
                fingerprint = fingerprint_file(input_abs)
            except OSError as exc:
                raise UsageError(f"{input_path}: cannot read input file: {exc.strerror or exc}") from None
            input_text = str(input_abs)
        now = _now()
        row = RunRow(
            kind=kind,
            entity=entity,
            input_path=input_text,
            input_size=fingerprint.size if fingerprint else None,
            input_sha256=fingerprint.sha256 if fingerprint else None,
            options=options_json,
            batchgs_version=batchgs_version,
            created_at=now,
            started_at=now,
            segment_started_at=now,
            last_activity_at=now,
            active_seconds=0.0,
            status="running",
            status_reason=None,
            finished_at=None,
        )
        make_private_dir(run_dir)
        lock_fd = acquire_run_lock(run_dir)
        try:
            db = _create_complete(run_dir, row)
        except BaseException:
            release_run_lock(lock_fd)
            raise
        journal = cls(run_dir, db, lock_fd)
        journal._secure_files()
        return journal

    @classmethod
    def open(cls, run_dir: Path | str, *, lock: bool = True) -> Journal:
        """Open an existing run for resume (`lock=True`) or for reading its status (`lock=False`).

        Raises NotResumableError when the folder or checkpoint is missing, unreadable or corrupt, and
        RunFolderBusyError when another live process drives the run.
        """
        run_dir = Path(run_dir)
        path = run_dir / JOURNAL_FILE
        if not run_dir.is_dir():
            raise NotResumableError(f"{run_dir}: no such run folder")
        if not path.is_file():
            raise NotResumableError(f"{run_dir}: not a batchgs run folder (no {JOURNAL_FILE})")
        lock_fd = acquire_run_lock(run_dir) if lock else None
        try:
            db = _connect(path, create_schema=False)
            journal = cls(run_dir, db, lock_fd)
        except sqlite3.Error as exc:
            release_run_lock(lock_fd)
            raise NotResumableError(f"{path}: checkpoint is corrupt or unreadable ({exc})") from None
        except BaseException:
            release_run_lock(lock_fd)
            raise
        try:
            journal._validate(upgrade=lock)
        except BaseException:
            journal.close()
            raise
        return journal

    def _validate(self, *, upgrade: bool) -> None:
        try:
            check = self._db.execute("PRAGMA quick_check(1)").fetchone()
            if not check or check[0] != "ok":
                raise NotResumableError(
                    f"{self.path}: checkpoint is corrupt ({check[0] if check else 'no answer'})"
                )
            meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise NotResumableError(f"{self.path}: checkpoint is corrupt or unreadable ({exc})") from None
        version = meta.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise NotResumableError(
                f"{self.path}: checkpoint format {version!r} is not supported "
                f"(this batchgs reads formats {', '.join(READABLE_VERSIONS)})"
            )
        legacy = version == "1"
        missing = {"kind", "entity", "options", "status", "started_at"} - set(meta) if legacy else set()
        missing_tables = {"rows", "counters", "progress", *(() if legacy else ("run",))} - tables
        if missing or missing_tables:
            raise NotResumableError(
                f"{self.path}: checkpoint is incomplete (missing {sorted(missing | missing_tables)})"
            )
        if not legacy:
            if self._run() is None:
                raise NotResumableError(f"{self.path}: checkpoint is incomplete (missing the run row)")
        elif upgrade:  # the run is ours (locked): keep its facts typed from now on
            with self._transaction() as cur:
                cur.execute(_RUN_TABLE)
                _insert_run(cur, RunRow.from_legacy(meta))
                cur.execute("DELETE FROM meta WHERE name != 'schema_version'")
                cur.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))
        else:  # read-only (status of a run an older batchgs may still drive): read, never write
            self._legacy = RunRow.from_legacy(meta)

    # ----------------------------------------------------------------- input
    @property
    def meta(self) -> RunMeta:
        m = self._row()
        fingerprint = (
            InputFingerprint(size=m.input_size, sha256=m.input_sha256)
            if m.input_sha256 and m.input_size is not None
            else None
        )
        return RunMeta(
            kind=m.kind,
            entity=m.entity,
            input_path=m.input_path,
            input_fingerprint=fingerprint,
            options=json.loads(m.options),
            batchgs_version=m.batchgs_version,
            created_at=m.created_at,
        )

    def check_input(self, path: Path | str) -> None:
        """Raise NotResumableError unless `path` has exactly the content the run started with."""
        expected = self.meta.input_fingerprint
        if expected is None:
            raise NotResumableError(f"{self.run_dir}: this run has no input file to compare with")
        try:
            actual = fingerprint_file(Path(path))
        except FileNotFoundError:
            raise NotResumableError(
                f"{path}: input file not found", hint="restore the original file"
            ) from None
        except OSError as exc:
            raise NotResumableError(f"{path}: cannot read input file: {exc.strerror or exc}") from None
        hint = (
            "resume needs the exact file the run started with; start a new run with batchgs import otherwise"
        )
        if actual.size != expected.size:
            raise NotResumableError(
                f"{path}: input file changed since the run started (size was {expected.size:,} bytes, "
                f"now {actual.size:,})",
                hint=hint,
            )
        if actual.sha256 != expected.sha256:
            raise NotResumableError(
                f"{path}: input file changed since the run started (same size, different content: "
                f"SHA-256 was {expected.sha256[:12]}…, now {actual.sha256[:12]}…)",
                hint=hint,
            )

    # ----------------------------------------------------------------- rows
    def record(self, outcomes: Iterable[RowOutcome], *, counters: Mapping[str, int] | None = None) -> int:
        """Store outcomes (a later outcome for a row replaces the earlier) in ONE transaction.

        `counters`, when given, are added in the same transaction. Returns the number of outcomes.
        Once this returns, the outcomes survive kill -9 and power loss.
        """
        params = [_outcome_params(o) for o in outcomes]
        with self._transaction() as cur:
            cur.executemany(
                f"INSERT OR REPLACE INTO rows({_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", params
            )
            if counters:
                _add_counters(cur, counters)
            cur.execute("UPDATE run SET last_activity_at = ?", (_now(),))
        return len(params)

    def forget(self, rows: Iterable[int]) -> None:
        """Drop the outcomes of `rows` so they count as pending again (a write-ahead mark whose
        request never left: quota reached or key refused before sending)."""
        params = [(row,) for row in rows]
        with self._transaction() as cur:
            cur.executemany("DELETE FROM rows WHERE row = ?", params)

    def done_rows(self) -> RowSet:
        """Rows never to send again: succeeded, invalid, uncertain, and failed for a lasting reason."""
        return self._row_set("SELECT row FROM rows WHERE status != 'failed' OR transient = 0")

    def rows_to_retry(self, transient_only: bool = True) -> RowSet:
        """Failed rows worth sending again: transient failures only, or every failure."""
        where = "status = 'failed' AND transient = 1" if transient_only else "status = 'failed'"
        return self._row_set(f"SELECT row FROM rows WHERE {where}")

    def uncertain_rows(self) -> RowSet:
        """Non-idempotent rows whose fate is unknown: re-sent only on explicit request."""
        return self._row_set("SELECT row FROM rows WHERE status = 'uncertain'")

    def counts(self) -> RowCounts:
        with self._mutex:
            found = self._db.execute(
                "SELECT status, SUM(transient), COUNT(*) FROM rows GROUP BY status"
            ).fetchall()
        by_status = {status: (count, transient or 0) for status, transient, count in found}
        return RowCounts(
            succeeded=by_status.get("succeeded", (0, 0))[0],
            failed=by_status.get("failed", (0, 0))[0],
            invalid=by_status.get("invalid", (0, 0))[0],
            uncertain=by_status.get("uncertain", (0, 0))[0],
            failed_transient=by_status.get("failed", (0, 0))[1],
        )

    def operation_counts(self) -> dict[str, int]:
        """Succeeded rows per operation (created, updated, ...)."""
        with self._mutex:
            found = self._db.execute(
                "SELECT COALESCE(op, ''), COUNT(*) FROM rows WHERE status = 'succeeded' GROUP BY op"
            ).fetchall()
        return {op: count for op, count in found}

    def iter_outcomes(
        self, status: RowStatus | Iterable[RowStatus] | None = None, *, chunk: int = 2000
    ) -> Iterator[RowOutcome]:
        """Outcomes ordered by row, read in chunks (flat memory; safe to interleave with `record`)."""
        statuses: tuple[str, ...] = (
            () if status is None else (status,) if isinstance(status, str) else tuple(status)
        )
        where = f" AND status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        sql = f"SELECT {_ROW_COLUMNS} FROM rows WHERE row > ?{where} ORDER BY row LIMIT ?"
        last = -1
        while True:
            with self._mutex:
                batch = self._db.execute(sql, (last, *statuses, chunk)).fetchall()
            yield from map(_to_outcome, batch)
            if len(batch) < chunk:
                return
            last = batch[-1][0]

    def get_outcome(self, row: int) -> RowOutcome | None:
        with self._mutex:
            found = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM rows WHERE row = ?", (row,)).fetchone()
        return None if found is None else _to_outcome(found)

    # ----------------------------------------------------------------- run level
    @property
    def status(self) -> str:
        return self._row().status

    @property
    def status_reason(self) -> str | None:
        return self._row().status_reason

    @property
    def started_at(self) -> str:
        return self._row().started_at

    @property
    def finished_at(self) -> str | None:
        return self._row().finished_at

    def set_status(self, status: RunStatus, reason: str | None = None) -> None:
        """Move the run to `status`. Time spent running is summed across resumes (`active_seconds`).

        Going back to "running" (a resume) after a crash that never left "running" counts the crashed
        segment up to its last recorded activity.
        """
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
        now = _now()
        with self._transaction() as cur:
            active, segment, last = cur.execute(
                "SELECT active_seconds, segment_started_at, last_activity_at FROM run"
            ).fetchone()
            if segment:
                end = last if status == "running" else now
                active += max(0.0, (_parse_time(end) or 0) - (_parse_time(segment) or 0))
            cur.execute(
                "UPDATE run SET status = ?, status_reason = ?, active_seconds = ?, segment_started_at = ?, "
                "last_activity_at = ?, finished_at = ?",
                (
                    status,
                    reason or None,
                    round(active, 3),
                    now if status == "running" else None,
                    now,
                    None if status == "running" else now,
                ),
            )

    def active_seconds(self) -> float:
        """Seconds spent running, over every segment; includes the current one if running."""
        m = self._row()
        active = m.active_seconds
        if m.segment_started_at:
            active += max(0.0, time.time() - (_parse_time(m.segment_started_at) or time.time()))
        return active

    def add_counters(self, **amounts: int) -> None:
        """Add to run counters (requests=, responses_429=, retries=, or any other name)."""
        if amounts:
            with self._transaction() as cur:
                _add_counters(cur, amounts)

    def counters(self) -> dict[str, int]:
        with self._mutex:
            found = self._db.execute("SELECT name, value FROM counters ORDER BY name").fetchall()
        return {name: value for name, value in found}

    def set_progress(self, name: str, value: Any) -> None:
        """Store JSON-serialisable progress (exports: pages written per slice, cursors, ...)."""
        self._write_one(_SET_PROGRESS, (name, _progress_text(value)))

    def set_progress_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Store several progress values in ONE transaction: all or none of them survive a crash (an
        export's plan and its 64 parts were 65 commits, ~13 ms before its first page was asked for)."""
        params = [(name, _progress_text(value)) for name, value in items]
        with self._transaction() as cur:
            cur.executemany(_SET_PROGRESS, params)

    def relax_durability(self) -> None:
        """Commit without fsync from now on (`synchronous=NORMAL`: a `kill -9` still loses nothing, a
        power cut may lose the last transactions). For runs whose journal holds only what can be read
        again, exports: waiting for the disk after every page held the event loop ~2 ms a page."""
        with self._mutex:
            self._db.execute("PRAGMA synchronous=NORMAL")

    def get_progress(self, name: str, default: Any = None) -> Any:
        with self._mutex:
            found = self._db.execute("SELECT value FROM progress WHERE name = ?", (name,)).fetchone()
        return json.loads(found[0]) if found else default

    # ----------------------------------------------------------------- lifecycle
    def flush(self) -> None:
        """Fold the WAL into the database file when nobody reads (every commit is already durable)."""
        with self._mutex:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Checkpoint, close and release the run lock. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._mutex:
            try:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            finally:
                release_run_lock(self._lock_fd)
                self._lock_fd = None
        self._secure_files()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Cursor]:
        if self._closed:
            raise ValueError("journal is closed")
        return immediate(self._db, self._mutex)

    def _write_one(self, sql: str, params: tuple[Any, ...]) -> None:
        """One statement, its own transaction (SQLite makes each statement atomic outside BEGIN): one
        call where BEGIN IMMEDIATE ... COMMIT took three. An export checkpoints every page, and each
        call gives up the GIL and waits to take it back from the parsing threads (~0.7 ms a call)."""
        if self._closed:
            raise ValueError("journal is closed")
        with self._mutex:
            self._db.execute(sql, params)

    def _run(self) -> RunRow | None:
        with self._mutex:
            found = self._db.execute(f"SELECT {', '.join(_RUN_FIELDS)} FROM run WHERE id = 1").fetchone()
        return None if found is None else RunRow(*found)

    def _row(self) -> RunRow:
        """The run's facts: the `run` row, or a read-only format-1 journal's converted meta."""
        if self._legacy is not None:
            return self._legacy
        found = self._run()
        if found is None:
            raise NotResumableError(f"{self.path}: checkpoint is incomplete (missing the run row)")
        return found

    def _row_set(self, sql: str) -> RowSet:
        with self._mutex:
            return RowSet(row for (row,) in self._db.execute(sql))

    def _secure_files(self) -> None:
        """SQLite makes -wal/-shm with the database's mode; chmod again in case a umask interfered."""
        for name in (JOURNAL_FILE, f"{JOURNAL_FILE}-wal", f"{JOURNAL_FILE}-shm", LOCK_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.run_dir / name, FILE_MODE)


def _progress_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _outcome_params(o: RowOutcome) -> tuple[Any, ...]:
    if o.status not in ROW_STATUSES:
        raise ValueError(f"row {o.row}: status must be one of {ROW_STATUSES}, got {o.status!r}")
    message = o.message[:MESSAGE_LIMIT] if o.message else o.message
    return (int(o.row), o.status, o.op, o.key, o.code, message, o.http_status, int(bool(o.transient)))


def _to_outcome(found: tuple[Any, ...]) -> RowOutcome:
    row, status, op, key, code, message, http_status, transient = found
    return RowOutcome(row, status, op, key, code, message, http_status, bool(transient))


def _create_complete(run_dir: Path, row: RunRow) -> sqlite3.Connection:
    """The journal file appears complete or not at all: it is built under a temporary name (schema
    and run row in one transaction), closed, then renamed. `batchgs status` on a run that is just
    starting never meets a database without its tables."""
    final, building = run_dir / JOURNAL_FILE, run_dir / f"{JOURNAL_FILE}.new"
    create_private_file(building, exclusive=True)
    db = _connect(building)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO meta(name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        _insert_run(db.cursor(), row)
        db.execute("COMMIT")
    finally:
        db.close()  # the last connection: SQLite folds the WAL into the file and removes it
    os.replace(building, final)
    return _connect(final, create_schema=False)


def _insert_run(cur: sqlite3.Cursor, row: RunRow) -> None:
    values = [getattr(row, name) for name in _RUN_FIELDS]
    cur.execute(
        f"INSERT INTO run(id, {', '.join(_RUN_FIELDS)}) VALUES (1, {', '.join('?' * len(values))})", values
    )


def _add_counters(cur: sqlite3.Cursor, amounts: Mapping[str, int]) -> None:
    cur.executemany(
        "INSERT INTO counters(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        [(name, int(amount)) for name, amount in amounts.items()],
    )


def _connect(path: Path, *, create_schema: bool = True) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly one call.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"cannot switch to WAL mode (got {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=OFF")
        if create_schema:
            db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db
