"""`batchgs resume RUN_DIR`: finish an interrupted or paused import, export or opt-out run.

The run's kind and entity, recorded in its journal, decide which command module continues it; each
exposes `resume_run(ctx, run_dir, flags) -> exit code`.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import emit_json, info, output_options
from batchgs.cli.runner import ResumeFlags, exit_code_for
from batchgs.errors import NotResumableError
from batchgs.reports.summary import build_summary
from batchgs.run.journal import Journal

CS_ENTITIES = ("ctas", "cs-events")


def owner_module(kind: str, entity: str) -> str:
    """The command module that knows how to continue a run of this kind and entity."""
    if kind == "import":
        return "batchgs.cli.cs_import" if entity in CS_ENTITIES else "batchgs.cli.import_cmd"
    if kind in ("export", "optout", "undo"):
        return f"batchgs.cli.{kind}_cmd"
    raise NotResumableError(f"unknown run kind {kind!r}")


def nothing_to_do(run_dir: Path, summary: dict[str, Any], *, quiet: bool, as_json: bool) -> int:
    """A completed run: say so, send nothing (not even the key check), end with the run's exit code."""
    transient = int(summary.get("rows_failed_transient") or 0)
    retry = f"; --retry-failed re-sends the {transient:,} rows that failed transiently" if transient else ""
    message = f"{run_dir}: this run is complete: nothing to do (see {run_dir / 'summary.json'}){retry}"
    info(message, quiet=quiet)
    if as_json:
        emit_json({**summary, "nothing_to_do": True})
    return exit_code_for(summary)


@click.command("resume")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--retry-failed", is_flag=True, help="Also re-send rows that failed for transient reasons.")
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Re-send events whose outcome is unknown (they may be stored twice).",
)
@click.option("--rate", type=float, help="Requests per second for this segment.")
@click.option("--wait-for-quota", is_flag=True, help="At the daily limit, sleep instead of pausing.")
@click.option("--daily-limit", type=click.IntRange(min=1), help="Requests per rolling 24 hours for this key.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the daily quota ledger (env BATCHGS_STATE_DIR).",
)
@output_options
@click.pass_context
def command(
    ctx: click.Context,
    run_dir: Path,
    retry_failed: bool,
    resend_uncertain: bool,
    rate: float | None,
    wait_for_quota: bool,
    daily_limit: int | None,
    state_dir: Path | None,
    quiet: bool,
    verbose: bool,
    as_json: bool,
    yes: bool,
) -> None:
    """Continue the run in RUN_DIR where it stopped: only rows not yet done are sent.

    The input file must be unchanged (exit 5 otherwise). Rows that failed for a transient reason are
    re-sent with --retry-failed; events of unknown outcome only with --resend-uncertain. The run keeps
    the --rate and --daily-limit it was started with unless given here. A completed run: nothing to do.
    """
    with Journal.open(run_dir, lock=False) as journal:
        meta = journal.meta
        finished = journal.status == "completed" and not (retry_failed or resend_uncertain)
        if finished and meta.input_path:
            journal.check_input(meta.input_path)  # a changed input is refused (exit 5) even here
        summary = build_summary(journal) if finished else None
    if summary is not None:
        sys.exit(nothing_to_do(run_dir, summary, quiet=quiet, as_json=as_json))
    module = import_module(owner_module(meta.kind, meta.entity))
    flags = ResumeFlags(
        yes=yes,
        quiet=quiet,
        verbose=verbose,
        as_json=as_json,
        wait_for_quota=wait_for_quota,
        retry_failed=retry_failed,
        resend_uncertain=resend_uncertain,
        rate=rate,
        daily_limit=daily_limit,
        state_dir=state_dir,
    )
    sys.exit(module.resume_run(ctx, run_dir, flags))
