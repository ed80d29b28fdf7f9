"""`batchgs status RUN_DIR [--json]`: a run's progress and counts, read from its journal.

Works on a run another process is driving (the journal is opened without the run lock, read-only).
"""

from __future__ import annotations

from pathlib import Path

import click

from batchgs.cli.common import emit_json
from batchgs.cli.runner import resume_hint
from batchgs.reports.summary import build_summary, human_summary
from batchgs.run.cleanup import validation_summary
from batchgs.run.journal import Journal


@click.command("status")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def command(run_dir: str, as_json: bool) -> None:
    """Print the progress and counts of the run in RUN_DIR."""
    checked = validation_summary(Path(run_dir))
    if checked is not None:  # a `batchgs validate` folder: nothing was sent, there is nothing to resume
        if as_json:
            emit_json(checked)
        else:
            click.echo(human_summary(checked))
            click.echo("Validated  nothing was sent; the reports are in this folder")
        return
    with Journal.open(run_dir, lock=False) as journal:
        recorded_total = journal.get_progress("rows_total")
        summary = build_summary(
            journal, rows_total=recorded_total if isinstance(recorded_total, int) else None
        )
        summary["options"] = journal.meta.options
    if as_json:
        emit_json(summary)
        return
    click.echo(human_summary(summary))
    if summary["status"] in ("paused", "running") and summary.get("rows_pending", 0) >= 0:
        click.echo(f"Resume     {resume_hint(run_dir)}")
