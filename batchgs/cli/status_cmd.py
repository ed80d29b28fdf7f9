"""`batchgs status RUN_DIR [--json]`: prints what `batchgs.status()` of the Python API reads (one code
path, batchgs.api_reads): a run's progress and counts from its journal, why it stopped in words, and
while it runs its share of the key's rate; or the report of a `batchgs validate` folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from batchgs.api_reads import status_result
from batchgs.api_types import RunResult
from batchgs.cli.common import emit_json
from batchgs.cli.runner import resume_hint
from batchgs.reports.summary import human_summary


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
    profile = (ctx.find_root().obj or {}).get("profile")
    result = status_result(Path(run_dir), state_dir=state_dir, profile=profile)
    if as_json:
        emit_json(dict(result.summary))
    elif result.status == "validated":
        click.echo(human_summary(result.summary))
        click.echo("Validated  nothing was sent; the reports are in this folder")
    elif result.status == "planned":
        _print_plan(result.summary)
    else:
        _print(result, run_dir)


def _print(result: RunResult, run_dir: str) -> None:
    worded = {**result.summary, "status_reason": result.status_words}
    if "receipt" in worded:  # an opt-out: its people and records, not a second vocabulary
        from batchgs.cli.optout_cmd import optout_summary

        click.echo(optout_summary(worded))
    else:
        click.echo(human_summary(worded))
    share = result.share
    if share is not None:
        unit = "s" if share.window_s == 1 else f"{share.window_s:g} s"
        click.echo(
            f"Share      {share.requests_per_window} requests/{unit} of the key's {share.key_rate} "
            f"({share.jobs} job(s) on this key)"
        )
    if result.status in ("paused", "running") and result.summary.get("rows_pending", 0) >= 0:
        click.echo(f"Resume     {resume_hint(run_dir)}")


def _print_plan(summary: Mapping[str, Any]) -> None:
    """A dry run's plan folder: what was planned, nothing sent, where the changes are listed."""
    click.echo(f"Run folder  {summary.get('run_dir')}")
    click.echo(f"Planned     batchgs {summary.get('command')} of {summary.get('entity')} (a dry run)")
    plan = summary.get("plan")
    if isinstance(plan, Mapping):
        counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in plan.items() if isinstance(v, int))
        if counts:
            click.echo(f"Plan        {counts}")
    click.echo(f"Changes     {summary.get('changes_csv')}")
    click.echo("Sent        nothing: run the command again without --dry-run to send the plan")
