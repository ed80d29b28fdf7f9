"""`batchgs status RUN_DIR [--json]`: a run's progress and counts, read from its journal.

Works on a run another process is driving (the journal is opened without the run lock, read-only).
While the run is running, its share of the key's rate comes from the shared limiter's board (the
state folder, or the coordinator) where the job is named by its run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import emit_json, settings_from
from batchgs.cli.runner import STOP_MESSAGE, resume_hint
from batchgs.errors import BatchgsError
from batchgs.reports.summary import build_summary, human_summary
from batchgs.run.cleanup import validation_summary
from batchgs.run.journal import Journal
from batchgs.transport.coordination import share_of_run

REASON_WORDS = {
    "FatalApiError": "stopped: the API refused the key or the request",
    "fatal-api-error": "stopped: the API refused the key or the request",
    "QuotaExhausted": "stopped: the daily request quota is used up",
    "quota": "stopped: the daily request quota is used up",
    "Interrupted": "stopped by Ctrl-C or a signal (nothing answered was lost)",
    "interrupted": "stopped by Ctrl-C or a signal (nothing answered was lost)",
    "not-confirmed": "not confirmed: nothing was sent",
    "error": "stopped by an error",
}


def status_words(reason: str | None, message: str | None) -> str | None:
    """Why a run stopped, for people: the stop's own message when the run kept it, else the reason
    code in words (the code itself stays in --json as status_reason, for tools)."""
    if not reason:
        return None
    if message:
        return f"stopped: {message}"
    return REASON_WORDS.get(reason, reason)


@click.command("status")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Folder of the shared limiter (env BATCHGS_STATE_DIR).",
)
@click.pass_context
def command(ctx: click.Context, run_dir: str, as_json: bool, state_dir: str | None) -> None:
    """Print the progress and counts of the run in RUN_DIR.

    While the run is running, also its share of the key's rate (the jobs using one key divide it).
    """
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
        if journal.meta.kind == "optout":  # people per receipt status, as the run's own summary
            from batchgs.engine.optout.receipt import optout_status

            summary.update(optout_status(journal, summary) or {})
        summary["options"] = journal.meta.options
        summary["status_words"] = status_words(summary["status_reason"], journal.get_progress(STOP_MESSAGE))
    share = _share(ctx, run_dir, state_dir) if summary["status"] == "running" else None
    if share is not None:
        summary["share"] = share
    if as_json:
        emit_json(summary)
        return
    worded = {**summary, "status_reason": summary["status_words"]}
    if "receipt" in summary:  # an opt-out: its people and records, not a second vocabulary
        from batchgs.cli.optout_cmd import optout_summary

        click.echo(optout_summary(worded))
    else:
        click.echo(human_summary(worded))
    if share is not None:
        unit = "s" if share["window_s"] == 1 else f"{share['window_s']:g} s"
        click.echo(
            f"Share      {share['requests_per_window']} requests/{unit} of the key's {share['key_rate']} "
            f"({share['jobs']} job(s) on this key)"
        )
    if summary["status"] in ("paused", "running") and summary.get("rows_pending", 0) >= 0:
        click.echo(f"Resume     {resume_hint(run_dir)}")


def _share(ctx: click.Context, run_dir: str, state_dir: str | None) -> dict[str, Any] | None:
    """The run's share now, or None (not running here, or the board cannot be read: status still works)."""
    try:
        found = share_of_run(settings_from(ctx, state_dir=state_dir), Path(run_dir))
    except BatchgsError:
        return None
    if found is None:
        return None
    job, board = found
    return {
        "requests_per_window": job.limit,
        "wants": job.want,
        "window_s": board.window,
        "key_rate": board.capacity,
        "jobs": sum(1 for other in board.jobs if not other.ending),
    }
