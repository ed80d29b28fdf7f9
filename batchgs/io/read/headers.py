"""Header rules shared by the CSV and XLSX readers: names present, unique, BOM-free.

A header names the API field a column feeds, so a blank or repeated header is an error the user
must fix, reported with the column's position. One tolerance: a column with a blank header AND no
data at all (Excel's trailing `,,,` after a formatted but empty column, or a spacer column) is
dropped; the reader checks the data and calls `blank_column_error` if any cell is filled.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchgs.errors import InputFileError


@dataclass(frozen=True)
class HeaderPlan:
    """Which physical columns are handed out (`keep`, with their header texts) and which are blank."""

    keep: list[int]
    headers: list[str]
    blank: list[int]


def excel_column_letter(index: int) -> str:
    """0-based column index to Excel's letters: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def plan_headers(path: str, raw: list[str | None], labels: list[str]) -> HeaderPlan:
    """Check the header cells; `labels[i]` names physical column i for messages ("column 3", "column C")."""
    cleaned = [(cell or "").lstrip("\ufeff") if i == 0 else (cell or "") for i, cell in enumerate(raw)]
    keep = [i for i, cell in enumerate(cleaned) if cell.strip()]
    blank = [i for i, cell in enumerate(cleaned) if not cell.strip()]
    if not keep:
        raise InputFileError(
            "its first row (the header row) is empty",
            path=path,
            row=1,
            hint="put the column names in row 1, above the data",
        )
    seen: dict[str, int] = {}
    for i in keep:
        key = cleaned[i].strip()
        if key in seen:
            raise InputFileError(
                f"the header {key!r} appears twice ({labels[seen[key]]} and {labels[i]})",
                path=path,
                row=1,
                hint="rename or delete one of the two columns",
            )
        seen[key] = i
    return HeaderPlan(keep=keep, headers=[cleaned[i] for i in keep], blank=blank)


def blank_column_error(path: str, label: str, row: int) -> InputFileError:
    """A column without a header holds data: it cannot be mapped to any field."""
    return InputFileError(
        f"{label} has no header in row 1 but holds data",
        path=path,
        row=row,
        hint=f"type a column name in row 1 of {label}, or delete the column",
    )
