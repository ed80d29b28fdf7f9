"""Blank, documented import templates (.xlsx, .csv, .tsv) generated from the entity specs.

Row 2 is an example, marked by a value in the last column, `_example`: the reader skips such rows
(batchgs.io.validate.file), so an example is never sent, even when left in the file.
The .xlsx is the one people should start from: id columns are text-formatted for the whole column (so
Excel keeps leading zeros and long ids), enums and booleans have dropdowns, dates have a date format, and
a "Columns" sheet documents every column. Output is reproducible (fixed timestamps), so `templates/` can be
regenerated and diffed: `python -m batchgs.io.templates templates` (`make templates`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from batchgs.entities import registry
from batchgs.entities.spec import Column, ColumnType, EntitySpec
from batchgs.errors import OutputFileError
from batchgs.io.entity_docs import column_docs, template_columns
from batchgs.io.rows import EXAMPLE_COLUMN, EXAMPLE_MARK
from batchgs.io.write.safe_cells import neutralise

SUFFIXES = (".xlsx", ".csv", ".tsv")
TEXT_FORMAT = "@"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
EXCEL_MAX_ROW = 1_048_576
BOOLEAN_CHOICES = ("TRUE", "FALSE")  # Excel turns a typed true/false into a boolean cell anyway
FIXED_TIMESTAMP = datetime(2024, 1, 1)  # workbook properties: regenerated files are byte-identical
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MAX_INLINE_LIST = 255  # Excel's limit for a list typed into a data validation
COLUMNS_SHEET = "Columns"
_LISTS_SHEET = "Lists"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
_DOC_HEADERS = ("column", "type", "required", "allowed values", "limits", "description", "example")
_DOC_WIDTHS = (30, 12, 22, 40, 28, 80, 30)


def write_template(spec: EntitySpec, path: Path, *, force: bool = False) -> Path:
    """Write a blank template for `spec` to `path` (.xlsx, .csv or .tsv, by suffix); returns the path.

    Refuses to replace an existing file unless `force`; the file appears whole or not at all.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise OutputFileError(
            f"{path}: cannot write a template as {suffix or 'a file without suffix'!r}",
            hint=f"use one of {', '.join(SUFFIXES)}",
        )
    if path.exists() and not force:
        raise OutputFileError(f"{path}: file exists", hint="use --force to replace it")
    if path.is_dir():
        raise OutputFileError(f"{path}: is a folder")
    data = (
        _xlsx_bytes(spec) if suffix == ".xlsx" else _delimited_bytes(spec, "\t" if suffix == ".tsv" else ",")
    )
    _write_atomically(path, data)
    return path


def template_header(spec: EntitySpec) -> list[str]:
    """The header row of a template: the API field name of every writable column."""
    return [col.name for col in template_columns(spec)]


def example_cell(column: Column) -> Any:
    """The example value as an .xlsx cell: real numbers, booleans and dates; ids and text as text."""
    text = column.example
    if text == "":
        return None
    kind = column.type
    if kind is ColumnType.INTEGER:
        return int(text)
    if kind is ColumnType.NUMBER:
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if kind is ColumnType.BOOLEAN:
        return text.strip().lower() in ("true", "yes", "y", "1")
    if kind is ColumnType.DATETIME:
        return _naive_utc(text)
    if kind is ColumnType.DATE:
        return date.fromisoformat(text)
    return text


