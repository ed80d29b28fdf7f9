"""The records that flow from validation to the engine and the reports.

Row problems are data (RowIssue), never exceptions: a file with 10,000 bad rows is a report, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Templates mark their example row with a value in this column; the reader skips such rows (never sent).
EXAMPLE_COLUMN = "_example"
EXAMPLE_MARK = "example row: batchgs skips it; replace it with your data or delete it"


@dataclass(frozen=True)
class RowIssue:
    """One problem of one row. `code` is a kebab-case slug (missing-required, bad-date, ...)."""

    row: int  # spreadsheet row number: header is 1, first data row is 2
    column: str | None
    code: str
    message: str
    http_status: int | None = None


@dataclass
class ValidatedRow:
    """A row after mapping and conversion: either a payload to send or its issues."""

    row: int
    original: dict[str, str]  # header -> cell text exactly as read (errors.csv repeats it unchanged)
    payload: dict[str, Any] | None  # the JSON body this row will send; None when invalid
    key: str | None = None  # identifyId / id / Gsid, when the entity has a key
    issues: list[RowIssue] = field(default_factory=list)
    # suspicions (lost leading zeros, ...): reported in warnings.csv, never stop the row nor change it
    warnings: list[RowIssue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.issues and self.payload is not None
