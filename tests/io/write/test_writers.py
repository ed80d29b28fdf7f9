"""Export writers: every format round-trips typed records, commits by rename, never overwrites."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest

from batchgs.errors import OutputFileError
from batchgs.io.write.formats import SUPPORTED_SUFFIXES, open_writer
from batchgs.io.write.xlsx_writer import XlsxWriter

UTC = dt.UTC
SIGNUP_MS = 1_709_647_620_123  # 2024-03-05T14:07:00.123Z
RENEW_MS = 1_735_689_599_999  # 2024-12-31T23:59:59.999Z
RECORDS: list[dict[str, Any]] = [
    {
        "identifyId": "000123",
        "accountId": 12345678901234567890,
        "email": "ada@example.com",
        "score": 87.5,
        "numberOfVisits": 42,
        "signUpDate": SIGNUP_MS,
        "globalUnsubscribe": True,
        "location": {"city": "Paris", "coordinates": {"latitude": 48.8566}},
        "propertyKeys": ["AP-1", "AP-2"],
        "customAttributes": {"plan": "gold", "renewal": RENEW_MS},
    },
    {
        "identifyId": "u-2",
        "accountId": "0042",
        "email": None,
        "score": None,
        "numberOfVisits": 0,
        "signUpDate": None,
        "globalUnsubscribe": False,
        "location": None,
        "propertyKeys": ["AP-1"],
        "customAttributes": {"plan": '=HYPERLINK("http://evil")'},
    },
]
COLUMNS = [
    "identifyId",
    "accountId",
    "email",
    "score",
    "numberOfVisits",
    "signUpDate",
    "globalUnsubscribe",
    "location.city",
    "location.coordinates.latitude",
    "propertyKeys",
    "customAttributes.plan",
    "customAttributes.renewal",
]
DATES = {"signUpDate", "customAttributes.renewal"}
IDS = {"identifyId", "accountId"}


def write(path: Path, records: list[dict[str, Any]] = RECORDS, **options: Any) -> Any:
    columns = options.pop("columns", COLUMNS)
    with open_writer(path, columns, date_columns=DATES, id_columns=IDS, **options) as out:
        out.write_batch(records)
    return out


def _first_column(path: Path) -> list[Any]:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    return [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]


def ms_datetime(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)


# -- round trips ---------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write(path)
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 3 and raw.count(b"\n") == 3  # header + 2 rows, CRLF only
    df = pl.read_csv(path, infer_schema=False)
    assert df.columns == COLUMNS
    first, second = df.rows(named=True)
    assert first == {
        "identifyId": "000123",
        "accountId": "12345678901234567890",
        "email": "ada@example.com",
        "score": "87.5",
        "numberOfVisits": "42",
        "signUpDate": "2024-03-05T14:07:00.123Z",
        "globalUnsubscribe": "true",
        "location.city": "Paris",
        "location.coordinates.latitude": "48.8566",
        "propertyKeys": "AP-1,AP-2",
        "customAttributes.plan": "gold",
        "customAttributes.renewal": "2024-12-31T23:59:59.999Z",
    }
    assert second["email"] is None and second["signUpDate"] is None
    assert second["accountId"] == "0042" and second["globalUnsubscribe"] == "false"
    assert second["customAttributes.plan"] == '\'=HYPERLINK("http://evil")'  # CSV: the OWASP quote


def test_csv_bom_for_excel(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write(path, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfidentifyId,")
    assert pl.read_csv(path, infer_schema=False).columns == COLUMNS


def test_jsonl_round_trip_is_flat_and_typed(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    write(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert list(first) == COLUMNS
    assert first["identifyId"] == "000123" and first["accountId"] == "12345678901234567890"
    assert first["signUpDate"] == "2024-03-05T14:07:00.123Z"
    assert first["score"] == 87.5 and first["numberOfVisits"] == 42 and first["globalUnsubscribe"] is True
    assert first["location.coordinates.latitude"] == 48.8566
    assert second["email"] is None and second["signUpDate"] is None and second["globalUnsubscribe"] is False
    assert second["customAttributes.plan"] == '=HYPERLINK("http://evil")'  # data format: untouched


def test_parquet_round_trip_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "users.parquet"
    write(path)
    df = pl.read_parquet(path)
    assert df.columns == COLUMNS
    assert df.schema["signUpDate"] == pl.Datetime("ms", "UTC")
    assert df.schema["customAttributes.renewal"] == pl.Datetime("ms", "UTC")
    assert df.schema["identifyId"] == pl.String and df.schema["accountId"] == pl.String
    assert df.schema["score"] == pl.Float64 and df.schema["numberOfVisits"] == pl.Int64
    assert df.schema["globalUnsubscribe"] == pl.Boolean
    first, second = df.rows(named=True)
    assert first["signUpDate"] == dt.datetime(2024, 3, 5, 14, 7, 0, 123_000, tzinfo=UTC)
    assert first["customAttributes.renewal"] == dt.datetime(2024, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    assert first["accountId"] == "12345678901234567890" and second["accountId"] == "0042"
    assert first["identifyId"] == "000123" and first["propertyKeys"] == "AP-1,AP-2"
    assert second["signUpDate"] is None and second["score"] is None and second["globalUnsubscribe"] is False
    assert second["customAttributes.plan"] == '=HYPERLINK("http://evil")'


def test_xlsx_round_trip_in_openpyxl_with_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    write(path)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws is not None
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["identifyId"] == "000123" and first["accountId"] == "12345678901234567890"
    assert first["signUpDate"] == ms_datetime(SIGNUP_MS)
    assert first["customAttributes.renewal"] == ms_datetime(RENEW_MS)
    assert first["score"] == 87.5 and first["numberOfVisits"] == 42 and first["globalUnsubscribe"] is True
    assert first["location.coordinates.latitude"] == 48.8566
    second = dict(zip(COLUMNS, rows[2], strict=True))
    assert second["email"] is None and second["signUpDate"] is None and second["globalUnsubscribe"] is False
    assert second["customAttributes.plan"] == '=HYPERLINK("http://evil")'  # exact, in a quotePrefix cell
    assert ws.cell(row=3, column=COLUMNS.index("customAttributes.plan") + 1).quotePrefix
    assert ws["A2"].number_format == "@" and ws["B3"].number_format == "@" and ws["B2"].data_type == "s"
    assert ws["F2"].is_date and "yyyy" in ws["F2"].number_format
    assert ws["A1"].font.b


def test_xlsx_reads_in_calamine_with_dates_as_dates(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    write(path)
    df = pl.read_excel(path, engine="calamine")
    assert df.columns == COLUMNS
    assert isinstance(df.schema["signUpDate"], pl.Datetime)
    assert df.schema["identifyId"] == pl.String and df.schema["accountId"] == pl.String
    assert df.schema["globalUnsubscribe"] == pl.Boolean
    assert df.schema["score"].is_numeric() and df.schema["numberOfVisits"].is_numeric()
    assert df["signUpDate"].to_list() == [ms_datetime(SIGNUP_MS), None]
    assert df["customAttributes.renewal"][0] == ms_datetime(RENEW_MS)
    assert df["identifyId"].to_list() == ["000123", "u-2"]
    assert df["accountId"].to_list() == ["12345678901234567890", "0042"]


def test_xlsx_dates_keep_millisecond_precision_over_a_wide_range(tmp_path: Path) -> None:
    stamps = [0, 1, 999, 86_399_999, 951_782_400_000, SIGNUP_MS, 4_102_444_799_999, 1_234_567_890_123]
    path = tmp_path / "dates.xlsx"
    with open_writer(path, ["d"], date_columns={"d"}) as out:
        out.write_batch([{"d": ms} for ms in stamps])
    assert pl.read_excel(path, engine="calamine")["d"].to_list() == [ms_datetime(ms) for ms in stamps]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet", ".jsonl"])
def test_date_values_in_other_shapes_are_understood(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    records: list[dict[str, Any]] = [
        {"d": "2024-03-05T14:07:00.123Z"},
        {"d": str(SIGNUP_MS)},
        {"d": dt.datetime(2024, 3, 5, 14, 7, 0, 123_000, tzinfo=UTC)},
        {"d": SIGNUP_MS},
    ]
    with open_writer(path, ["d"], date_columns={"d"}) as out:
        out.write_batch(records)
    if suffix == ".parquet":
        assert set(pl.read_parquet(path)["d"].to_list()) == {
            dt.datetime(2024, 3, 5, 14, 7, 0, 123_000, tzinfo=UTC)
        }
    elif suffix == ".xlsx":
        assert set(pl.read_excel(path)["d"].to_list()) == {ms_datetime(SIGNUP_MS)}
    elif suffix == ".csv":
        assert set(pl.read_csv(path, infer_schema=False)["d"].to_list()) == {"2024-03-05T14:07:00.123Z"}
    else:
        assert {json.loads(line)["d"] for line in path.read_text().splitlines()} == {
            "2024-03-05T14:07:00.123Z"
        }


def test_an_unplaceable_date_keeps_its_raw_value(tmp_path: Path) -> None:
    for suffix in (".csv", ".xlsx", ".parquet"):
        path = tmp_path / f"d{suffix}"
        with open_writer(path, ["d"], date_columns={"d"}) as out:
            out.write_batch([{"d": SIGNUP_MS}, {"d": "someday"}])
        if suffix == ".csv":
            assert pl.read_csv(path, infer_schema=False)["d"].to_list() == [
                "2024-03-05T14:07:00.123Z",
                "someday",
            ]
        elif suffix == ".xlsx":
            values = [
                row[0] for row in openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True)
            ]
            assert values == [ms_datetime(SIGNUP_MS), "someday"]
        else:  # the column widens to text in that file rather than losing the value
            assert pl.read_parquet(path)["d"].to_list() == ["2024-03-05T14:07:00.123Z", "someday"]


def test_xlsx_big_integers_are_text_and_special_text_survives(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    texts = ["a<b>&c", "line1\nline2", "  padded  ", "tab\tinside", "ctl\x01char", "naïve — 日本", "_x0041_"]
    with open_writer(path, ["n", "t"]) as out:
        out.write_batch([{"n": 12345678901234567, "t": texts[0]}] + [{"t": t} for t in texts[1:]])
    values = [row for row in openpyxl.load_workbook(path).active.iter_rows(min_row=2, values_only=True)]
    assert values[0][0] == "12345678901234567"
    got = [row[1] for row in values]
    assert got[:4] == texts[:4] and got[5] == texts[5]
    assert "ctl" in got[4] and "char" in got[4]  # the control character is escaped, not fatal
    df = pl.read_excel(path, engine="calamine")
    assert df["t"].to_list()[:4] == texts[:4]


def test_xlsx_truncates_text_past_the_excel_cell_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    out = write(path, [{"identifyId": "u", "email": "x" * 40_000}])
    assert isinstance(out, XlsxWriter) and out.truncated_cells == 1
    assert len(openpyxl.load_workbook(path).active["C2"].value) == 32_767


# -- formula injection -----------------------------------------------------------------------------

FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]
SAFE_NUMBERS = ["-12.5", "+3"]


def _text_cells(path: Path) -> list[Any]:
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)["t"].to_list()
    return _first_column(path)


def test_formula_like_text_gets_a_quote_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with open_writer(path, ["t"]) as out:
        out.write_batch([{"t": v} for v in FORMULAS + SAFE_NUMBERS])
    assert _text_cells(path) == ["'" + v for v in FORMULAS] + SAFE_NUMBERS


def _quote_prefixed(path: Path) -> list[tuple[Any, bool]]:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    return [(c.value, bool(c.quotePrefix)) for row in sheet.iter_rows(min_row=2) for c in row]


def test_formula_like_text_keeps_its_value_with_the_quote_prefix_style_in_xlsx(tmp_path: Path) -> None:
    """A text cell in .xlsx never runs as a formula: the value stays exact (no visible `'`), the
    quotePrefix style keeps it text when someone edits the cell."""
    path = tmp_path / "f.xlsx"
    with open_writer(path, ["t"]) as out:
        out.write_batch([{"t": v} for v in FORMULAS + SAFE_NUMBERS + ["plain"]])
    assert _quote_prefixed(path) == [(v, True) for v in FORMULAS] + [(v, False) for v in SAFE_NUMBERS] + [
        ("plain", False)
    ]
    with open_writer(tmp_path / "ids.xlsx", ["identifyId"], id_columns={"identifyId"}) as out:
        out.write_batch([{"identifyId": "=evil"}, {"identifyId": "-0012"}, {"identifyId": 7.0}])
    assert _quote_prefixed(tmp_path / "ids.xlsx") == [("=evil", True), ("-0012", False), ("7", False)]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_raw_keeps_formula_like_text(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    with open_writer(path, ["t"], raw=True) as out:
        out.write_batch([{"t": v} for v in FORMULAS])
    cells = _text_cells(path)
    if suffix == ".csv":
        assert path.read_bytes().splitlines()[1] == b"=1+1"
        assert cells[:4] == FORMULAS[:4]
    else:
        assert cells == FORMULAS
        assert not any(quoted for _, quoted in _quote_prefixed(path))
        # a text cell, never a formula cell
        assert b"<f>" not in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")


def test_ids_are_neutralised_too_but_keep_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    with open_writer(path, ["identifyId"], id_columns={"identifyId"}) as out:
        out.write_batch([{"identifyId": "=evil"}, {"identifyId": "-0012"}, {"identifyId": 7.0}])
    assert pl.read_csv(path, infer_schema=False)["identifyId"].to_list() == ["'=evil", "-0012", "7"]


# -- xlsx sheets -------------------------------------------------------------------------------------


def test_xlsx_continues_on_new_sheets_with_the_same_header(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with open_writer(path, ["identifyId", "n"], id_columns={"identifyId"}, rows_per_sheet=4) as out:
        out.write_batch([{"identifyId": f"{i:04d}", "n": i} for i in range(7)])
        out.write_batch([{"identifyId": f"{i:04d}", "n": i} for i in range(7, 10)])
    assert isinstance(out, XlsxWriter) and out.sheet_names == ["Sheet1", "Sheet2", "Sheet3", "Sheet4"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Sheet1", "Sheet2", "Sheet3", "Sheet4"]
    seen = []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0] == ("identifyId", "n") and ws.freeze_panes == "A2"
        assert len(rows) <= 4
        seen.extend(rows[1:])
    assert seen == [(f"{i:04d}", i) for i in range(10)]
    sheets = pl.read_excel(path, sheet_id=0, engine="calamine")
    assert isinstance(sheets, dict)
    assert sum(df.height for df in sheets.values()) == 10


def test_xlsx_also_rolls_over_on_sheet_size(tmp_path: Path) -> None:
    path = tmp_path / "wide.xlsx"
    with open_writer(path, ["t"], sheet_bytes=2_000) as out:
        out.write_batch([{"t": "x" * 100} for _ in range(50)])
    assert isinstance(out, XlsxWriter) and len(out.sheet_names) > 1
    wb = openpyxl.load_workbook(path, read_only=True)
    assert sum(len(list(ws.iter_rows(min_row=2))) for ws in wb.worksheets) == 50


# -- late columns ------------------------------------------------------------------------------------

EARLY = [{"id": "1", "a": 1}, {"id": "2", "a": 2}]
LATE = [{"id": "3", "a": 3, "customAttributes": {"new": "x"}}, {"id": "4", "b": True}]


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_late_columns_keep_their_data(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"late{suffix}"
    options: dict[str, Any] = {"row_group_size": 2} if suffix == ".parquet" else {}
    with open_writer(path, ["id", "a"], id_columns={"id"}, **options) as out:
        out.write_batch(EARLY)
        out.write_batch(LATE)
    assert out.late_columns == ["customAttributes.new", "b"]
    assert out.columns == ["id", "a", "customAttributes.new", "b"]
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert rows[2]["customAttributes.new"] == "x" and rows[3]["b"] is True
        assert "b" not in rows[0]
        return
    if suffix == ".csv":
        df = pl.read_csv(path, infer_schema=False)
    elif suffix == ".xlsx":
        df = pl.read_excel(path, engine="calamine")
    else:
        df = pl.read_parquet(path)
    assert df.columns == ["id", "a", "customAttributes.new", "b"]
    assert df["id"].to_list() == ["1", "2", "3", "4"]
    assert df["customAttributes.new"].to_list() == [None, None, "x", None]
    assert [str(v).lower() if v is not None else None for v in df["b"].to_list()] == [
        None,
        None,
        None,
        "true",
    ]
    assert [None if v is None else int(v) for v in df["a"].to_list()] == [1, 2, 3, None]


def test_xlsx_late_column_fixes_the_header_of_every_sheet(tmp_path: Path) -> None:
    path = tmp_path / "late.xlsx"
    with open_writer(path, ["id"], rows_per_sheet=3) as out:
        out.write_batch([{"id": str(i)} for i in range(3)])
        out.write_batch([{"id": "3", "extra": 3.5}, {"id": "4"}])
    wb = openpyxl.load_workbook(path)
    assert [list(ws.iter_rows(values_only=True)) for ws in wb.worksheets] == [
        [("id", "extra"), ("0", None), ("1", None)],
        [("id", "extra"), ("2", None), ("3", 3.5)],
        [("id", "extra"), ("4", None)],
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["late.xlsx"]


def test_late_columns_ignored_when_the_columns_were_chosen(tmp_path: Path) -> None:
    path = tmp_path / "chosen.csv"
    with open_writer(path, ["id"], extra_columns="ignore") as out:
        out.write_batch(EARLY + LATE)
    assert out.late_columns == []
    assert pl.read_csv(path, infer_schema=False).columns == ["id"]


def test_parquet_widens_a_column_whose_values_change_type(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    with open_writer(path, ["n", "m"], row_group_size=2) as out:
        out.write_batch([{"n": 1, "m": 1}, {"n": 2, "m": True}])
        out.write_batch([{"n": 2.5, "m": 1}, {"n": None, "m": 2}])
        out.write_batch([{"n": 4, "m": "x"}])
    df = pl.read_parquet(path)
    assert df.schema["n"] == pl.Float64
    assert df["n"].to_list() == [1.0, 2.0, 2.5, None, 4.0]
    assert df.schema["m"] == pl.String
    assert df["m"].to_list() == ["1", "true", "1", "2", "x"]
    assert not [p for p in tmp_path.iterdir() if p.name != "wide.parquet"]


def test_parquet_column_types_can_be_declared(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    with open_writer(path, ["n", "when"], column_types={"n": "number", "when": "datetime"}) as out:
        out.write_batch([{"n": None}, {"n": 3, "when": SIGNUP_MS}])
    schema = pq.read_schema(path)
    assert str(schema.field("n").type) == "double"
    assert str(schema.field("when").type) == "timestamp[ms, tz=UTC]"


# -- commit, abort, overwrite ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_nothing_is_visible_until_close_and_abort_leaves_nothing(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    out = open_writer(path, COLUMNS, date_columns=DATES, id_columns=IDS)
    out.write_batch(RECORDS)
    assert not path.exists()
    assert [p.name.startswith(".out") for p in tmp_path.iterdir()] == [True] * len(list(tmp_path.iterdir()))
    out.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="aborted"):
        out.write_batch(RECORDS)


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_an_exception_inside_the_block_aborts(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    with pytest.raises(KeyboardInterrupt), open_writer(path, ["id"]) as out:
        out.write_batch([{"id": "1"}, {"id": "2", "late": 1}])
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_write_error_on_the_deflate_thread_reaches_the_caller_and_aborts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(self: XlsxWriter, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(XlsxWriter, "_write_entry", disk_full)
    with pytest.raises(OSError, match="No space"), open_writer(tmp_path / "full.xlsx", ["id"]) as out:
        for _ in range(20):
            out.write_batch([{"id": str(i)} for i in range(100)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_an_empty_export_is_a_valid_file_with_the_header(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    with open_writer(path, ["id", "when"], date_columns={"when"}):
        pass
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    if suffix == ".csv":
        assert path.read_bytes() == b"id,when\r\n"
    elif suffix == ".xlsx":
        assert list(openpyxl.load_workbook(path).active.iter_rows(values_only=True)) == [("id", "when")]
    elif suffix == ".parquet":
        assert pq.read_schema(path).names == ["id", "when"]
    else:
        assert path.read_text() == ""


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_never_overwrites_without_force(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    path.write_text("precious")
    with pytest.raises(OutputFileError) as caught:
        open_writer(path, ["id"])
    assert "already exists" in caught.value.message and "--force" in (caught.value.hint or "")
    assert path.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with open_writer(path, ["id"], force=True) as out:
        out.write_batch([{"id": "1"}])
    assert path.read_bytes() != b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_target_that_appears_during_the_export_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    out = open_writer(path, ["id"])
    out.write_batch([{"id": "1"}])
    path.write_text("someone else's")
    with pytest.raises(OutputFileError, match="appeared while exporting") as caught:
        out.close()
    assert path.read_text() == "someone else's"
    kept = [p for p in tmp_path.iterdir() if p != path]
    assert len(kept) == 1 and str(kept[0]) in caught.value.message  # the finished export is kept
    assert kept[0].read_bytes() == b"id\r\n1\r\n"


def test_unknown_suffix_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError) as caught:
        open_writer(tmp_path / "out.xls", ["id"])
    assert "'.xls'" in caught.value.message
    assert all(s in (caught.value.hint or "") for s in (".csv", ".xlsx", ".parquet", ".jsonl"))
    with pytest.raises(OutputFileError, match="no suffix"):
        open_writer(tmp_path / "out", ["id"])
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match="does not exist"):
        open_writer(tmp_path / "nope" / "out.csv", ["id"])


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    write(tmp_path / "OUT.XLSX")
    assert openpyxl.load_workbook(tmp_path / "OUT.XLSX").active["A2"].value == "000123"


def test_sheets_are_deflated_by_isal_into_a_standard_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ISA-L replaces zlib's compressor of the sheet entries: the zip's CRCs and streams stay
    standard (zipfile's own check, openpyxl's read)."""
    from isal import isal_zlib

    compressors: list[str] = []
    opened = XlsxWriter._open_entry

    def spy(self: XlsxWriter, number: int, prefix: bytes) -> None:
        opened(self, number, prefix)
        compressors.append(type(self._sheet._compressor).__module__)  # type: ignore[union-attr]

    monkeypatch.setattr(XlsxWriter, "_open_entry", spy)
    path = tmp_path / "u.xlsx"
    writer = open_writer(path, ["identifyId", "n"], rows_per_sheet=3_000)
    writer.write_frame(pl.DataFrame({"identifyId": [f"u{i}" for i in range(5_000)], "n": list(range(5_000))}))
    writer.close()
    assert compressors == [isal_zlib.__name__.rpartition(".")[2]] * 2  # two sheets, both by ISA-L
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    book = openpyxl.load_workbook(path, read_only=True)
    assert [row for row in book.worksheets[1].iter_rows(min_row=2_002, values_only=True)] == [("u4999", 4999)]
