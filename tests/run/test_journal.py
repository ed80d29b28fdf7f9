"""The run folder's journal: crash safety, resume checks, privacy, row bookkeeping."""

from __future__ import annotations

import inspect
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.config import Secret
from batchgs.errors import ExitCode, NotResumableError, OutputFileError
from batchgs.run.journal import JOURNAL_FILE, Journal, RowOutcome, RowSet, RunFolderBusyError


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    path.write_text("identifyId,email\nu1,a@example.com\nu2,b@example.com\n", encoding="utf-8")
    return path


@pytest.fixture
def journal(tmp_path: Path, input_file: Path) -> Iterator[Journal]:
    j = Journal.create(tmp_path / "run", kind="import", entity="users", input_path=input_file, options={})
    yield j
    j.close()


def _create(run_dir: Path, input_file: Path | None, **options: object) -> Journal:
    if input_file is None:
        return Journal.create(run_dir, kind="export", entity="users", input_path=None, options=options)
    return Journal.create(run_dir, kind="import", entity="users", input_path=input_file, options=options)


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


# ---------------------------------------------------------------------------------------- kill -9


def _outcome(row: int) -> RowOutcome:
    """The outcome the child records for `row`: every status, unicode, overwrites."""
    kind = row % 5
    if kind == 0:
        return RowOutcome(
            row, "failed", code="retries-exhausted", message=f"row {row} 503", http_status=503, transient=True
        )
    if kind == 1:
        return RowOutcome(row, "invalid", code="bad-email", message=f"row {row} ü")
    if kind == 2:
        return RowOutcome(row, "uncertain", code="uncertain", message="timeout after send")
    return RowOutcome(row, "succeeded", op="created" if kind == 3 else "updated", key=f"user-{row}")


CHILD_LOOP = textwrap.dedent(
    """
    run_dir, batch = sys.argv[1], int(sys.argv[2])
    journal = Journal.open(run_dir)
    row = max((o.row for o in journal.iter_outcomes()), default=1) + 1
    while True:
        rows = range(row, row + batch)
        # A provisional "failed" for the first row is overwritten in the same transaction.
        provisional = RowOutcome(row, "failed", code="provisional", transient=True)
        journal.record([provisional, *map(_outcome, rows)], counters={"requests": batch})
        sys.stdout.write(f"{rows[-1]}\\n")
        sys.stdout.flush()
        row += batch
    """
)
CHILD = (
    "from __future__ import annotations\nimport sys\nfrom batchgs.run.journal import Journal, RowOutcome\n\n"
    + inspect.getsource(_outcome)
    + CHILD_LOOP
)


