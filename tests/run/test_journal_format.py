"""The run's facts are stored typed (one `run` row); a journal written in format 1 (text in `meta`,
by batchgs before this change) is still read by `status` and resumed, upgraded when resumed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from batchgs.run.folder import fingerprint_file
from batchgs.run.journal import JOURNAL_FILE, Journal, RowOutcome

V1_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE rows (row INTEGER PRIMARY KEY, status TEXT NOT NULL, op TEXT, key TEXT, code TEXT,
    message TEXT, http_status INTEGER, transient INTEGER NOT NULL DEFAULT 0);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE progress (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def write_v1_run(run_dir: Path, input_file: Path) -> None:
    """A paused import as format 1 stored it: every fact a string, "" for none."""
    run_dir.mkdir(mode=0o700)
    fingerprint = fingerprint_file(input_file)
    db = sqlite3.connect(run_dir / JOURNAL_FILE)
    db.executescript(V1_SCHEMA)
    meta = {
        "schema_version": "1",
        "kind": "import",
        "entity": "users",
        "input_path": str(input_file),
        "input_size": str(fingerprint.size),
        "input_sha256": fingerprint.sha256,
        "options": json.dumps({"mode": "upsert", "rate": 20.0}),
        "batchgs_version": "0.0.9",
        "created_at": "2026-11-01T10:00:00.000Z",
        "started_at": "2026-11-01T10:00:00.000Z",
        "segment_started_at": "",
        "last_activity_at": "2026-11-01T10:00:42.000Z",
        "active_seconds": "42.500",
        "status": "paused",
        "status_reason": "QuotaExhausted",
        "finished_at": "2026-11-01T10:00:42.000Z",
    }
    db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    db.execute("INSERT INTO rows VALUES (2, 'succeeded', 'created', 'u1', NULL, NULL, 201, 0)")
    db.commit()
    db.close()


def test_facts_are_stored_typed(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("identifyId\nu1\n")
    with Journal.create(
        tmp_path / "r", kind="import", entity="users", input_path=source, options={}
    ) as journal:
        journal.set_status("paused", reason="QuotaExhausted")
    db = sqlite3.connect(tmp_path / "r" / JOURNAL_FILE)
    size, active, reason = db.execute("SELECT input_size, active_seconds, status_reason FROM run").fetchone()
    assert (type(size), type(active), reason) == (int, float, "QuotaExhausted")
    assert db.execute("SELECT name FROM meta").fetchall() == [("schema_version",)]


def test_a_format_1_journal_is_read_as_is_then_upgraded_on_resume(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("identifyId\nu1\nu2\n")
    run_dir = tmp_path / "old-run"
    write_v1_run(run_dir, source)
    with Journal.open(run_dir, lock=False) as journal:  # `batchgs status`: reads, writes nothing
        assert journal.status == "paused" and journal.status_reason == "QuotaExhausted"
        assert journal.meta.options == {"mode": "upsert", "rate": 20.0}
        assert journal.meta.input_fingerprint == fingerprint_file(source)
        assert journal.active_seconds() == 42.5
    db = sqlite3.connect(run_dir / JOURNAL_FILE)
    assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("1",)
    db.close()

    with Journal.open(run_dir) as journal:  # `batchgs resume`: the run is upgraded, then goes on
        journal.check_input(source)
        journal.set_status("running")
        journal.record([RowOutcome(3, "succeeded", op="created", key="u2", http_status=201)])
        journal.set_status("completed")
        assert journal.counts().succeeded == 2
        assert journal.meta.batchgs_version == "0.0.9" and journal.status_reason is None
        assert journal.active_seconds() >= 42.5
    with Journal.open(run_dir, lock=False) as journal:
        assert journal.status == "completed" and journal.finished_at is not None
    db = sqlite3.connect(run_dir / JOURNAL_FILE)
    assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("2",)


def test_the_journal_file_appears_only_complete(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """While the run row is written the journal is still under its temporary name, so `status` on a
    run that is starting never opens a database without its tables."""
    import batchgs.run.journal as journal_module

    seen: list[bool] = []
    real_insert = journal_module._insert_run

    def spy(cur, row):  # type: ignore[no-untyped-def]
        seen.append((tmp_path / "r" / JOURNAL_FILE).exists())
        real_insert(cur, row)

    monkeypatch.setattr(journal_module, "_insert_run", spy)
    with Journal.create(tmp_path / "r", kind="export", entity="users", input_path=None, options={}) as j:
        assert j.status == "running"
    assert seen == [False]
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if "sqlite3" in p.name) == [JOURNAL_FILE]
