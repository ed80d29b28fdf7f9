"""Warnings shown before an import sends: grouped by code with row numbers and the suggested fix.

A warning is a suspicion (an id that may have lost its leading zeros, a number written `1,000` among
plain numbers): the row is still sent exactly as written. Before the first request the whole file is
checked once more (validation runs at millions of rows a minute, sending at 200 rows a second), the
warned rows go to RUN_DIR/warnings.csv (same columns as errors.csv) and their count to the journal,
which summary.json reports as `rows_warned`. `--strict-warnings` makes them errors instead.
"""

from __future__ import annotations

from pathlib import Path

import click

from batchgs.entities.spec import EntitySpec
from batchgs.io.validate.file import ValidateOptions, prepare
from batchgs.reports.issue_tally import WARNINGS_HEADLINE, Tally, write_warnings
from batchgs.reports.row_reports import WARNINGS_CSV
from batchgs.run.journal import Journal

ROWS_WARNED = "rows_warned"  # journal progress entry read by reports.summary.build_summary


def show_warnings(
    file: Path,
    spec: EntitySpec,
    options: ValidateOptions,
    journal: Journal | None,
    *,
    redact: bool,
    quiet: bool,
) -> Tally:
    """Check the warnings of `file`; with a journal, write warnings.csv and count them in it.

    Printed on stderr (also with --json, whose stdout stays one JSON document); -q keeps the headline.
    """
    with prepare(file, spec, options) as validation:
        if journal is None:  # --dry-run: shown, nothing written
            tally = Tally()
            for row in validation.flagged_rows():
                tally.add(row.warnings)
            path = None
        else:
            rows = validation.flagged_rows()
            tally, path = write_warnings(
                rows, journal.run_dir / WARNINGS_CSV, validation.headers, redact=redact
            )
            journal.set_progress(ROWS_WARNED, tally.rows)
            if not tally.rows:
                path.unlink(missing_ok=True)
    if tally.rows:
        lines = [f"Warning: {WARNINGS_HEADLINE.format(rows=tally.rows)}"]
        if not quiet:
            lines += tally.lines()
        if path is not None:
            lines.append(f"Warnings: {path}")
        click.echo("\n".join(lines), err=True)
    return tally
