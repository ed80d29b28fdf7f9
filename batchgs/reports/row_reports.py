"""The run folder's human-facing files: errors.csv/xlsx, success.csv, summary.json — streamed.

No report is ever held in memory: rows go to disk as they come, and `rebuild_reports` regenerates the
reports from the journal in one merge pass over the (row-ordered) journal and the re-read input. The
engine calls it at the end of every run and resume, so after a `kill -9` the final reports are exactly
what the journal says — sorted by row, no duplicates, no holes — whatever the streamed copies held.

errors.csv: the row's original columns, unchanged (columns named like the report's own `_row`,
`_code`, `_message`, `_http_status` are dropped: they come from feeding an earlier error report back),
then those four. UTF-8 without BOM, RFC 4180 quoting. Unless `raw`, every cell — headers included —
goes through batchgs.io.write.safe_cells.neutralise against formula injection. With `redact`, see
batchgs.reports.redact for exactly what is replaced.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from batchgs.io.write.errors_xlsx import csv_to_xlsx
from batchgs.io.write.safe_cells import neutralise
from batchgs.reports.redact import name_like_columns, redact_cell, redact_message
from batchgs.reports.summary import ERRORS_CSV, build_summary, human_summary, write_summary
from batchgs.run.folder import commit_replace, open_private_text, temp_sibling
from batchgs.run.journal import Journal, RowOutcome
from batchgs.run.outcomes import PROBLEM_STATUSES

__all__ = [
    "ERROR_COLUMNS",
    "ErrorReport",
    "RebuiltReports",
    "SuccessReport",
    "WarningReport",
    "build_summary",
    "human_summary",
    "rebuild_reports",
    "write_summary",
]

WARNINGS_CSV = "warnings.csv"
ERRORS_XLSX = "errors.xlsx"
SUCCESS_CSV = "success.csv"
ERROR_COLUMNS = ("_row", "_code", "_message", "_http_status")
SUCCESS_OPERATION = "_operation"


class _CsvReport:
    """A CSV in the run folder, 0600, written row by row; with `atomic`, committed only on close."""

    def __init__(
        self, target: Path | str, default_name: str, *, raw: bool, redact: bool, atomic: bool
    ) -> None:
        target = Path(target)
        self.path = target / default_name if target.is_dir() else target
        self.raw = raw
        self.redact = redact
        self.rows_written = 0
        self._atomic = atomic
        self._writing_to = temp_sibling(self.path) if atomic else self.path
        self._handle: IO[str] | None = open_private_text(self._writing_to)
        self._writer = csv.writer(self._handle)

    def _write(self, cells: Iterable[str]) -> None:
        if self._handle is None:
            raise ValueError(f"{self.path}: report is closed")
        self._writer.writerow(cells if self.raw else [neutralise(c) for c in cells])

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        """Finish the file (for `atomic`, rename it into place). Idempotent."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        handle.close()
        if self._atomic:
            commit_replace(self._writing_to, self.path)

    def discard(self) -> None:
        """Abandon an atomic report: the previous file, if any, stays."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._atomic:
            with contextlib.suppress(OSError):
                self._writing_to.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self._atomic:
            self.discard()
        else:
            self.close()


class ErrorReport(_CsvReport):
    """errors.csv: one line per invalid, failed or uncertain row.

    `target` is the run folder (the file is `errors.csv` in it) or a file path.
    """

    default_name = ERRORS_CSV

    def __init__(
        self,
        target: Path | str,
        headers: Sequence[str],
        *,
        raw: bool = False,
        redact: bool = False,
        atomic: bool = False,
    ) -> None:
        super().__init__(target, self.default_name, raw=raw, redact=redact, atomic=atomic)
        self.headers = [h for h in headers if h not in ERROR_COLUMNS]
        self._name_like = name_like_columns(self.headers) if redact else frozenset()
        self._write([*self.headers, *ERROR_COLUMNS])

    def add(
        self,
        row: int,
        original: Mapping[str, str | None],
        code: str,
        message: str | None,
        http_status: int | None = None,
    ) -> None:
        cells = [_text(original.get(h)) for h in self.headers]
        message = message or ""
        if self.redact:
            own = [v for h, v in zip(self.headers, cells, strict=True) if h in self._name_like]
            cells = [redact_cell(h, v, self._name_like) for h, v in zip(self.headers, cells, strict=True)]
            message = redact_message(message, own)
        self._write([*cells, str(row), code, message, "" if http_status is None else str(http_status)])
        self.rows_written += 1

    def add_outcome(self, outcome: RowOutcome, original: Mapping[str, str | None]) -> None:
        code = outcome.code or outcome.status
        self.add(outcome.row, original, code, outcome.message, outcome.http_status)

    def to_xlsx(self, path: Path | str | None = None, *, sheet_name: str = "errors") -> Path:
        """Close the CSV and write the same content as a workbook (text cells, frozen header)."""
        self.close()
        target = Path(path) if path is not None else self.path.with_name(ERRORS_XLSX)
        tmp = temp_sibling(target)
        try:
            csv_to_xlsx(self.path, tmp, sheet_name=sheet_name, tmpdir=target.parent)
            commit_replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return target


class WarningReport(ErrorReport):
    """warnings.csv: rows sent as written but worth a look; the same columns as errors.csv."""

    default_name = WARNINGS_CSV


class SuccessReport(_CsvReport):
    """success.csv: `_row`, the record's key under the key column's name, `_operation`."""

    def __init__(
        self,
        target: Path | str,
        key_column: str,
        *,
        raw: bool = False,
        redact: bool = False,
        atomic: bool = False,
    ) -> None:
        super().__init__(target, SUCCESS_CSV, raw=raw, redact=redact, atomic=atomic)
        self.key_column = key_column
        self._name_like = name_like_columns([key_column]) if redact else frozenset()
        self._write(["_row", key_column, SUCCESS_OPERATION])

    def add(self, row: int, key: str | None, operation: str | None) -> None:
        key = key or ""
        if self.redact:
            key = redact_cell(self.key_column, key, self._name_like)
        self._write([str(row), key, operation or ""])
        self.rows_written += 1


@dataclass(frozen=True)
class RebuiltReports:
    errors_csv: Path
    success_csv: Path
    errors_xlsx: Path | None
    errors: int
    successes: int


def rebuild_reports(
    journal: Journal,
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    headers: Sequence[str],
    *,
    key_column: str = "key",
    raw: bool = False,
    redact: bool = False,
    xlsx: bool = False,
    run_dir: Path | str | None = None,
) -> RebuiltReports:
    """Regenerate errors.csv (+ errors.xlsx) and success.csv from the journal, atomically.

    `rows` is a second streamed pass over the input, `(row number, original cells)` in increasing row
    order; it is read only as far as the last error needs. An error whose row is missing from `rows`
    is still reported, with empty original cells, rather than lost.
    """
    folder = Path(run_dir) if run_dir is not None else journal.run_dir
    with ErrorReport(folder / ERRORS_CSV, headers, raw=raw, redact=redact, atomic=True) as errors:
        failures = journal.iter_outcomes(PROBLEM_STATUSES)
        pending = next(failures, None)
        previous = -1
        for row, original in rows:
            if pending is None:
                break
            if row <= previous:
                raise ValueError(f"rows must come in increasing order: row {row} after row {previous}")
            previous = row
            while pending is not None and pending.row < row:
                errors.add_outcome(pending, {})
                pending = next(failures, None)
            if pending is not None and pending.row == row:
                errors.add_outcome(pending, original)
                pending = next(failures, None)
        while pending is not None:
            errors.add_outcome(pending, {})
            pending = next(failures, None)
    xlsx_path = errors.to_xlsx() if xlsx else None
    with SuccessReport(folder / SUCCESS_CSV, key_column, raw=raw, redact=redact, atomic=True) as success:
        for outcome in journal.iter_outcomes("succeeded"):
            success.add(outcome.row, outcome.key, outcome.op)
    return RebuiltReports(
        errors_csv=errors.path,
        success_csv=success.path,
        errors_xlsx=xlsx_path,
        errors=errors.rows_written,
        successes=success.rows_written,
    )


def read_summary(run_dir: Path | str) -> dict[str, Any]:
    """summary.json of a run folder (for `batchgs status` of a finished run)."""
    with open(Path(run_dir) / "summary.json", encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _text(value: str | None) -> str:
    return "" if value is None else str(value)