def _naive_utc(text: str) -> datetime:
    """An example date-time as the naive UTC datetime an Excel cell holds (the import default is UTC)."""
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC).replace(tzinfo=None)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _delimited_bytes(spec: EntitySpec, delimiter: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    columns = template_columns(spec)
    writer.writerow([*(col.name for col in columns), EXAMPLE_COLUMN])
    writer.writerow([*(neutralise(col.example) for col in columns), EXAMPLE_MARK])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8, not cp1252


def _xlsx_bytes(spec: EntitySpec) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = spec.name[:31]
    columns_sheet = workbook.create_sheet(COLUMNS_SHEET)  # before a "Lists" sheet, if one is needed
    _fill_data_sheet(workbook, sheet, spec)
    _fill_columns_sheet(columns_sheet, spec)
    workbook.properties.creator = "batchgs"
    workbook.properties.title = f"batchgs {spec.name} import template"
    workbook.properties.created = FIXED_TIMESTAMP
    workbook.properties.modified = FIXED_TIMESTAMP
    workbook.active = 0
    raw = io.BytesIO()
    workbook.save(raw)
    return _reproducible_zip(raw.getvalue())


def _fill_data_sheet(workbook: Workbook, sheet: Worksheet, spec: EntitySpec) -> None:
    columns = template_columns(spec)
    docs = {doc.name: doc for doc in column_docs(spec)}
    for index, col in enumerate(columns, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index, value=col.name)
        header.data_type = "s"  # never a formula, whatever the name
        header.font = _HEADER_FONT
        required = docs[col.name].required.startswith(("always", "on create"))
        header.fill = _REQUIRED_FILL if required else _HEADER_FILL
        example = sheet.cell(row=2, column=index, value=example_cell(col))
        if isinstance(example.value, str):
            example.data_type = "s"
        number_format = _column_format(col)
        dimension = sheet.column_dimensions[letter]
        dimension.width = min(max(len(col.name), len(col.example), 8) + 3, 50)
        if number_format:
            dimension.number_format = number_format  # applies to cells typed later, too
            header.number_format = TEXT_FORMAT
            example.number_format = number_format
        _add_validation(workbook, sheet, col, letter)
    marker = len(columns) + 1
    sheet.cell(row=1, column=marker, value=EXAMPLE_COLUMN).font = _HEADER_FONT
    sheet.cell(row=2, column=marker, value=EXAMPLE_MARK).data_type = "s"
    sheet.column_dimensions[get_column_letter(marker)].width = 50
    sheet.freeze_panes = "A2"


def _column_format(col: Column) -> str | None:
    if col.type is ColumnType.ID:
        return TEXT_FORMAT
    if col.type is ColumnType.DATETIME:
        return DATETIME_FORMAT
    if col.type is ColumnType.DATE:
        return DATE_FORMAT
    return None


def _add_validation(workbook: Workbook, sheet: Worksheet, col: Column, letter: str) -> None:
    """Dropdowns for enums and booleans (blank allowed), a length check where the spec has a limit."""
    target = f"{letter}2:{letter}{EXCEL_MAX_ROW}"
    validation: DataValidation | None = None
    if col.type in (ColumnType.ENUM, ColumnType.BOOLEAN):
        choices = col.enum if col.type is ColumnType.ENUM else BOOLEAN_CHOICES
        validation = DataValidation(type="list", formula1=_list_formula(workbook, col.name, choices))
        validation.error = f"{col.name} must be one of: {', '.join(choices)}"[:255]
        validation.errorTitle = "Not an allowed value"
    elif col.max_length is not None:
        validation = DataValidation(
            type="textLength", operator="lessThanOrEqual", formula1=str(col.max_length)
        )
        validation.error = f"{col.name} takes at most {col.max_length} characters"
        validation.errorTitle = "Too long"
    if validation is None:
        return
    validation.allow_blank = True
    validation.showErrorMessage = True
    validation.add(target)
    sheet.add_data_validation(validation)


def _list_formula(workbook: Workbook, name: str, choices: Sequence[str]) -> str:
    """An inline list when Excel allows it, else a range on a hidden "Lists" sheet."""
    inline = ",".join(choices)
    if len(inline) <= _MAX_INLINE_LIST and not any(("," in c or '"' in c) for c in choices):
        return f'"{inline}"'
    if _LISTS_SHEET in workbook.sheetnames:
        lists = workbook[_LISTS_SHEET]
    else:
        lists = workbook.create_sheet(_LISTS_SHEET)
        lists.sheet_state = "hidden"
    column = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value is not None else 1
    lists.cell(row=1, column=column, value=name).data_type = "s"
    for row, choice in enumerate(choices, start=2):
        lists.cell(row=row, column=column, value=choice).data_type = "s"
    letter = get_column_letter(column)
    return f"{quote_sheetname(_LISTS_SHEET)}!${letter}$2:${letter}${len(choices) + 1}"


def _fill_columns_sheet(sheet: Worksheet, spec: EntitySpec) -> None:
    """Sheet 2: one row per template column, so the file documents itself when mailed around."""
    for index, (title, width) in enumerate(zip(_DOC_HEADERS, _DOC_WIDTHS, strict=True), start=1):
        cell = sheet.cell(row=1, column=index, value=title)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        sheet.column_dimensions[get_column_letter(index)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row, doc in enumerate(column_docs(spec), start=2):
        values = (doc.name, doc.type, doc.required, doc.allowed, doc.limits, doc.description, doc.example)
        for index, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=index, value=value or None)
            cell.data_type = "s"  # a string cell is never run as a formula, so no quote is needed
            cell.number_format = TEXT_FORMAT
            cell.alignment = wrap
    sheet.freeze_panes = "A2"


def _reproducible_zip(data: bytes) -> bytes:
    """Re-pack an .xlsx with fixed entry timestamps and a fixed `modified` property (openpyxl stamps now)."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with ZipFile(io.BytesIO(data)) as source, ZipFile(out, "w", ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", content
                )
            entry = ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputFileError(f"{path}: folder {str(folder)!r} does not exist")
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def workbook_snapshot(path: Path) -> dict[str, Any]:
    """Everything a person sees in a template .xlsx, as plain data, for comparing two files by content."""
    workbook = load_workbook(path)
    sheets: dict[str, Any] = {}
    for sheet in workbook.worksheets:
        sheets[sheet.title] = {
            "state": sheet.sheet_state,
            "freeze": sheet.freeze_panes,
            "cells": [
                [(cell.value, cell.number_format, bool(cell.font.b), cell.fill.fgColor.rgb) for cell in row]
                for row in sheet.iter_rows()
            ],
            "columns": {
                letter: (dim.width, dim.number_format)
                for letter, dim in sorted(sheet.column_dimensions.items())
            },
            "validations": sorted(
                (str(v.sqref), v.type, v.formula1, v.operator, bool(v.allow_blank), v.error)
                for v in sheet.data_validations.dataValidation
            ),
        }
    return {"sheets": list(workbook.sheetnames), "content": sheets}


def template_files(spec: EntitySpec) -> tuple[str, str]:
    """The file names of `spec`'s templates in templates/."""
    return f"{spec.name}.xlsx", f"{spec.name}.csv"


def write_all(folder: Path) -> list[Path]:
    """(Re)generate templates/<entity>.xlsx and .csv for every entity."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in registry.all_specs():
        for name in template_files(spec):
            written.append(write_template(spec, folder / name, force=True))
    return written


def stale_templates(folder: Path) -> list[str]:
    """Names of files in `folder` that differ from freshly generated templates (missing, extra, changed)."""
    problems = []
    with tempfile.TemporaryDirectory() as fresh_dir:
        fresh = Path(fresh_dir)
        write_all(fresh)
        expected = {p.name for p in fresh.iterdir()}
        actual = {p.name for p in folder.glob("*") if p.suffix in SUFFIXES} if folder.is_dir() else set()
        problems += [f"{name} is missing" for name in sorted(expected - actual)]
        problems += [f"{name} has no entity" for name in sorted(actual - expected)]
        for name in sorted(expected & actual):
            if name.endswith(".xlsx"):
                same = workbook_snapshot(fresh / name) == workbook_snapshot(folder / name)
            else:
                same = (fresh / name).read_bytes() == (folder / name).read_bytes()
            if not same:
                problems.append(f"{name} differs from the entity spec")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m batchgs.io.templates DIR", file=sys.stderr)
        return 2
    for path in write_all(Path(args[0])):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
