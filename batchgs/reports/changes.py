"""changes.csv (and changes.xlsx for a workbook input): one line per changed field — `key`, `action`
(`create` | `update` | `delete`), `field`, `before`, `after` — for `--changed-only` runs and `undo`.

Values are written as a person reads them: dates (epoch ms in the API) as ISO-8601 UTC, lists joined
with commas, booleans `true`/`false`, whole numbers without `.0`, nothing for an empty value. Every cell
is neutralised against formula injection unless `raw`, and the file is written to a temporary sibling
then renamed, so a reader never sees half of it. `redact` hashes the values of name- and email-like
fields, as errors.csv does.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from batchgs.io.write.base import iso_utc, plain_text
from batchgs.io.write.errors_xlsx import csv_to_xlsx
from batchgs.io.write.safe_cells import neutralise
from batchgs.reports.redact import name_like_columns, redact_cell
from batchgs.reports.summary import write_summary
from batchgs.run.folder import atomic_text_writer, commit_replace, temp_sibling

CHANGES_CSV = "changes.csv"
CHANGES_XLSX = "changes.xlsx"
CHANGES_COLUMNS = ("key", "action", "field", "before", "after")
TOP_FIELDS = 5

ChangeRow = tuple[int, str, str, str, Any, Any]  # row, key, action, field, before, after


def cell_text(value: Any, *, date: bool) -> str:
    """A value as changes.csv shows it."""
    if value is None:
        return ""
    if date and isinstance(value, int | float) and not isinstance(value, bool):
        return iso_utc(int(value))
    if isinstance(value, list):
        return ",".join(cell_text(v, date=False) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return plain_text(value)


class ChangeTally:
    """Counts for the summary: rows per action, and the fields most often changed by updates."""

    def __init__(self) -> None:
        self.rows: dict[str, set[int]] = {}
        self.fields: Counter[str] = Counter()

    def add(self, row: int, action: str, field: str) -> None:
        self.rows.setdefault(action, set()).add(row)
        if action == "update":
            self.fields[field] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes": {action: len(rows) for action, rows in sorted(self.rows.items())},
            "fields_most_changed": dict(self.fields.most_common(TOP_FIELDS)),
        }


def write_changes(
    run_dir: Path,
    lines: Iterable[ChangeRow],
    *,
    date_fields: frozenset[str] = frozenset(),
    xlsx: bool = False,
    raw: bool = False,
    redact: bool = False,
) -> ChangeTally:
    """(Re)write changes.csv from diff lines in row order; returns the tally for the summary."""
    target = Path(run_dir) / CHANGES_CSV
    tally = ChangeTally()
    with atomic_text_writer(target) as handle:
        writer = csv.writer(handle)
        writer.writerow(CHANGES_COLUMNS)
        for row, key, action, field, before, after in lines:
            tally.add(row, action, field)
            date = field in date_fields
            cells = [key, action, field, cell_text(before, date=date), cell_text(after, date=date)]
            if redact:
                name_like = name_like_columns([field])
                cells[3:] = [redact_cell(field, c, name_like) for c in cells[3:]]
            writer.writerow(cells if raw else [neutralise(c) for c in cells])
    if xlsx:
        workbook = Path(run_dir) / CHANGES_XLSX
        tmp_xlsx = temp_sibling(workbook)
        csv_to_xlsx(target, tmp_xlsx, sheet_name="changes", tmpdir=Path(run_dir))
        commit_replace(tmp_xlsx, workbook)
    return tally


def write_plan_summary(folder: Path, *, command: str, entity: str, plan: dict[str, Any]) -> None:
    """summary.json of a dry run's plan folder (kind "plan"): what it planned, and what makes the folder
    one `batchgs clean` removes like a run folder (its changes.csv holds personal data)."""
    write_summary(
        folder,
        {
            "kind": "plan",
            "command": command,
            "entity": entity,
            "status": "planned",
            "run_dir": str(folder),
            "changes_csv": str(Path(folder) / CHANGES_CSV),
            "plan": plan,
        },
    )
