"""errors.csv/xlsx, success.csv, summary.json: exact content, safety, and rebuilds after a crash."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from batchgs.io.write.errors_xlsx import csv_to_xlsx
from batchgs.reports.redact import is_name_like, pseudonym
from batchgs.reports.row_reports import (
    ErrorReport,
    SuccessReport,
    build_summary,
    human_summary,
    read_summary,
    rebuild_reports,
    write_summary,
)
from batchgs.run.journal import Journal, RowOutcome

HEADERS = ["identifyId", "email", "firstName", "note"]


def _rows() -> list[tuple[int, dict[str, str]]]:
    return [
        (2, {"identifyId": "00123", "email": "alice@example.com", "firstName": "Alice", "note": "=1+1"}),
        (3, {"identifyId": "u2", "email": "bob@example.com", "firstName": "Bob", "note": "-12.5"}),
        (4, {"identifyId": "carol@example.com", "email": "not-an-email", "firstName": "Carol", "note": ""}),
        (
            5,
            {
                "identifyId": "1234567890123456789",
                "email": "dan@example.com",
                "firstName": "Dan",
                "note": 'a,"b"',
            },
        ),
        (6, {"identifyId": "u5", "email": "eve@example.com", "firstName": "Ève", "note": "line\nbreak"}),
        (7, {"identifyId": "u6", "email": "fay@example.com", "firstName": "Fay", "note": "@SUM(A1)"}),
    ]


def _final_outcomes() -> list[RowOutcome]:
    return [
        RowOutcome(2, "failed", code="api-rejected", message="+bad value", http_status=400),
        RowOutcome(3, "succeeded", op="created", key="u2"),
        RowOutcome(4, "invalid", code="bad-email", message="column 'email': not-an-email is not an email"),
        RowOutcome(5, "uncertain", message="timeout after the request was sent"),
        RowOutcome(6, "succeeded", op="updated", key="u5"),
        RowOutcome(7, "failed", code="retries-exhausted", message="503 from dan@example.com", transient=True),
    ]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    source = tmp_path / "users.csv"
    source.write_text("x\n")
    j = Journal.create(tmp_path / "run", kind="import", entity="users", input_path=source, options={})
    yield j
    j.close()


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


# ---------------------------------------------------------------------------------------- errors.csv


def test_errors_csv_exact_content(journal: Journal) -> None:
    journal.record(_final_outcomes())
    rebuild_reports(journal, _rows(), HEADERS, key_column="identifyId")
    expected = (
        "identifyId,email,firstName,note,_row,_code,_message,_http_status\r\n"
        "00123,alice@example.com,Alice,'=1+1,2,api-rejected,'+bad value,400\r\n"
        "carol@example.com,not-an-email,Carol,,4,bad-email,column 'email': not-an-email is not an email,\r\n"
        '1234567890123456789,dan@example.com,Dan,"a,""b""",5,uncertain,'
        "timeout after the request was sent,\r\n"
        "u6,fay@example.com,Fay,'@SUM(A1),7,retries-exhausted,503 from dan@example.com,\r\n"
    )
    assert (journal.run_dir / "errors.csv").read_bytes().decode("utf-8") == expected
    assert _read_csv(journal.run_dir / "errors.csv")[1][:4] == [
        "00123",
        "alice@example.com",
        "Alice",
        "'=1+1",
    ]
    assert (journal.run_dir / "success.csv").read_bytes().decode("utf-8") == (
        "_row,identifyId,_operation\r\n3,u2,created\r\n6,u5,updated\r\n"
    )


def test_error_report_streams_quotes_and_can_be_raw(tmp_path: Path) -> None:
    headers = ["id", "note", "_row", "_code"]  # an error report fed back: its old columns are dropped
    with ErrorReport(tmp_path, headers) as report:
        report.add(9, {"id": "7", "note": 'line\nbreak, "q"', "_row": "3"}, "api-rejected", "=cmd|x", 422)
    with ErrorReport(tmp_path / "raw.csv", ["id"], raw=True) as raw:
        raw.add(2, {"id": "=HYPERLINK(1)"}, "x", "@y")
    assert _read_csv(tmp_path / "errors.csv") == [
        ["id", "note", "_row", "_code", "_message", "_http_status"],
        ["7", 'line\nbreak, "q"', "9", "api-rejected", "'=cmd|x", "422"],
    ]
    assert _read_csv(tmp_path / "raw.csv")[1] == ["=HYPERLINK(1)", "2", "x", "@y", ""]


def test_reports_are_0600_whatever_the_umask(journal: Journal) -> None:
    journal.record(_final_outcomes())
    old = os.umask(0)
    try:
        rebuild_reports(journal, _rows(), HEADERS, xlsx=True)
        write_summary(journal.run_dir, build_summary(journal, rows_total=6))
        with SuccessReport(journal.run_dir / "streamed.csv", "identifyId") as streamed:
            streamed.add(2, "u1", "created")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in journal.run_dir.iterdir()}
    assert {"errors.csv", "errors.xlsx", "success.csv", "summary.json", "streamed.csv"} <= set(modes)
    assert set(modes.values()) == {0o600}


