"""The column-wise path (`write_frame`, what exports use) writes what the row path (`write_batch`) writes:
the same bytes for CSV, the same values for JSON Lines, Parquet and XLSX (XLSX date serials may differ
in the last bit of the float: Polars divides by the reciprocal; both read back to the same ms)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from batchgs.io.flatten import flatten
from batchgs.io.pages import frame_from_rows
from batchgs.io.write.formats import open_writer
from tests.io.write.test_writers import COLUMNS, RECORDS

AWKWARD: list[dict[str, Any]] = [
    *RECORDS,
    {
        "identifyId": "x3",
        "accountId": "7",
        "email": "-cmd|' /C calc'!A0",
        "score": -12.5,
        "signUpDate": 1_709_647_620_123,
        "customAttributes": {"plan": "", "renewal": 99_999_999_999_999_999},  # no date: kept as is
    },
    {
        "identifyId": "x4",
        "accountId": True,
        "email": " lead space",
        "score": float("inf"),
        "numberOfVisits": 10**16,  # beyond Excel's 15 digits: text
        "globalUnsubscribe": None,
        "customAttributes": {"plan": "a&b<c>\rd\n", "renewal": "2024-03-05T14:07:00.123Z"},
    },
    {
        "identifyId": "@x5",
        "email": "ctl\x01 _x0041_ +1",
        "propertyKeys": ["a,b", "c"],
        "location": {"city": "="},
    },
]
OPTIONS = {
    "date_columns": {"signUpDate", "customAttributes.renewal"},
    "id_columns": {"identifyId", "accountId"},
}


def _both(tmp_path: Path, suffix: str, *, raw: bool = False) -> tuple[Path, Path]:
    by_rows, by_frame = tmp_path / f"rows{suffix}", tmp_path / f"frame{suffix}"
    with open_writer(by_rows, COLUMNS, raw=raw, **OPTIONS) as out:
        out.write_batch(AWKWARD[:3])
        out.write_batch(AWKWARD[3:])
    frames = [frame_from_rows([flatten(r) for r in part]) for part in (AWKWARD[:3], AWKWARD[3:])]
    with open_writer(by_frame, COLUMNS, raw=raw, **OPTIONS) as out:
        for frame in frames:
            out.write_frame(frame)
    return by_rows, by_frame


@pytest.mark.parametrize("raw", [False, True])
def test_csv_is_byte_identical(tmp_path: Path, raw: bool) -> None:
    by_rows, by_frame = _both(tmp_path, ".csv", raw=raw)
    assert by_frame.read_bytes() == by_rows.read_bytes()
    assert ("'-cmd" in by_frame.read_text()) is not raw


def test_jsonl_has_the_same_values(tmp_path: Path) -> None:
    by_rows, by_frame = _both(tmp_path, ".jsonl")
    rows = [json.loads(line) for line in by_rows.read_text().splitlines()]
    frames = [json.loads(line) for line in by_frame.read_text().splitlines()]
    assert frames == rows and len(rows) == len(AWKWARD)


def test_parquet_has_the_same_types_and_values(tmp_path: Path) -> None:
    by_rows, by_frame = _both(tmp_path, ".parquet")
    expected, got = pl.read_parquet(by_rows), pl.read_parquet(by_frame)
    assert got.schema == expected.schema
    assert got.equals(expected)


@pytest.mark.parametrize("raw", [False, True])
def test_xlsx_has_the_same_cells_and_styles(tmp_path: Path, raw: bool) -> None:
    by_rows, by_frame = _both(tmp_path, ".xlsx", raw=raw)

    def cells(path: Path) -> list[list[tuple[Any, str | None, bool]]]:
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        return [
            [
                (
                    c.value.replace(microsecond=c.value.microsecond // 1000 * 1000)
                    if hasattr(c.value, "microsecond")
                    else c.value,
                    c.number_format,
                    bool(c.quotePrefix),
                )
                for c in row
            ]
            for row in sheet.iter_rows()
        ]

    assert cells(by_frame) == cells(by_rows)
    sheet = zipfile.ZipFile(by_frame).read("xl/worksheets/sheet1.xml").decode()
    assert "_x0001_" in sheet and "_x005F_x0041_" in sheet and "&amp;b&lt;c&gt;&#13;d" in sheet


def test_xlsx_frames_continue_on_new_sheets_like_rows(tmp_path: Path) -> None:
    records = [{"identifyId": f"u{i}", "numberOfVisits": i} for i in range(11)]
    by_rows, by_frame = tmp_path / "rows.xlsx", tmp_path / "frame.xlsx"
    with open_writer(by_rows, COLUMNS, rows_per_sheet=4, **OPTIONS) as out:
        out.write_batch(records)
    with open_writer(by_frame, COLUMNS, rows_per_sheet=4, **OPTIONS) as out:
        out.write_frame(frame_from_rows(records[:5]))
        out.write_frame(frame_from_rows(records[5:]))
    rows, frames = openpyxl.load_workbook(by_rows), openpyxl.load_workbook(by_frame)
    assert frames.sheetnames == rows.sheetnames == ["Sheet1", "Sheet2", "Sheet3", "Sheet4"]
    for name in rows.sheetnames:
        expected = list(rows[name].iter_rows(values_only=True))
        assert list(frames[name].iter_rows(values_only=True)) == expected
        assert expected[0][0] == "identifyId"  # the header on every sheet
