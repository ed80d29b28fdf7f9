"""Find the first malformed record of a CSV file, so a parse error can name its spreadsheet row.

Polars stops on a malformed file with a message about internal chunks. This slower, careful re-read
runs only after such a failure and reports the row a person sees (header = row 1) and the reason:
more cells than the header, a quote inside an unquoted cell, text after a closing quote, or a quote
that is never closed.
"""

from __future__ import annotations

from pathlib import Path

_NEVER_CLOSED = 'has an opening quote (") that is never closed'
# (spreadsheet row, 1-based column position or None, message, hint)
Problem = tuple[int, int | None, str, str]

_QUOTE_HINT = (
    'put quotes around the whole cell and double the quotes inside it ("5"" pipe"), '
    "as Excel does when it saves a CSV"
)


def find_malformed_record(path: Path, delimiter: str, width: int) -> Problem | None:
    """Scan the UTF-8 file record by record; the first problem found, or None if none is."""
    row = 0
    record = ""
    open_quotes = False
    with path.open("r", encoding="utf-8", newline="\n") as handle:
        for line in handle:
            if not record and '"' in line:  # a stray quote would otherwise look like an opening one
                column, reason = _scan_quoted(line.rstrip("\r\n"), delimiter)
                if reason is not None and reason != _NEVER_CLOSED:
                    return row + 1, column, reason, _QUOTE_HINT
            record += line
            if line.count('"') % 2:
                open_quotes = not open_quotes
            if open_quotes:
                continue
            row += 1
            problem = _check_record(record, delimiter, width, row)
            if problem is not None:
                return problem
            record = ""
    if open_quotes:
        return (
            row + 1,
            None,
            _NEVER_CLOSED,
            "close the quote, or double it if it belongs to the text",
        )
    return None


def _check_record(record: str, delimiter: str, width: int, row: int) -> Problem | None:
    text = record[:-1] if record.endswith("\n") else record
    text = text[:-1] if text.endswith("\r") else text
    if '"' in text:
        column, reason = _scan_quoted(text, delimiter)
        if reason is not None:
            return row, column, reason, _QUOTE_HINT
        cells = column
    else:
        cells = text.count(delimiter) + 1
    if text and cells > width:
        return (
            row,
            None,
            f"has {cells} cells but the header has {width}",
            "remove the extra cells, or put quotes around a cell that contains the delimiter "
            f"({delimiter!r})",
        )
    return None


def _scan_quoted(text: str, delimiter: str) -> tuple[int, str | None]:
    """Walk one record: (number of cells, None) or (column of the problem, what is wrong)."""
    column, index, at_cell_start, length = 1, 0, True, len(text)
    while index < length:
        char = text[index]
        if at_cell_start and char == '"':
            search = index + 1
            while True:
                close = text.find('"', search)
                if close < 0:
                    return column, _NEVER_CLOSED
                if text.startswith('""', close):
                    search = close + 2
                    continue
                break
            index = close + 1
            if index < length and text[index] != delimiter:
                return column, 'has text after the closing quote (") of a quoted cell'
            at_cell_start = False
            continue
        if char == delimiter:
            column += 1
            at_cell_start = True
        elif char == '"':
            return column, 'has a quote (") inside a cell that does not start with a quote'
        else:
            at_cell_start = False
        index += 1
    return column, None