# ---------------------------------------------------------------------------------------- errors.xlsx


def test_errors_xlsx_keeps_ids_as_text_with_a_frozen_header(journal: Journal) -> None:
    journal.record(_final_outcomes())
    built = rebuild_reports(journal, _rows(), HEADERS, xlsx=True)
    assert built.errors_xlsx == journal.run_dir / "errors.xlsx"
    sheet = openpyxl.load_workbook(built.errors_xlsx, read_only=False).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "identifyId" and sheet["A1"].font.b
    ids = [sheet.cell(row=r, column=1) for r in range(2, 6)]
    assert [c.value for c in ids] == ["00123", "carol@example.com", "1234567890123456789", "u6"]
    assert {c.data_type for c in ids} == {"s"}
    assert sheet["D2"].value == "'=1+1" and sheet["D2"].data_type == "s"
    assert sheet["E2"].value == "2" and sheet["H2"].value == "400"
    assert sheet.max_row == 5
    assert not list(journal.run_dir.glob(".*tmp"))


def test_xlsx_continues_on_further_sheets(tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_text("id,_row\r\n" + "".join(f"{i:05d},{i}\r\n" for i in range(7)), encoding="utf-8")
    assert csv_to_xlsx(source, tmp_path / "e.xlsx", max_rows_per_sheet=3) == 7
    book = openpyxl.load_workbook(tmp_path / "e.xlsx")
    assert book.sheetnames == ["errors", "errors (2)", "errors (3)", "errors (4)"]
    values = [[c.value for c in row] for ws in book.worksheets for row in ws.iter_rows()]
    assert values[:3] == [["id", "_row"], ["00000", "0"], ["00001", "1"]]
    assert [v for v in values if v[0] != "id"] == [[f"{i:05d}", str(i)] for i in range(7)]


# ---------------------------------------------------------------------------------------- rebuild

CRASHING_RUN = """
import sys
from batchgs.run.journal import Journal, RowOutcome
from batchgs.reports.row_reports import ErrorReport

journal = Journal.open(sys.argv[1])
journal.record([
    RowOutcome(6, "succeeded", op="updated", key="u5"),
    RowOutcome(2, "failed", code="retries-exhausted", transient=True),
    RowOutcome(3, "succeeded", op="created", key="u2"),
])
streamed = ErrorReport(sys.argv[1], ["identifyId", "email", "firstName", "note"])
for _ in range(2):
    streamed.add(2, {"identifyId": "00123", "email": "a"}, "retries-exhausted", "", None)
streamed.flush()
print("recorded", flush=True)
sys.stdin.read()
"""


def _all_reports(run_dir: Path) -> tuple[str, str, list[list[object]]]:
    sheet = openpyxl.load_workbook(run_dir / "errors.xlsx").active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    return (run_dir / "errors.csv").read_text("utf-8"), (run_dir / "success.csv").read_text("utf-8"), cells


def test_rebuild_after_a_crash_equals_an_uninterrupted_run(tmp_path: Path, journal: Journal) -> None:
    journal.record(_final_outcomes())
    rebuild_reports(journal, _rows(), HEADERS, key_column="identifyId", xlsx=True)
    uninterrupted = _all_reports(journal.run_dir)

    source = tmp_path / "users2.csv"
    source.write_text("x\n")
    run_dir = tmp_path / "crashed"
    Journal.create(run_dir, kind="import", entity="users", input_path=source, options={}).close()
    final = {o.row: o for o in _final_outcomes()}
    # First segment in a child, streamed in completion order with a duplicate line; then kill -9.
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdout.readline() == b"recorded\n"
    child.kill()
    child.wait()
    assert (
        _read_csv(run_dir / "errors.csv")[1:]
        == [["00123", "a", "", "", "2", "retries-exhausted", "", ""]] * 2
    )

    with Journal.open(run_dir) as resumed:
        resumed.record([final[2], final[5], final[4]])
        resumed.record([final[7]])
        rebuild_reports(resumed, iter(_rows()), HEADERS, key_column="identifyId", xlsx=True)
    assert _all_reports(run_dir) == uninterrupted


def test_rebuild_keeps_errors_whose_row_is_missing_and_needs_ordered_rows(journal: Journal) -> None:
    journal.record([RowOutcome(3, "invalid", code="bad-date", message="bad"), RowOutcome(9, "failed")])
    built = rebuild_reports(journal, [(2, {"a": "1"}), (3, {"a": "2"})], ["a"])
    assert _read_csv(built.errors_csv) == [
        ["a", "_row", "_code", "_message", "_http_status"],
        ["2", "3", "bad-date", "bad", ""],
        ["", "9", "failed", "", ""],
    ]
    assert built.errors == 2 and built.successes == 0
    journal.record([RowOutcome(4, "invalid", code="bad-date")])
    with pytest.raises(ValueError, match="increasing order"):
        rebuild_reports(journal, [(3, {"a": "2"}), (2, {"a": "1"}), (4, {"a": "3"})], ["a"])
    assert _read_csv(built.errors_csv)[1] == ["2", "3", "bad-date", "bad", ""]  # previous file intact
    assert not list(journal.run_dir.glob(".*tmp"))


# ---------------------------------------------------------------------------------------- redact


def test_redact_hides_emails_and_names(journal: Journal) -> None:
    journal.record(_final_outcomes())
    journal.record([RowOutcome(3, "succeeded", op="created", key="Bob@Example.com")])
    rebuild_reports(journal, _rows(), HEADERS, key_column="identifyId", redact=True, xlsx=True)
    errors_text = (journal.run_dir / "errors.csv").read_text("utf-8")
    success_text = (journal.run_dir / "success.csv").read_text("utf-8")
    for name in ("@example", "alice", "Alice", "Carol", "Dan", "carol", "example"):
        assert name not in errors_text and name not in success_text
    rows = _read_csv(journal.run_dir / "errors.csv")
    assert rows[1][:4] == [
        "00123",
        pseudonym("alice@example.com"),
        pseudonym("Alice"),
        "'=1+1",
    ]
    assert rows[2][0] == pseudonym("carol@example.com") and rows[2][1] == pseudonym("not-an-email")
    assert rows[4][6] == "503 from " + pseudonym("dan@example.com")
    assert pseudonym(" Bob@example.com") == "sha256:" + hashlib.sha256(b"bob@example.com").hexdigest()[:12]
    assert _read_csv(journal.run_dir / "success.csv")[1] == ["3", pseudonym("bob@example.com"), "created"]
    sheet = openpyxl.load_workbook(journal.run_dir / "errors.xlsx").active
    assert sheet is not None
    workbook_text = str([[c.value for c in r] for r in sheet.iter_rows()])
    assert "example" not in workbook_text and "Alice" not in workbook_text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("email", True),
        ("Email Address", True),
        ("first_name", True),
        ("lastName", True),
        ("name", True),
        ("custom.firstName", True),
        ("customAttributes.workEmail", True),
        ("identifyId", False),
        ("accountId", False),
        ("companyName", False),
        ("signUpDate", False),
    ],
)
def test_which_columns_are_name_like(header: str, expected: bool) -> None:
    assert is_name_like(header) is expected


