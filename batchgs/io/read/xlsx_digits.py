"""Numbers of an .xlsx read with the digits the file holds, not through a float64.

calamine hands every number cell over as a float64, which holds whole numbers exactly only up to
2**53 (16 digits): an 18-digit id such as 123456789012345678 comes back as 123456789012345696, and
in a column mixing text and numbers it is then rendered as that wrong text, indistinguishable from
a real id. The sheet XML has the cell's own text (`<v>123456789012345678</v>` when the writing tool
kept every digit, `<v>1.234567890123457E+17</v>` when it did not). For the few columns where it
matters — a number cell of 16 digits or more — the cells are re-read from the XML and the column
becomes text holding exactly what the file says, so that validation sends the exact digits or, for
the `E+17` form, reports the id as damaged. Nothing is ever converted.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import polars as pl
from defusedxml.ElementTree import iterparse

from batchgs.io.read.headers import excel_column_letter

BIG_NUMBER = 1e15  # 16 digits and more: past what Excel keeps, near what a float64 holds exactly
RENDERED_BIG = r"^-?\d{16,}$"  # how calamine renders such a float inside a text column
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def suspect_columns(frame: pl.DataFrame) -> list[str]:
    """Columns holding a number cell of 16+ digits (as a number, or rendered as text in a mixed column)."""
    return [name for name, dtype in frame.schema.items() if _has_big_number(frame.get_column(name), dtype)]


def _has_big_number(column: pl.Series, dtype: pl.DataType) -> bool:
    if dtype.is_numeric():
        return bool((column.abs() >= BIG_NUMBER).any())
    return dtype == pl.String and bool(column.str.contains(RENDERED_BIG).any())


def with_exact_numbers(path: Path, part: str, frame: pl.DataFrame, positions: dict[str, int]) -> pl.DataFrame:
    """`frame` with its suspect columns as text, number cells taken verbatim from `part`'s XML.

    `positions`: frame column → 0-based sheet column. Frame row i is the i-th row after the header
    row (the first sheet row holding a cell), empty rows included, as the reader loads it.
    """
    suspects = [name for name in suspect_columns(frame) if name in positions]
    if not suspects:
        return frame
    wanted = {excel_column_letter(positions[name]): name for name in suspects}
    numbers, header_row = _number_cells(path, part, set(wanted))
    if header_row is None:
        return frame
    updates = []
    for letters, name in wanted.items():
        cells = numbers.get(letters, {})
        index = [row - header_row - 1 for row in cells]
        keep = [(i, text) for i, text in zip(index, cells.values(), strict=True) if 0 <= i < frame.height]
        if not keep:
            continue
        text = _as_text(frame.get_column(name))
        rows = pl.Series([i for i, _ in keep], dtype=pl.UInt32)
        text.scatter(rows, pl.Series([t for _, t in keep], dtype=pl.String))
        updates.append(text.alias(name))
    return frame.with_columns(updates) if updates else frame


def _as_text(column: pl.Series) -> pl.Series:
    if column.dtype == pl.String:
        return column.clone()
    return column.cast(pl.String)


def _number_cells(path: Path, part: str, letters: set[str]) -> tuple[dict[str, dict[int, str]], int | None]:
    """({column letters: {sheet row: <v> text}} for the number cells of `letters`, first row with a cell)."""
    found: dict[str, dict[int, str]] = {}
    first_row: int | None = None
    with zipfile.ZipFile(path) as archive, archive.open(part) as stream:
        for _event, element in iterparse(stream, events=("end",)):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "row":
                element.clear()
                continue
            if tag != "c":
                continue
            match = _CELL_REF.match(element.get("r", ""))
            if match is None:
                continue
            row = int(match.group(2))
            if first_row is None:
                first_row = row
            if match.group(1) in letters and element.get("t", "n") == "n":
                value = next((child.text for child in element if child.tag.rsplit("}", 1)[-1] == "v"), None)
                if value is not None:
                    found.setdefault(match.group(1), {})[row] = value.strip()
    return found, first_row