def test_kill_9_at_random_moments_loses_nothing_acknowledged(tmp_path: Path, input_file: Path) -> None:
    run_dir = tmp_path / "run"
    Journal.create(
        run_dir, kind="import", entity="users", input_path=input_file, options={"mode": "upsert"}
    ).close()
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    rng = random.Random(20240611)
    acknowledged = 1
    for _ in range(10):
        batch = rng.randint(1, 40)
        kill_after = rng.randint(1, 25)  # acknowledgements to read before the kill
        child = subprocess.Popen(
            [sys.executable, str(script), str(run_dir), str(batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        for _ in range(kill_after):
            acknowledged = int(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        acknowledged = max([acknowledged, *(int(line) for line in child.stdout.read().split())])
        child.wait()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL

        with Journal.open(run_dir) as reopened:
            outcomes = list(reopened.iter_outcomes())
            last = outcomes[-1].row
            # A consistent prefix: rows 2..last, each exactly as recorded, no hole and no provisional.
            assert [o.row for o in outcomes] == list(range(2, last + 1))
            assert outcomes == [_outcome(r) for r in range(2, last + 1)]
            # Every acknowledged row is there; at most the one batch in flight went further.
            assert acknowledged <= last <= acknowledged + batch
            # Counters were added in the same transactions as the rows.
            assert reopened.counters()["requests"] == last - 1
    assert acknowledged > 10


# ---------------------------------------------------------------------------------------- creation


def test_folder_0700_and_every_file_0600_whatever_the_umask(tmp_path: Path, input_file: Path) -> None:
    old = os.umask(0)
    try:
        j = Journal.create(
            tmp_path / "a" / "run", kind="import", entity="users", input_path=input_file, options={}
        )
        j.record([RowOutcome(2, "succeeded", op="created", key="u1")])
        during = _modes(j.run_dir)
        j.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "run").stat().st_mode) == 0o700
    assert f"{JOURNAL_FILE}-wal" in during
    assert set(during.values()) == {0o600}
    assert set(_modes(tmp_path / "a" / "run").values()) == {0o600}


def test_refuses_non_empty_folder_and_points_to_resume(
    tmp_path: Path, input_file: Path, journal: Journal
) -> None:
    journal.close()
    with pytest.raises(OutputFileError, match="not empty") as caught:
        _create(journal.run_dir, input_file)
    assert caught.value.hint == f"continue it with: batchgs resume {journal.run_dir}"
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(OutputFileError, match="not empty"):
        _create(other, input_file)
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    _create(empty, None).close()
    assert stat.S_IMODE(empty.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "options",
    [
        {"api_key": "abc"},
        {"apiKey": "abc"},
        {"shared-secret": "abc"},
        {"accessToken": "abc"},
        {"profile": {"password": "abc"}},
        {"headers": [{"X-Auth-Token": "abc"}]},
        {"key": "abc"},
        {"anything": Secret("abc")},
    ],
)
def test_refuses_credential_like_options(
    tmp_path: Path, input_file: Path, options: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match=r"secret|credential"):
        Journal.create(
            tmp_path / "run", kind="import", entity="users", input_path=input_file, options=options
        )
    assert not (tmp_path / "run").exists()


def test_stores_plain_options_and_meta(tmp_path: Path, input_file: Path) -> None:
    options = {"mode": "upsert", "product_key": "AP-1", "rate": 190, "map": {"E-mail": "email"}}
    with Journal.create(
        tmp_path / "run", kind="import", entity="users", input_path=input_file, options=options
    ):
        pass
    with Journal.open(tmp_path / "run") as j:
        meta = j.meta
    assert (meta.kind, meta.entity, meta.options) == ("import", "users", options)
    assert meta.input_path == str(input_file.resolve())
    assert meta.input_fingerprint is not None and meta.input_fingerprint.size == input_file.stat().st_size


# ---------------------------------------------------------------------------------------- resume checks


def test_fingerprint_change_is_not_resumable(journal: Journal, input_file: Path) -> None:
    journal.check_input(input_file)
    original = input_file.read_bytes()
    input_file.write_bytes(original + b"u3,c@example.com\n")
    with pytest.raises(NotResumableError, match=r"size was 51 bytes, now 68") as grown:
        journal.check_input(input_file)
    assert grown.value.exit_code == ExitCode.NOT_RESUMABLE
    input_file.write_bytes(original.replace(b"u1", b"u9"))
    with pytest.raises(NotResumableError, match="same size, different content"):
        journal.check_input(input_file)
    input_file.unlink()
    with pytest.raises(NotResumableError, match="not found"):
        journal.check_input(input_file)


def test_open_refuses_missing_and_corrupt_checkpoints(tmp_path: Path, journal: Journal) -> None:
    with pytest.raises(NotResumableError, match="no such run folder"):
        Journal.open(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(NotResumableError, match="not a batchgs run folder"):
        Journal.open(tmp_path / "plain")
    journal.close()
    db = journal.run_dir / JOURNAL_FILE
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(NotResumableError, match="corrupt"):
        Journal.open(journal.run_dir)


def test_open_refuses_a_checkpoint_without_its_tables(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sqlite3.connect(run_dir / JOURNAL_FILE).close()  # e.g. killed while creating
    with pytest.raises(NotResumableError, match=r"corrupt or unreadable|incomplete"):
        Journal.open(run_dir)


def test_one_process_drives_a_run_at_a_time(journal: Journal) -> None:
    with pytest.raises(RunFolderBusyError, match="another batchgs process"):
        Journal.open(journal.run_dir)
    with Journal.open(journal.run_dir, lock=False) as reader:  # `batchgs status` while running
        assert reader.status == "running"
    journal.close()
    Journal.open(journal.run_dir).close()


# ---------------------------------------------------------------------------------------- rows


def test_row_sets_counts_and_overwrites(journal: Journal) -> None:
    journal.record(
        [
            RowOutcome(2, "succeeded", op="created", key="u1"),
            RowOutcome(3, "failed", code="retries-exhausted", http_status=503, transient=True),
            RowOutcome(4, "failed", code="api-rejected", http_status=400),
            RowOutcome(5, "invalid", code="bad-email"),
            RowOutcome(6, "uncertain", code="uncertain"),
            RowOutcome(7, "succeeded", op="updated", key="u6"),
        ],
        counters={"requests": 7, "retries": 2},
    )
    assert set(journal.done_rows()) == {2, 4, 5, 6, 7}
    assert set(journal.rows_to_retry()) == {3}
    assert set(journal.rows_to_retry(transient_only=False)) == {3, 4}
    assert set(journal.uncertain_rows()) == {6}
    counts = journal.counts()
    assert (counts.succeeded, counts.failed, counts.invalid, counts.uncertain) == (2, 2, 1, 1)
    assert counts.failed_transient == 1 and counts.recorded == 6
    assert journal.operation_counts() == {"created": 1, "updated": 1}
    # resume --retry-failed: the row is recorded again and the later outcome wins
    journal.record([RowOutcome(3, "succeeded", op="updated", key="u2")], counters={"requests": 1})
    assert journal.get_outcome(3) == RowOutcome(3, "succeeded", op="updated", key="u2")
    assert set(journal.rows_to_retry()) == set()
    assert journal.counts().succeeded == 3
    journal.add_counters(responses_429=4, requests=2)
    assert journal.counters() == {"requests": 10, "responses_429": 4, "retries": 2}


def test_iter_outcomes_orders_filters_and_pages(journal: Journal) -> None:
    rows = list(range(2, 40))
    random.Random(7).shuffle(rows)
    journal.record(RowOutcome(r, "invalid" if r % 3 == 0 else "succeeded", key=str(r)) for r in rows)
    assert [o.row for o in journal.iter_outcomes(chunk=4)] == list(range(2, 40))
    assert [o.row for o in journal.iter_outcomes("invalid", chunk=4)] == [
        r for r in range(2, 40) if r % 3 == 0
    ]
    assert [o.row for o in journal.iter_outcomes(["invalid", "uncertain"], chunk=5)] == [
        r for r in range(2, 40) if r % 3 == 0
    ]


def test_a_bad_outcome_records_nothing(journal: Journal) -> None:
    bad = RowOutcome(3, "done")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="row 3: status"):
        journal.record([RowOutcome(2, "succeeded"), bad])
    assert journal.counts().recorded == 0


def test_progress_written_together_is_stored_all_or_none(journal: Journal) -> None:
    journal.set_progress_many([("part/0", {"records": 1}), ("plan", {"parts": [0]})])
    assert (journal.get_progress("part/0"), journal.get_progress("plan")) == ({"records": 1}, {"parts": [0]})
    with pytest.raises(sqlite3.Error):  # the second name cannot be stored: the first is rolled back
        journal.set_progress_many([("part/1", {"records": 2}), (["not", "a", "name"], {})])  # type: ignore[list-item]
    assert journal.get_progress("part/1") is None
    with pytest.raises(TypeError):  # a value that is no JSON: nothing is written
        journal.set_progress_many([("part/2", {"records": 3}), ("plan", {"bad": object()})])
    assert journal.get_progress("part/2") is None and journal.get_progress("plan") == {"parts": [0]}


def test_run_status_times_progress_survive_reopen(journal: Journal) -> None:
    journal.set_progress("slice-2024-01", {"pages": 3, "cursor": "abc"})
    journal.set_status("paused", "daily quota reached")
    assert journal.finished_at is not None
    journal.close()
    with Journal.open(journal.run_dir) as j:
        assert (j.status, j.status_reason) == ("paused", "daily quota reached")
        assert j.get_progress("slice-2024-01") == {"pages": 3, "cursor": "abc"}
        assert j.get_progress("missing", 0) == 0
        paused_for = j.active_seconds()
        j.set_status("running")
        assert j.finished_at is None
        j.set_status("completed")
        assert j.status == "completed" and j.active_seconds() >= paused_for >= 0
        with pytest.raises(ValueError):
            j.set_status("finished")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3000)), max_size=200))
