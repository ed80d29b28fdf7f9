"""XLSX: one worksheet read with calamine (fastexcel) into typed Polars columns.

calamine parses a 100,000 x 12 sheet about 20x faster than openpyxl's read-only mode (see
bench/read_xlsx.py), and reads formulas as their cached values. The whole sheet is loaded at once:
Excel itself caps a sheet at 1,048,576 rows, so memory is bounded by that, not by a stream.

Types are the cells' own: text, numbers (Int64 when every number is whole), booleans, dates (Date
when every time is midnight) and datetimes. A column with a number of 16 digits or more comes as
text with the digits the sheet XML holds (batchgs.io.read.xlsx_digits): a float64 would change them.
A column mixing types comes as text, with date cells rendered ISO-8601 ("2024-03-04",
"2024-03-04T05:06:07"). Rows are addressed absolutely: the header is row 1 and the i-th data row
(0-based) is row i + 2, empty rows included, so errors name the row a person sees in Excel.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl
from defusedxml import ElementTree

from batchgs.errors import InputFileError
from batchgs.io.read.headers import blank_column_error, excel_column_letter, plan_headers
from batchgs.io.read.xlsx_digits import with_exact_numbers
from batchgs.io.read.xlsx_safety import XlsxScan

# fastexcel logs "Could not determine dtype for column N" for every empty column; that is expected.
logging.getLogger("fastexcel").addHandler(logging.NullHandler())

_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$"  # how calamine renders a date as text
_DEDUPED_NAME = re.compile(r"^(.*)_\d+$")  # fastexcel renames a repeated header "a" to "a_1"
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_SMALL_PART = 16 << 20


@dataclass
class XlsxSheet:
    """A loaded worksheet: its name, header texts, typed data rows and notes for the user."""

    name: str
    headers: list[str]
    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def read_sheet(path: Path, sheet: str | None, scan: XlsxScan) -> XlsxSheet:
    """Load `sheet` (default: the first) of a workbook already passed by `check_xlsx`."""
    display = str(path)
    try:
        reader = fastexcel.read_excel(str(path))
        name = _choose_sheet(display, list(reader.sheet_names), sheet)
        try:  # one parse when every column holds one type of cell (the common case)
            loaded = reader.load_sheet(
                name, header_row=0, skip_rows=0, schema_sample_rows=None, dtype_coercion="strict"
            )
            mixed = False
        except fastexcel.UnsupportedColumnTypeCombinationError:
            loaded = reader.load_sheet(
                name, header_row=0, skip_rows=0, schema_sample_rows=None, dtype_coercion="coerce"
            )
            mixed = True
        columns = loaded.available_columns()
        frame = loaded.to_polars()
    except InputFileError:
        raise
    except Exception as exc:  # fastexcel/calamine errors share no public base class worth naming
        raise InputFileError(
            f"could not be read as an Excel workbook ({_first_line(exc)})",
            path=display,
            hint="open it in Excel and save it again as .xlsx",
        ) from None
    if not columns:
        raise InputFileError(f"sheet {name!r} is empty", path=display, hint="pick another sheet")
    fe_names = [column.name for column in columns]
    positions = [column.absolute_index for column in columns]
    labels = [f"column {excel_column_letter(p)}" for p in positions]
    raw_headers: list[str | None] = list(fe_names)
    name_set = set(fe_names)
    if any(
        column.column_name_from != "looked_up"
        or ((match := _DEDUPED_NAME.match(column.name)) and match.group(1) in name_set)
        for column in columns
    ):
        raw_headers = _raw_header_row(reader, name, positions)
    plan = plan_headers(display, raw_headers, labels)
    for index in plan.blank:
        filled = frame.get_column(fe_names[index]).is_not_null()
        if filled.any():
            raise blank_column_error(display, labels[index], int(filled.arg_true()[0]) + 2)
    frame = frame.select([fe_names[i] for i in plan.keep])
    if frame.height == 0 or frame.select(pl.all_horizontal(pl.all().is_null()).all()).item():
        raise InputFileError(
            f"sheet {name!r} has a header row but no data rows", path=display, hint="add rows below row 1"
        )
    part = _sheet_parts(path).get(name)
    if part is not None:  # before any cast: 16+ digit numbers get the file's own digits
        kept_positions = {fe_names[i]: positions[i] for i in plan.keep}
        frame = with_exact_numbers(path, part, frame, kept_positions)
    if mixed:
        has_booleans = scan.boolean_parts if part is None else {part} & scan.boolean_parts
        frame = _refine_mixed(reader, name, frame, bool_cells=bool(has_booleans))
    frame = _cast_whole_and_midnight(frame)
    frame.columns = plan.headers
    warnings = []
    if plan.blank:
        ignored = ", ".join(labels[i] for i in plan.blank)
        warnings.append(f"{display}: ignored empty column(s) without a header: {ignored}")
    if part in scan.error_parts or (part is None and scan.error_parts):
        warnings.append(
            f"{display}: sheet {name!r} has formula error cells (#N/A, #DIV/0!, ...); they are read as empty"
        )
    return XlsxSheet(name=name, headers=plan.headers, frame=frame, warnings=warnings)


def _choose_sheet(path: str, names: list[str], wanted: str | None) -> str:
    if not names:
        raise InputFileError("has no worksheets", path=path)
    if wanted is None:
        return names[0]
    if wanted in names:
        return wanted
    loose = [n for n in names if n.strip().casefold() == wanted.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    listed = ", ".join(repr(n) for n in names)
    raise InputFileError(
        f"has no sheet named {wanted!r}; its sheets are: {listed}", path=path, hint="pick one of these"
    )


def _raw_header_row(reader: Any, sheet: str, positions: list[int]) -> list[str | None]:
    """Row 1 exactly as typed (fastexcel renames blank and repeated headers; we must see them)."""
    row = reader.load_sheet(sheet, header_row=None, skip_rows=0, n_rows=1, dtypes="string")
    values = row.to_polars().row(0) if row.height else ()
    by_position = {c.absolute_index: v for c, v in zip(row.available_columns(), values, strict=False)}
    return [_iso_if_datetime_text(by_position.get(p)) for p in positions]


def _iso_if_datetime_text(value: str | None) -> str | None:
    if value is not None and re.match(_DATETIME_TEXT, value):
        date, _, time = value.partition(" ")
        return date if time.startswith("00:00:00") and not time.strip("0:.") else f"{date}T{time}"
    return value


def _refine_mixed(reader: Any, sheet: str, frame: pl.DataFrame, *, bool_cells: bool) -> pl.DataFrame:
    """Undo what calamine's per-column coercion gets wrong for us, re-reading only suspect columns.

    Only needed when some column mixes cell types (the strict load failed):
    - booleans mixed with numbers are coerced to floats (TRUE -> 1.0): re-read as text instead;
    - dates inside a text column are rendered "2024-03-04 00:00:00": re-render them ISO-8601.
    """
    as_text = [c for c, t in frame.schema.items() if t == pl.Float64] if bool_cells else []
    with_dates = [
        c
        for c, t in frame.schema.items()
        if t == pl.String and frame.get_column(c).str.contains(_DATETIME_TEXT).any()
    ]
    if not as_text and not with_dates:
        return frame
    dtypes = {**dict.fromkeys(as_text, "string"), **dict.fromkeys(with_dates, "datetime")}
    again = reader.load_sheet(
        sheet, header_row=0, skip_rows=0, use_columns=[*as_text, *with_dates], dtypes=dtypes
    ).to_polars()
    if again.height != frame.height:  # cannot align the cells: keep calamine's own coercion
        return frame
    updates = [again.get_column(c) for c in as_text if again.get_column(c).is_in(["true", "false"]).any()]
    updates += [_render_dates(frame.get_column(c), again.get_column(c)) for c in with_dates]
    return frame.with_columns(updates) if updates else frame


def _cast_whole_and_midnight(frame: pl.DataFrame) -> pl.DataFrame:
    """Untyped (all-empty) columns to text, whole floats to Int64, midnight-only datetimes to Date."""
    casts: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        if dtype == pl.Null:
            casts.append(pl.col(name).cast(pl.String))
        elif dtype == pl.Float64 and _all_whole(column):
            casts.append(pl.col(name).cast(pl.Int64))
        elif isinstance(dtype, pl.Datetime) and _all_midnight(column):
            casts.append(pl.col(name).cast(pl.Date))
    return frame.with_columns(casts) if casts else frame


def _render_dates(text: pl.Series, when: pl.Series) -> pl.Series:
    """Cells that are real dates (non-null when read as datetime, shown as date text) in ISO-8601."""
    moment, shown = pl.col("moment"), pl.col("shown")
    iso = (
        pl.when(moment.dt.time() == pl.time(0))
        .then(moment.dt.strftime("%Y-%m-%d"))
        .when(moment.dt.millisecond() == 0)
        .then(moment.dt.strftime("%Y-%m-%dT%H:%M:%S"))
        .otherwise(moment.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
    )
    is_date_cell = moment.is_not_null() & shown.str.contains(_DATETIME_TEXT)
    both = pl.DataFrame({"shown": text, "moment": when.cast(pl.Datetime("ms"))})
    return both.select(pl.when(is_date_cell).then(iso).otherwise(shown)).to_series().alias(text.name)


def _all_whole(column: pl.Series) -> bool:
    values = column.drop_nulls()
    if values.is_empty():
        return False
    finite = values.is_finite().all()
    return bool(finite and (values == values.floor()).all() and (values.abs() < 2**63).all())


def _all_midnight(column: pl.Series) -> bool:
    values = column.drop_nulls()
    return not values.is_empty() and bool((values.dt.time() == dt.time(0)).all())


def _sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> worksheet part ("xl/worksheets/sheet1.xml"), from workbook.xml and its rels."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            wanted = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")
            if any(n not in infos or infos[n].file_size > _SMALL_PART for n in wanted):
                return {}
            workbook = ElementTree.fromstring(archive.read(wanted[0]))
            rels = ElementTree.fromstring(archive.read(wanted[1]))
    except Exception:  # the mapping only sharpens a hint; without it the reader is just more cautious
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    parts: dict[str, str] = {}
    for sheet in workbook.iter(f"{_MAIN_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"), "")
        if target:
            joined = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            parts[sheet.get("name", "")] = posixpath.normpath(joined)
    return parts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
