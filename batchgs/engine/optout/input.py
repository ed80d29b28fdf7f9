"""The opt-out list: a CSV/TSV/XLSX with an `identifyId` or an `email` column, one person per row.

Headers match as everywhere in batchgs (case, spaces, `_` and `-` ignored: `Identify ID`, `E-mail`);
columns starting with `_` (a receipt's or pending.csv's own) and any others are not used. A row names
its person by identifyId, else by email (also when the id is one a spreadsheet or a tool turned into
a number, `1.23457E+17` or `123.0`). Rows with neither, or with an email that is not valid by
batchgs.entities.email (the definition validate and the sandbox share: `o'brien@…`, `josé@…` are valid),
are kept as invalid rows (reported by row, never sent); fully empty rows are skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from batchgs.entities.email import email_problem
from batchgs.errors import InputFileError
from batchgs.io.mapping import normalise
from batchgs.io.read.tables import open_table
from batchgs.io.validate.convert import DECIMAL_TEXT_ID, SCIENTIFIC_PATTERN
from batchgs.io.write.safe_cells import is_formula_like

ID_FORMS = {"identifyid"}
EMAIL_FORMS = {"email", "emailaddress"}
DAMAGED_ID = re.compile(SCIENTIFIC_PATTERN)  # as validate judges ids (io.validate.convert)
FLOAT_ID = re.compile(DECIMAL_TEXT_ID)
_BLANK_PREFIX = "__batchgs_blank_column_"
BATCH_ROWS = 20_000


@dataclass(frozen=True)
class InputRow:
    """One data row. `row` is the spreadsheet row (header = 1). `code` is set for invalid rows."""

    row: int
    identify_id: str = ""
    email: str = ""
    code: str = ""
    message: str = ""

    @property
    def valid(self) -> bool:
        return not self.code


@dataclass
class OptOutInput:
    path: Path
    id_column: str | None
    email_column: str | None
    rows: list[InputRow] = field(default_factory=list)
    blank_rows: int = 0
    unused_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def invalid(self) -> list[InputRow]:
        return [r for r in self.rows if not r.valid]


def cell_text(value: Any) -> str:
    """A cell as the text a person typed: ints without `.0`, dates ISO, the protective `'` undone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'") and is_formula_like(text[1:]):
        return text[1:]
    return text


def _pick(headers: Sequence[str], forms: set[str], what: str, display: str) -> str | None:
    found = [h for h in headers if not h.startswith("_") and normalise(h) in forms]
    if len(found) > 1:
        raise InputFileError(
            f"columns {found[0]!r} and {found[1]!r} both mean {what}",
            path=display,
            row=1,
            hint="keep one of them",
        )
    return found[0] if found else None


def classify_row(row: int, identify_id: str, email: str) -> InputRow:
    if identify_id and (DAMAGED_ID.fullmatch(identify_id) or FLOAT_ID.fullmatch(identify_id)):
        # a number id a spreadsheet printed as 1.23457E+17 (digits gone) or a tool as 123.0: looking it
        # up would only report someone "not found", and correcting it would be a guess at who is meant.
        # The row's email, when it has one, still names them.
        if not email:
            return InputRow(
                row,
                identify_id,
                code="damaged-id",
                message=(
                    f"identifyId {identify_id!r} is an id a spreadsheet or a tool turned into a number "
                    "(export the column as text, or give the person's email)"
                ),
            )
        identify_id = ""
    if identify_id:
        return InputRow(row, identify_id, email)
    if not email:
        return InputRow(row, code="missing-key", message="neither identifyId nor email is filled in")
    problem = email_problem(email)  # the one definition validate and the sandbox use (entities.email)
    if problem is not None:
        why = "" if problem.startswith("must be") else f" ({problem})"
        return InputRow(
            row, email=email, code="bad-email", message=f"{email!r} is not a valid email address{why}"
        )
    return InputRow(row, email=email)


def read_input(path: Path | str, *, sheet: str | None = None) -> OptOutInput:
    """Read the whole list (an opt-out list is people, not events: it fits in memory)."""
    file = Path(path)
    display = str(file)
    with open_table(file, sheet=sheet) as table:
        headers = [h for h in table.headers if not h.startswith(_BLANK_PREFIX)]
        id_col = _pick(headers, ID_FORMS, "identifyId", display)
        email_col = _pick(headers, EMAIL_FORMS, "email", display)
        if id_col is None and email_col is None:
            shown = ", ".join(repr(h) for h in headers[:8]) + (", ..." if len(headers) > 8 else "")
            raise InputFileError(
                f"has no identifyId or email column (its headers: {shown})",
                path=display,
                row=1,
                hint="name the column of user ids identifyId, or the column of addresses email",
            )
        result = OptOutInput(file, id_col, email_col, warnings=list(table.warnings))
        result.unused_columns = [h for h in headers if h not in (id_col, email_col) and not h.startswith("_")]
        base = 2
        for frame in table.batches(BATCH_ROWS):
            columns = list(frame.columns)
            id_at = columns.index(id_col) if id_col else None
            email_at = columns.index(email_col) if email_col else None
            for offset, values in enumerate(frame.iter_rows()):
                row = base + offset
                if all(cell_text(v) == "" for v in values):
                    result.blank_rows += 1
                    continue
                identify_id = cell_text(values[id_at]) if id_at is not None else ""
                email = cell_text(values[email_at]) if email_at is not None else ""
                result.rows.append(classify_row(row, identify_id, email))
            base += frame.height
    return result
