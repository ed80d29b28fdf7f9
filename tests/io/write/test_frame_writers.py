"""Awkward cells through the column-wise writers (every writer writes frames; `write_batch` makes one):
formula-like text, escapes, spaces at an end, infinities, integers past Excel's 15 digits, a boolean
id, lists commas cannot carry, dates given as text and numbers that are no date."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batchgs.io.flatten import flatten
from batchgs.io.pages import frame_from_rows
from batchgs.io.write.formats import open_writer
from batchgs.io.write.safe_cells import neutralise
from tests.io.write.test_writers import COLUMNS, RECORDS, SIGNUP_MS

AWKWARD: list[dict[str, Any]] = [
    *RECORDS,
    {
        "identifyId": "x3",
        "accountId": "7",
        "email": "-cmd|' /C calc'!A0",
        "score": -12.5,
        "signUpDate": SIGNUP_MS,
        "customAttributes": {"plan": "", "renewal": 99_999_999_999_999_999},  # no date: kept as is
    },
    {
        "identifyId": "x4",
        "accountId": True,
        "email": " lead space",
        "score": float("inf"),
        "numberOfVisits": 10**16,  # beyond Excel's 15 digits: text
        "customAttributes": {"plan": "a&b<c>\rd\n", "renewal": "2024-03-05T14:07:00.123Z"},
    },
    {
        "identifyId": "@x5",
        "email": "ctl\x01 _x0041_ +1",
        "propertyKeys": ["a,b", "c"],
        "location": {"city": "="},
    },
]
OPTIONS: dict[str, Any] = {
    "date_columns": {"signUpDate", "customAttributes.renewal"},
    "id_columns": {"identifyId", "accountId"},
}
SIGNUP = "2024-03-05T14:07:00.123Z"


def _write(path: Path, *, raw: bool = False) -> Path:
    """Two frames, as an export hands its pages over."""
    with open_writer(path, COLUMNS, raw=raw, **OPTIONS) as out:
        out.write_frame(frame_from_rows([flatten(r) for r in AWKWARD[:3]], OPTIONS["id_columns"]))
        out.write_frame(frame_from_rows([flatten(r) for r in AWKWARD[3:]], OPTIONS["id_columns"]))
    return path


@pytest.mark.parametrize("raw", [False, True])
def test_csv_cells(tmp_path: Path, raw: bool) -> None:
    text = _write(tmp_path / "out.csv", raw=raw).read_bytes().decode()
    rows = {r["identifyId"].lstrip("'"): r for r in csv.DictReader(io.StringIO(text, newline=""))}
    quote = "" if raw else "'"
    assert rows["x3"]["email"] == quote + "-cmd|' /C calc'!A0" and rows["x3"]["score"] == "-12.5"
    assert (
        rows["x3"]["signUpDate"] == SIGNUP and rows["x3"]["customAttributes.renewal"] == "99999999999999999"
    )
    assert rows["x3"]["customAttributes.plan"] == "" and rows["x3"]["accountId"] == "7"
    assert rows["x4"]["accountId"] == "true" and rows["x4"]["email"] == " lead space"
    assert rows["x4"]["score"] == "inf" and rows["x4"]["numberOfVisits"] == "10000000000000000"
    assert (
        rows["x4"]["customAttributes.plan"] == "a&b<c>\rd\n"
        and rows["x4"]["customAttributes.renewal"] == SIGNUP
    )
    assert (
        json.loads(rows["@x5"]["propertyKeys"]) == ["a,b", "c"]
        and rows["@x5"]["location.city"] == quote + "="
    )
    assert (
        f"\r\n{quote}@x5," in text
        and rows["u-2"]["customAttributes.plan"] == quote + '=HYPERLINK("http://evil")'
    )
    assert (
        rows["000123"]["accountId"] == "12345678901234567890"
        and rows["000123"]["propertyKeys"] == "AP-1,AP-2"
    )


def test_jsonl_values(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in _write(tmp_path / "out.jsonl").read_text().splitlines()]
    by_id = {line["identifyId"]: line for line in lines}
    assert len(lines) == len(AWKWARD) and all(list(line) == COLUMNS for line in lines)
    assert by_id["x3"]["customAttributes.renewal"] == 99_999_999_999_999_999  # no date: the number
    assert by_id["x3"]["signUpDate"] == SIGNUP and by_id["x3"]["score"] == -12.5
    assert by_id["x4"]["score"] is None and by_id["x4"]["accountId"] == "true"  # infinity is not JSON
    assert by_id["x4"]["customAttributes.renewal"] == SIGNUP and by_id["x4"]["numberOfVisits"] == 10**16
    assert by_id["@x5"]["email"] == "ctl\x01 _x0041_ +1" and by_id["@x5"]["location.city"] == "="
    assert by_id["000123"]["accountId"] == "12345678901234567890"


def test_parquet_types_and_values(tmp_path: Path) -> None:
    frame = pl.read_parquet(_write(tmp_path / "out.parquet"))
    assert frame.schema["signUpDate"] == pl.Datetime("ms", "UTC") and frame.schema["accountId"] == pl.String
    assert frame.schema["numberOfVisits"] == pl.Int64 and frame.schema["score"] == pl.Float64
    # a column holding a number that is no date widens to text, every date in it ISO
    assert frame.schema["customAttributes.renewal"] == pl.String
    by_id = {r["identifyId"]: r for r in frame.to_dicts()}
    assert by_id["x3"]["customAttributes.renewal"] == "99999999999999999"
    assert by_id["x4"]["customAttributes.renewal"] == SIGNUP and by_id["x4"]["accountId"] == "true"
    assert by_id["000123"]["accountId"] == "12345678901234567890"


@pytest.mark.parametrize("raw", [False, True])
def test_xlsx_cells_and_styles(tmp_path: Path, raw: bool) -> None:
    path = _write(tmp_path / "out.xlsx", raw=raw)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    assert cells["x3"]["email"].value == "-cmd|' /C calc'!A0" and cells["x3"]["email"].quotePrefix is not raw
    assert cells["@x5"]["identifyId"].quotePrefix is not raw and cells["@x5"]["location.city"].value == "="
    assert cells["x3"]["signUpDate"].value == dt.datetime(2024, 3, 5, 14, 7, 0, 123000)
    assert cells["x3"]["customAttributes.renewal"].value == "99999999999999999"  # no date, past 15 digits
    assert cells["x4"]["numberOfVisits"].value == "10000000000000000"  # text: Excel would round it
    assert cells["x4"]["score"].value == "inf" and cells["x4"]["accountId"].value == "true"
    assert cells["x4"]["customAttributes.renewal"].value == dt.datetime(2024, 3, 5, 14, 7, 0, 123000)
    assert (
        cells["x4"]["email"].value == " lead space"
        and cells["x4"]["customAttributes.plan"].value == "a&b<c>\rd\n"
    )
    assert (
        cells["000123"]["numberOfVisits"].value == 42 and cells["000123"]["globalUnsubscribe"].value is True
    )
    assert cells["000123"]["accountId"].number_format == "@"
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "_x0001_" in xml and "_x005F_x0041_" in xml and "&amp;b&lt;c&gt;&#13;d" in xml
    assert 'xml:space="preserve"> lead space' in xml


def test_xlsx_frames_continue_on_new_sheets_with_the_header(tmp_path: Path) -> None:
    records = [{"identifyId": f"u{i}", "numberOfVisits": i} for i in range(11)]
    path = tmp_path / "sheets.xlsx"
    with open_writer(path, COLUMNS, rows_per_sheet=4, **OPTIONS) as out:
        out.write_frame(frame_from_rows(records[:5]))
        out.write_frame(frame_from_rows(records[5:]))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Sheet1", "Sheet2", "Sheet3", "Sheet4"]
    seen = []
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == COLUMNS and len(rows) <= 4
        seen += [(r[0], r[4]) for r in rows[1:]]
    assert seen == [(f"u{i}", i) for i in range(11)]


def test_a_parquet_date_column_widened_to_text_stays_column_wise(tmp_path: Path, monkeypatch: Any) -> None:
    """A number that is no date widens the column to text once (the row way); later frames are written
    column-wise, their dates as ISO text and their other numbers as digits."""
    from batchgs.io.write.parquet_writer import ParquetWriter

    row_batches: list[int] = []
    row_way = ParquetWriter._write_rows
    monkeypatch.setattr(
        ParquetWriter,
        "_write_rows",
        lambda self, rows: (row_batches.append(len(rows)), row_way(self, rows))[1],
    )
    path = tmp_path / "dates.parquet"
    with open_writer(path, ["d"], date_columns={"d"}) as out:
        out.write_frame(frame_from_rows([{"d": SIGNUP_MS}]))
        out.write_frame(frame_from_rows([{"d": 99_999_999_999_999_999}]))
        for _ in range(3):
            out.write_frame(frame_from_rows([{"d": SIGNUP_MS}, {"d": 5 * 10**17}]))
    assert row_batches == [1]
    values = pl.read_parquet(path)["d"].to_list()
    assert values == [SIGNUP, "99999999999999999", *[SIGNUP, "500000000000000000"] * 3]


_LEADS = st.sampled_from(["=", "+", "-", "@", "\t", "\r", "A", "a", "0", "9", " ", "'", "Ω", "\x01", ""])
_TEXTS = st.builds(lambda lead, rest: lead + rest, _LEADS, st.text(max_size=6)) | st.none()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXTS, _TEXTS, _TEXTS), min_size=1, max_size=12))
@example([("Apple", "=1+2", None), ("Zed", "0", "-5")])
def test_csv_text_cells_are_those_of_the_python_neutraliser(rows: list[tuple[str | None, ...]]) -> None:
    """Whatever a column's texts start with, each cell is what `neutralise` makes of it (the writer
    searches only the columns whose lowest text may start with a trigger)."""
    columns = ["a", "b", "c"]
    frame = pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        with open_writer(path, columns) as out:
            out.write_frame(frame)
        text = path.read_bytes().decode()
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == columns
    assert read[1:] == [[neutralise(v) if v else "" for v in row] for row in rows]