def test_rowset_behaves_like_a_set(operations: list[tuple[bool, int]]) -> None:
    model: set[int] = set()
    rows = RowSet()
    for add, value in operations:
        (model.add if add else model.discard)(value)
        (rows.add if add else rows.discard)(value)
    assert len(rows) == len(model)
    assert list(rows) == sorted(model)
    assert all((v in rows) == (v in model) for v in range(-2, 3010, 7))
    assert rows == model


def test_an_export_journal_commits_without_fsync_and_others_with(tmp_path: Path, input_file: Path) -> None:
    from batchgs.engine.export.entities import get_export_entity
    from batchgs.engine.export.exporter import Exporter
    from batchgs.engine.export.options import ExportOptions

    def synchronous(journal: Journal) -> int:
        return int(journal._db.execute("PRAGMA synchronous").fetchone()[0])

    imported = _create(tmp_path / "import", input_file)
    exported = _create(tmp_path / "export", None)
    options = ExportOptions(entity="users", output=str(tmp_path / "users.csv"))
    Exporter(None, get_export_entity("users"), options, exported)  # type: ignore[arg-type]
    assert (synchronous(imported), synchronous(exported)) == (2, 1)  # FULL, NORMAL
    exported.set_progress("part/0", {"records": 1})  # a commit after it: still a readable journal
    assert exported.get_progress("part/0") == {"records": 1}
    imported.close()
    exported.close()
