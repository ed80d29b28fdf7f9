"""Issue 22.1: an id a float64 cannot hold is read with the file's own digits or reported, never changed.

Workbooks written by openpyxl and by xlsxwriter (both store such a number as `1.234567890123457E+17`:
the digits are gone, so the id must be an error), and by a tool that keeps every digit in the XML
(`<v>123456789012345678</v>`: those exact digits must be sent). Mixed text/number id columns and
all-number id columns; the CSV path too.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from batchgs.entities import registry
from batchgs.io.validate.file import ValidateOptions, prepare

BIG = 123456789012345678  # 18 digits: a float64 makes it 123456789012345696
BIGGER = 900000000000000001  # a float64 makes it 900000000000000000
MIXED = [BIG, "user-7", 42, BIGGER]  # ids as cells: numbers and text in one column
ALL_NUMBERS = [BIG, 1001, 42, BIGGER]
PLACEHOLDERS = {BIG: 111111, BIGGER: 222222}  # small numbers a test swaps for exact digits in the XML


def write_openpyxl(path: Path, ids: list[Any]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["identifyId", "email", "accountId"])
    for n, value in enumerate(ids):
        sheet.append([value, f"u{n}@example.com", value])
    book.save(path)
    return path


def write_xlsxwriter(path: Path, ids: list[Any]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["identifyId", "email", "accountId"])
    for n, value in enumerate(ids):
        sheet.write_row(n + 1, 0, [value, f"u{n}@example.com", value])
    book.close()
    return path


def write_exact_digits(path: Path, ids: list[Any]) -> Path:
    """A workbook whose XML holds every digit (as some tools write it): xlsxwriter, then the number
    cells' text replaced in sheet1.xml."""
    draft = write_xlsxwriter(path.with_suffix(".draft.xlsx"), [PLACEHOLDERS.get(v, v) for v in ids])
    with zipfile.ZipFile(draft) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                for exact, placeholder in PLACEHOLDERS.items():
                    data = data.replace(f"<v>{placeholder}</v>".encode(), f"<v>{exact}</v>".encode())
            target.writestr(item, data)
    return path


def checked(path: Path) -> tuple[dict[int, dict[str, Any]], list[tuple[int, str, str]]]:
    """(payloads of valid rows, (row, column, code) of every issue)."""
    spec = registry.get("users")
    payloads: dict[int, dict[str, Any]] = {}
    issues: list[tuple[int, str, str]] = []
    with prepare(path, spec, ValidateOptions(product_key="AP-1")) as validation:
        for batch in validation.batches(10):
            for row in batch:
                issues += [(i.row, str(i.column), i.code) for i in row.issues]
                if row.payload is not None:
                    payloads[row.row] = row.payload
    return payloads, issues


@pytest.mark.parametrize("writer", [write_openpyxl, write_xlsxwriter], ids=["openpyxl", "xlsxwriter"])
@pytest.mark.parametrize("ids", [MIXED, ALL_NUMBERS], ids=["mixed", "all-numbers"])
def test_digits_the_writer_lost_are_an_error_never_another_id(
    writer: Any, ids: list[Any], tmp_path: Path
) -> None:
    payloads, issues = checked(writer(tmp_path / "users.xlsx", ids))
    assert issues == [
        (2, "identifyId", "excel-damaged-id"),
        (2, "accountId", "excel-damaged-id"),
        (5, "identifyId", "excel-damaged-id"),
        (5, "accountId", "excel-damaged-id"),
    ]
    assert {row: (p["identifyId"], p["accountId"]) for row, p in payloads.items()} == {
        3: (str(ids[1]), str(ids[1])),
        4: ("42", "42"),
    }


@pytest.mark.parametrize("ids", [MIXED, ALL_NUMBERS], ids=["mixed", "all-numbers"])
def test_digits_kept_in_the_sheet_xml_are_sent_exactly(ids: list[Any], tmp_path: Path) -> None:
    path = write_exact_digits(tmp_path / "users.xlsx", ids)
    with zipfile.ZipFile(path) as archive:  # the file really holds the digits
        assert f"<v>{BIG}</v>".encode() in archive.read("xl/worksheets/sheet1.xml")
    payloads, issues = checked(path)
    assert issues == []
    assert [(p["identifyId"], p["accountId"]) for p in payloads.values()] == [(str(v), str(v)) for v in ids]


def test_long_ids_in_a_csv_are_sent_exactly(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(f"identifyId,accountId\n{BIG},{BIGGER}\nuser-7,{BIG}\n", encoding="utf-8")
    payloads, issues = checked(path)
    assert issues == []
    assert [(p["identifyId"], p["accountId"]) for p in payloads.values()] == [
        (str(BIG), str(BIGGER)),
        ("user-7", str(BIG)),
    ]