# ---------------------------------------------------------------------------------------- summary


def test_summary_from_journal_adds_up(journal: Journal) -> None:
    journal.record(_final_outcomes(), counters={"requests": 9, "responses_429": 2, "retries": 3})
    journal.set_status("completed")
    summary = build_summary(journal, rows_total=8)
    cli_fields = {
        "entity": "users",
        "status": "completed",
        "rows_total": 8,
        "rows_invalid": 1,
        "rows_succeeded": 2,
        "rows_failed": 2,
        "rows_uncertain": 1,
        "requests": 9,
        "responses_429": 2,
        "retries": 3,
    }
    assert {k: summary[k] for k in cli_fields} == cli_fields
    assert summary["input"] == journal.meta.input_path
    assert summary["started_at"] and summary["finished_at"]
    assert summary["rows_pending"] == 2 and summary["rows_failed_transient"] == 1
    assert summary["requests_per_row"] == round(9 / 5, 3)
    assert summary["operations"] == {"created": 1, "updated": 1}
    assert summary["duration_seconds"] >= 0
    path = write_summary(journal.run_dir, summary)
    assert json.loads(path.read_text("utf-8")) == summary == read_summary(journal.run_dir)


def test_summary_is_replaced_atomically(tmp_path: Path) -> None:
    write_summary(tmp_path, {"status": "running", "rows_total": 1})

    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_summary(tmp_path, {"status": "completed", "rows_total": 1, "late": Exploding()})
    assert json.loads((tmp_path / "summary.json").read_text("utf-8")) == {
        "status": "running",
        "rows_total": 1,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_human_summary_is_aligned() -> None:
    text = human_summary(
        {
            "entity": "users",
            "kind": "import",
            "input": "users.csv",
            "status": "completed",
            "rows_total": 10000,
            "rows_succeeded": 9650,
            "rows_failed": 300,
            "rows_invalid": 50,
            "rows_uncertain": 0,
            "operations": {"created": 5000, "updated": 4650},
            "requests": 10321,
            "requests_per_row": 1.0667,
            "responses_429": 12,
            "retries": 321,
            "duration_seconds": 53.2,
            "rows_per_second": 188.0,
        }
    )
    assert text.splitlines() == [
        "Entity      users (import)",
        "Input       users.csv",
        "Status      completed",
        "Rows        10,000 total, 9,650 succeeded, 300 failed, 50 invalid, 0 uncertain",
        "Operations  created 5,000, updated 4,650",
        "Requests    10,321 (1.07 per row), 12 answered 429, 321 retries",
        "Duration    53.2 s (188 rows/s)",
    ]
    assert human_summary({}) == ""
