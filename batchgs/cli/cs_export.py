"""`batchgs export ctas -o OUT` and its `batchgs resume`: the CS side of the export command.

`batchgs.cli.export_cmd` hands ENTITY `ctas` here with its parsed options (`run_export`); the keys
read are output (`-o`), force, filter (repeatable), columns (`a,b,c` or a list), sort, deleted, raw,
run_dir, base_url, rate, daily_limit, state_dir, wait_for_quota, quiet, as_json. `batchgs resume`
reaches `resume_run` through export_cmd for export runs of `ctas`.

The run folder holds the journal (options, pages, status) so an interrupted export can be resumed;
because the output is committed only at the end, a resume pages again from the first page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import comma_list, default_run_dir, emit_json, info
from batchgs.cli.cs_import import cs_settings
from batchgs.cli.runner import ResumeFlags, resumable_hint, run_with_signals
from batchgs.config import Settings
from batchgs.engine.export.ctas import CtaExportOptions, ExportResult, export_ctas
from batchgs.errors import (
    FatalApiError,
    Interrupted,
    QuotaExhausted,
    ResumableStop,
    UsageError,
)
from batchgs.io.write.formats import check_output
from batchgs.reports.summary import build_summary, human_summary, write_summary
from batchgs.run.journal import Journal
from batchgs.transport.client import TransportStats, cs_client

ENTITY = "ctas"
UNSUPPORTED = {"since": "--since", "until": "--until", "ids": "--ids"}


def _first(opts: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if opts.get(name) not in (None, "", ()):
            return opts[name]
    return None


def export_options(opts: Mapping[str, Any], settings: Settings) -> CtaExportOptions:
    for name, flag in UNSUPPORTED.items():
        if opts.get(name) not in (None, "", ()):
            raise UsageError(
                f"{flag} is not available for ctas",
                hint="narrow a CTA export with --filter, e.g. --filter 'DueDate>=2024-01-01'",
            )
    output = _first(opts, "output", "out", "o")
    if output is None:
        raise UsageError("export needs -o OUT (.csv, .xlsx, .parquet or .jsonl)")
    filters = opts.get("filter") or opts.get("filters") or ()
    columns = comma_list(opts.get("columns"))
    return CtaExportOptions(
        output=str(Path(output).resolve()),
        force=bool(opts.get("force")),
        filters=[filters] if isinstance(filters, str) else [str(f) for f in filters],
        columns=columns or None,
        sort=opts.get("sort") or None,
        deleted=bool(opts.get("deleted")),
        raw=bool(opts.get("raw")),
        base_url=settings.cs_base_url,
    )


def run_export(ctx: click.Context, opts: dict[str, Any]) -> int:
    """`batchgs export ctas -o OUT [--filter ...] [--columns ...] [--deleted]` → exit code."""
    settings = cs_settings(ctx, opts)
    options = export_options(opts, settings)
    options.query()  # a bad --filter/--sort is a usage error before anything is created
    check_output(Path(options.output), force=options.force)
    quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
    run_dir = Path(opts.get("run_dir") or default_run_dir(f"{ENTITY}-export"))
    journal = Journal.create(
        run_dir, kind="export", entity=ENTITY, input_path=None, options=options.to_journal()
    )
    info(f"run folder: {run_dir}", quiet=quiet and not as_json)
    try:
        return _execute(
            journal,
            options,
            settings,
            wait_for_quota=bool(opts.get("wait_for_quota")),
            quiet=quiet,
            as_json=as_json,
        )
    finally:
        journal.close()


def resume_run(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """Finish an interrupted CTA export: the same options, paged again from the start."""
    journal = Journal.open(run_dir)
    try:
        options = CtaExportOptions.from_journal(journal.meta.options)
        if journal.status == "completed" or journal.get_progress("committed", False):
            if journal.status != "completed":
                journal.set_status("completed")
            info(f"{run_dir}: this export is complete ({options.output})", quiet=flags.quiet)
            return 0
        settings = cs_settings(
            ctx,
            flags.connection(options.base_url),
        )
        check_output(Path(options.output), force=options.force)
        info(f"resuming {run_dir} (ctas export to {options.output})", quiet=flags.quiet and not flags.as_json)
        return _execute(
            journal,
            options,
            settings,
            wait_for_quota=flags.wait_for_quota,
            quiet=flags.quiet,
            as_json=flags.as_json,
        )
    finally:
        journal.close()


def _execute(
    journal: Journal,
    options: CtaExportOptions,
    settings: Settings,
    *,
    wait_for_quota: bool,
    quiet: bool,
    as_json: bool,
) -> int:
    stats = TransportStats()
    counted = {"requests": 0, "responses_429": 0, "retries": 0}

    def count_requests() -> None:
        now = {"requests": stats.requests, "responses_429": stats.responses_429, "retries": stats.retries}
        journal.add_counters(**{k: v - counted[k] for k, v in now.items() if v != counted[k]})
        counted.update(now)

    def on_page(result: ExportResult) -> None:
        journal.set_progress("pages", result.pages)
        journal.set_progress("rows_written", result.rows)
        count_requests()

    async def go(stop: asyncio.Event) -> ExportResult:
        async with cs_client(settings, stats=stats, wait_for_quota=wait_for_quota) as client:
            return await export_ctas(client, options, stop_event=stop, on_page=on_page)

    journal.set_status("running")
    try:
        result = run_with_signals(go)
    except ResumableStop as exc:  # interrupted, quota, refused key, API failure: nothing committed
        count_requests()
        reason = {Interrupted: "interrupted", QuotaExhausted: "quota", FatalApiError: "fatal-api-error"}
        journal.set_status("paused", reason=reason.get(type(exc), type(exc).__name__))
        _write_summary(journal, options, None)
        raise type(exc)(exc.message, hint=resumable_hint(journal.run_dir, exc)) from None
    except BaseException:
        count_requests()
        journal.set_status("aborted", reason="error")
        raise
    journal.set_progress("committed", True)
    count_requests()
    journal.set_status("completed")
    summary = _write_summary(journal, options, result)
    if as_json:
        emit_json(summary)
    elif not quiet:
        click.echo(human_summary(summary))
        click.echo(f"Wrote {result.rows:,} CTAs to {options.output}")
    if quiet or as_json:
        info(f"run folder: {journal.run_dir}")
    return 0


def _write_summary(
    journal: Journal, options: CtaExportOptions, result: ExportResult | None
) -> dict[str, Any]:
    rows = result.rows if result is not None else int(journal.get_progress("rows_written", 0) or 0)
    extra: dict[str, Any] = {
        "output": options.output,
        "deleted": options.deleted,
        "rows_exported": rows if result is not None else 0,
        "rows_succeeded": rows if result is not None else 0,
        "rows_pending": 0,
        "pages": result.pages if result is not None else journal.get_progress("pages", 0),
    }
    if result is not None:
        extra["columns"] = result.columns
        extra["late_columns"] = result.late_columns
    summary = build_summary(journal, rows_total=rows if result is not None else 0, extra=extra)
    write_summary(journal.run_dir, summary)
    return summary
