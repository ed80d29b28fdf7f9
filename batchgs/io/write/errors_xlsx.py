"""errors.csv → errors.xlsx for people whose input was a workbook.

Streamed both ways: the CSV is read a line at a time and xlsxwriter runs in constant_memory mode, so a
report of a million rows costs the same memory as one of ten. Every cell is written as TEXT with a text
number format, so ids such as `00123` or `1234567890123456789` stay exactly as they were (Excel would
otherwise turn them into numbers and lose digits). The cells arrive already neutralised against formula
injection by batchgs.reports.row_reports; write_string never makes a formula either. The header row
is bold and frozen. Past Excel's 1,048,576 rows the report continues on further sheets, each with the header.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (xlsxwriter, and the zipfile it brings, is imported only when a report is made)
    import xlsxwriter
    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

XLSX_MAX_ROWS = 1_048_576  # rows per sheet, header included
MIN_WIDTH = 8
MAX_WIDTH = 60


def csv_to_xlsx(
    csv_path: Path,
    xlsx_path: Path,
    *,
    sheet_name: str = "errors",
    tmpdir: Path | None = None,
    max_rows_per_sheet: int = XLSX_MAX_ROWS,
) -> int:
    """Write the CSV at `csv_path` as a workbook at `xlsx_path`; return the number of data rows.

    `tmpdir` is where xlsxwriter keeps its per-sheet temporary files: pass the run folder so that the
    personal data in them never lands in a shared /tmp.
    """
    options: dict[str, object] = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    if tmpdir is not None:
        options["tmpdir"] = str(tmpdir)
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(xlsx_path), options)
    try:
        text = workbook.add_format({"num_format": "@"})
        header_format = workbook.add_format({"num_format": "@", "bold": True})
        written = 0
        with open(csv_path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            sheet: Worksheet | None = None
            sheet_row = 0
            for record in reader:
                if sheet is None or sheet_row >= max_rows_per_sheet:
                    sheet = _new_sheet(workbook, sheet_name, header, header_format, text)
                    sheet_row = 1
                for column, value in enumerate(record):
                    sheet.write_string(sheet_row, column, value, text)
                sheet_row += 1
                written += 1
            if sheet is None:  # no data rows: still a sheet with the header
                _new_sheet(workbook, sheet_name, header, header_format, text)
    finally:
        workbook.close()
    return written


def _new_sheet(
    workbook: xlsxwriter.Workbook,
    base_name: str,
    header: list[str],
    header_format: Format,
    text: Format,
) -> Worksheet:
    number = len(workbook.worksheets()) + 1
    sheet = workbook.add_worksheet(base_name if number == 1 else f"{base_name} ({number})")
    for column, name in enumerate(header):  # constant_memory: widths before any row is written
        sheet.set_column(column, column, max(MIN_WIDTH, min(MAX_WIDTH, len(name) + 2)), text)
    for column, name in enumerate(header):
        sheet.write_string(0, column, name, header_format)
    sheet.freeze_panes(1, 0)
    return sheet
