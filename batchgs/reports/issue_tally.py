"""Counts and a few examples of row issues, and the grouped lines people read before anything is sent.

Used by `validate` (errors and warnings) and by `import` (warnings shown before sending): the same
grouping — code, count, first rows with their message, the suggested fix inside the message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from batchgs.io.rows import RowIssue, ValidatedRow
from batchgs.reports.row_reports import WarningReport

EXAMPLES_PER_CODE = 3


@dataclass
class Tally:
    """Rows counted once, issues per code, the first EXAMPLES_PER_CODE issues of each code."""

    rows: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[RowIssue]] = field(default_factory=dict)

    def add(self, issues: Iterable[RowIssue]) -> None:
        counted = False
        for issue in issues:
            counted = True
            self.by_code[issue.code] += 1
            shown = self.examples.setdefault(issue.code, [])
            if len(shown) < EXAMPLES_PER_CODE:
                shown.append(issue)
        self.rows += counted

    def lines(self, indent: str = "  ") -> list[str]:
        """`code: N problems` then its example rows, most frequent code first."""
        out: list[str] = []
        for code, count in self.by_code.most_common():
            out.append(f"{indent}{code}: {count:,} problem{'s' if count != 1 else ''}")
            out += [f"{indent}  row {i.row}, {issue_text(i)}" for i in self.examples[code]]
        return out

    def as_json(self) -> dict[str, object]:
        return {
            "by_code": dict(self.by_code.most_common()),
            "examples": {
                code: [{"row": i.row, "column": i.column, "message": i.message} for i in shown]
                for code, shown in self.examples.items()
            },
        }


def issue_text(issue: RowIssue) -> str:
    return f"{issue.column}: {issue.message}" if issue.column else issue.message


def joined(issues: Iterable[RowIssue]) -> str:
    """errors.csv / warnings.csv `_message`: every issue of the row, `column: message`, joined by "; "."""
    return "; ".join(issue_text(i) for i in issues)


def write_warnings(
    rows: Iterable[ValidatedRow], target: Path, headers: list[str], *, redact: bool = False
) -> tuple[Tally, Path]:
    """warnings.csv (atomically) from the rows' warnings; the tally of the warned rows."""
    tally = Tally()
    with WarningReport(target, headers, redact=redact, atomic=True) as report:
        for row in rows:
            if row.warnings:
                tally.add(row.warnings)
                report.add(row.row, row.original, row.warnings[0].code, joined(row.warnings))
    return tally, report.path


WARNINGS_HEADLINE = "{rows:,} row(s) have warnings: they are sent as written (--strict-warnings refuses them)"
