"""`batchgs export ENTITY -o OUT`: Gainsight records to a .csv, .xlsx, .parquet or .jsonl file.

PX entities run through batchgs.engine.export.exporter; `ctas` is handed to batchgs.cli.cs_export with the
same options. `resume_run` continues an interrupted or quota-paused export for `batchgs resume`.

The run folder holds the journal (options, parts, cursor positions), the page spools and
summary.json; the output file appears only when it is complete (temporary file, then rename).
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import (
    comma_list,
    connection_options,
    default_run_dir,
    emit_json,
    info,
    output_options,
    px_settings,
    rate_options,
)
from batchgs.cli.runner import ResumeFlags, remember_settings, resumable_hint, run_with_signals
from batchgs.config import Settings
from batchgs.engine.export.entities import (
    CS_EXPORT_ENTITIES,
    ExportEntity,
    export_entity_names,
    get_export_entity,
)
from batchgs.engine.export.exporter import Exporter, ExportProgress, ExportResult
from batchgs.engine.export.fields import check_fields, custom_types_of, fields_model
from batchgs.engine.export.options import (
    ExportOptions,
    check_filters,
    check_slices,
    check_sort,
    resolve_window,
)
from batchgs.engine.export.spool import remove_spools
from batchgs.engine.progress import notify_progress
from batchgs.errors import ExitCode, FatalApiError, Interrupted, QuotaExhausted, ResumableStop, UsageError
from batchgs.io.write.formats import check_output
from batchgs.reports.row_reports import ErrorReport
from batchgs.reports.summary import build_summary, human_summary, write_summary
from batchgs.run.journal import Journal
from batchgs.transport.client import TransportStats, px_client
from batchgs.transport.coordination import run_label
from batchgs.transport.metadata import fetch_attributes

CS_KEYS = (
    "output", "force", "filter", "columns", "sort", "deleted", "raw", "run_dir", "base_url", "rate",
    "daily_limit", "state_dir", "wait_for_quota", "quiet", "as_json", "since", "until", "ids",
)  # fmt: skip


@click.command("export")
@click.argument("entity", metavar="ENTITY")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file.")
@click.option("--filter", "filters", multiple=True, metavar="EXPR", help="PX filter; repeat for OR.")
@click.option("--sort", metavar="FIELDS", help="e.g. 'lastName;-createDate' (- = descending).")
@click.option("--since", metavar="DATE", help="Histories: from this date/epoch ms (default: a day ago).")
@click.option("--until", metavar="DATE", help="Histories: up to this date/epoch ms (default: now).")
@click.option("--columns", metavar="A,B,C", help="Only these columns, in this order.")
@click.option(
    "--ids",
    "ids_file",
    type=click.Path(exists=True, dir_okay=False),
    help="preferences/denylist: the users listed in FILE (column identifyId).",
)
@click.option("--run-dir", type=click.Path(file_okay=False), help="Folder for the checkpoint and summary.")
@click.option(
    "--slices",
    type=int,
    help="Cursors paged at once on disjoint slices (default 16; 1 = a single cursor).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=64,
    show_default=True,
    help="preferences/denylist: GETs in flight.",
)
@click.option("--page-size", type=click.IntRange(1, 1000), hidden=True, help="Smaller pages (tests).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option(
    "--raw",
    is_flag=True,
    help="Keep formula-like text unguarded (CSV: no leading '; XLSX: no quote-prefix style).",
)
@click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 BOM (Excel then detects UTF-8).")
@click.option("--deleted", is_flag=True, help="ctas: the CTAs deleted in the last 15 days.")
@connection_options
@rate_options
@output_options
@click.pass_context
def command(ctx: click.Context, entity: str, **opts: Any) -> None:
    """Write Gainsight records of ENTITY to OUT (.csv, .xlsx, .parquet or .jsonl).

    ENTITY: users, accounts, events (custom events), preferences, denylist, features, segments,
    engagements, the PX histories (page-views, sessions, email-events, engagement-views,
    feature-matches, segment-matches, identify-events, form-submits, leads, survey-responses) or
    ctas (CS). Histories are read in windows of at most 190 days between --since and --until.

    OUT appears only when complete. Exit 0 done, 1 some --ids users failed (errors.csv), 2 bad
    options or OUT exists (use --force), 4 paused (resume with `batchgs resume RUN_DIR`).
    """
    if entity.strip().lower() in CS_EXPORT_ENTITIES:
        cs_export = import_module("batchgs.cli.cs_export")
        sys.exit(cs_export.run_export(ctx, _cs_options(opts)))
    sys.exit(run_px_export(ctx, get_export_entity(entity), opts))


def _cs_options(opts: Mapping[str, Any]) -> dict[str, Any]:
    for name, flag in (("bom", "--bom"), ("slices", "--slices"), ("page_size", "--page-size")):
        if opts.get(name):
            raise UsageError(f"{flag} is not available for ctas")
    cs = {k: opts.get(k) for k in CS_KEYS if k in opts}
    cs["filter"] = tuple(opts.get("filters") or ())
    cs["ids"] = opts.get("ids_file")
    return cs


def build_options(entity: ExportEntity, opts: Mapping[str, Any], settings: Settings) -> ExportOptions:
    """Every option checked (exit 2) before a run folder exists or a request is sent."""
    if opts.get("deleted"):
        raise UsageError("--deleted is for ctas only")
    filters = check_filters(opts.get("filters") or ())
    sort = check_sort(opts.get("sort"))
    ids_file = opts.get("ids_file")
    if entity.paging == "per-user":
        if sort:
            raise UsageError(f"--sort is not available for {entity.name} (the order is the users' order)")
        if ids_file and filters:
            raise UsageError("--filter selects users from the whole list; it does not go with --ids")
    elif ids_file:
        raise UsageError("--ids is for preferences and denylist", hint="narrow other exports with --filter")
    since_ms, until_ms = resolve_window(entity, opts.get("since"), opts.get("until"), int(time.time() * 1000))
    output = Path(str(opts["output"])).resolve()
    force = bool(opts.get("force"))
    check_output(output, force=force)
    if opts.get("bom") and output.suffix.lower() != ".csv":
        raise UsageError("--bom is for .csv output")
    return ExportOptions(
        entity=entity.name,
        output=str(output),
        force=force,
        filters=filters,
        sort=sort,
        columns=comma_list(opts.get("columns")) or None,
        since_ms=since_ms,
        until_ms=until_ms,
        ids_file=str(Path(ids_file).resolve()) if ids_file else None,
        raw=bool(opts.get("raw")),
        bom=bool(opts.get("bom")),
        slices=check_slices(opts.get("slices")),
        workers=int(opts.get("workers") or 64),
        page_size=opts.get("page_size"),
        base_url=settings.px_base_url,
    )


def checked_fields(
    entity: ExportEntity, options: ExportOptions, settings: Settings
) -> tuple[ExportOptions, list[dict[str, Any]] | None]:
    """--filter/--sort/--columns fields checked against the attribute list before a run folder exists
    (exit 2, did-you-mean), and that list (the run uses it rather than asking again; None: not read).
    When the list cannot be read (a refused key, the quota), the run itself meets the same answer and
    reports it as a paused run; it checks the fields again then."""
    model = fields_model(entity, options)
    if model is None or not (options.filters or options.sort or options.columns):
        return check_fields(entity, options, None), None  # nothing to check: the run reads the list

    async def read() -> list[dict[str, Any]]:
        async with px_client(settings) as client:
            return await fetch_attributes(client, model)

    try:
        attributes = asyncio.run(read())
    except ResumableStop:
        return options, None
    return check_fields(entity, options, custom_types_of(attributes, deleted=True)), attributes


def run_px_export(ctx: click.Context, entity: ExportEntity, opts: dict[str, Any]) -> int:
    settings = px_settings(ctx, opts)
    options, attributes = checked_fields(entity, build_options(entity, opts, settings), settings)
    quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
    run_dir = Path(opts.get("run_dir") or default_run_dir(f"{entity.name}-export"))
    journal = Journal.create(
        run_dir,
        kind="export",
        entity=entity.name,
        input_path=options.ids_file,
        options=options.to_journal(),
    )
    remember_settings(journal, settings)  # resume keeps this run's rate and daily limit
    info(f"run folder: {run_dir}", quiet=quiet and not as_json)
    if entity.windowed and not quiet and not as_json:
        info(f"window: {_iso(options.since_ms)} .. {_iso(options.until_ms)}")
    try:
        return _execute(
            journal,
            entity,
            options,
            settings,
            wait_for_quota=bool(opts.get("wait_for_quota")),
            quiet=quiet,
            verbose=bool(opts.get("verbose")),
            as_json=as_json,
            attributes=attributes,
        )
    finally:
        journal.close()


def resume_run(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """Continue an export: every cursor from its recorded page (or from the start if it expired)."""
    with Journal.open(run_dir, lock=False) as peek:
        meta = peek.meta
    if meta.entity in CS_EXPORT_ENTITIES:
        return int(import_module("batchgs.cli.cs_export").resume_run(ctx, run_dir, flags))
    journal = Journal.open(run_dir)
    try:
        options = ExportOptions.from_journal(meta.options)
        if journal.status == "completed" or journal.get_progress("committed", False):
            if journal.status != "completed":
                journal.set_status("completed")
            info(f"{run_dir}: this export is complete ({options.output})", quiet=flags.quiet)
            return 0
        if options.ids_file:
            journal.check_input(options.ids_file)
        entity = get_export_entity(options.entity)
        settings = px_settings(
            ctx,
            flags.connection(options.base_url, journal),
        )
        check_output(Path(options.output), force=options.force)
        clear_stale_temp(Path(options.output))
        info(
            f"resuming {run_dir} ({entity.name} export to {options.output})",
            quiet=flags.quiet and not flags.as_json,
        )
        return _execute(
            journal,
            entity,
            options,
            settings,
            wait_for_quota=flags.wait_for_quota,
            quiet=flags.quiet,
            verbose=flags.verbose,
            as_json=flags.as_json,
        )
    finally:
        journal.close()


def clear_stale_temp(output: Path) -> None:
    """Hidden temporary files of OUT left by a run killed while writing it (kill -9, power cut)."""
    pattern = re.compile(rf"^\.{re.escape(output.name)}\.[0-9a-f]{{8}}\.tmp(\..+)?$")
    for item in output.parent.iterdir() if output.parent.is_dir() else ():
        if pattern.match(item.name) and item.is_file():
            item.unlink(missing_ok=True)


class _Bar:
    """Records and pages on stderr while fetching, then rows while writing (terminals only)."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        self.phase = ""
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit="rec", file=sys.stderr, dynamic_ncols=True, desc="fetching")

    def update(self, p: ExportProgress) -> None:
        if self.bar is None:
            return
        if p.phase != self.phase:
            self.phase = p.phase
            self.bar.set_description("fetching" if p.phase == "fetch" else "writing")
            self.bar.reset(total=p.expected)
        if p.expected is not None and self.bar.total != p.expected:
            self.bar.total = p.expected
        self.bar.n = p.records if p.phase == "fetch" else p.written
        self.bar.set_postfix({"pages": p.pages, "parts": f"{p.parts_done}/{p.parts}"}, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _execute(
    journal: Journal,
    entity: ExportEntity,
    options: ExportOptions,
    settings: Settings,
    *,
    wait_for_quota: bool,
    quiet: bool,
    verbose: bool,
    as_json: bool,
    attributes: list[dict[str, Any]] | None = None,
) -> int:
    stats = TransportStats()
    counted = {"requests": 0, "responses_429": 0, "retries": 0}
    bar = _Bar(enabled=not quiet and not as_json)
    last = {"at": 0.0}

    def count_requests() -> None:
        now = {"requests": stats.requests, "responses_429": stats.responses_429, "retries": stats.retries}
        journal.add_counters(**{k: v - counted[k] for k, v in now.items() if v != counted[k]})
        counted.update(now)

    def on_progress(progress: ExportProgress) -> None:
        bar.update(progress)
        if progress.phase == "fetch":
            notify_progress(progress.records, progress.expected)  # the Python API's on_progress
        if time.monotonic() - last["at"] > 0.5:  # counters at most twice a second
            last["at"] = time.monotonic()
            count_requests()

    async def go(stop: asyncio.Event) -> ExportResult:
        label = run_label(journal)
        async with px_client(settings, stats=stats, wait_for_quota=wait_for_quota, label=label) as client:
            exporter = Exporter(
                client,
                entity,
                options,
                journal,
                stop_event=stop,
                on_progress=on_progress,
                attributes=attributes,
            )
            return await exporter.run()

    journal.set_status("running")
    try:
        result = run_with_signals(go)
    except ResumableStop as exc:
        bar.close()
        count_requests()
        reason = {Interrupted: "interrupted", QuotaExhausted: "quota", FatalApiError: "fatal-api-error"}
        journal.set_status("paused", reason=reason.get(type(exc), type(exc).__name__))
        _write_summary(journal, options, None)
        raise type(exc)(exc.message, hint=resumable_hint(journal.run_dir, exc)) from None
    except BaseException:
        bar.close()
        count_requests()
        journal.set_status("aborted", reason="error")
        raise
    bar.close()
    journal.set_progress("committed", True)
    remove_spools(journal.run_dir)
    count_requests()
    journal.set_status("completed")
    summary = _write_summary(journal, options, result)
    for warning in result.warnings:
        info(f"Warning: {warning}", quiet=as_json)
    if verbose:
        for note in result.notes:
            info(note)
    if result.unknown_columns:
        info(
            f"Warning: --columns {', '.join(result.unknown_columns)}: no such field (empty column)",
            quiet=as_json,
        )
    if as_json:
        emit_json(summary)
    elif not quiet:
        click.echo(human_summary(summary))
        failed = f" ({result.failed:,} users not exported: see errors.csv)" if result.failed else ""
        click.echo(f"Wrote {result.records:,} {entity.name} records to {options.output}{failed}")
    if quiet or as_json:
        info(f"run folder: {journal.run_dir}")
    return int(ExitCode.ROWS_FAILED) if result.failed else int(ExitCode.OK)


def _write_summary(journal: Journal, options: ExportOptions, result: ExportResult | None) -> dict[str, Any]:
    plan = journal.get_progress("plan") or {}
    failed = journal.counts().failed
    if failed:
        with ErrorReport(journal.run_dir, ["identifyId"], raw=options.raw, atomic=True) as report:
            for outcome in journal.iter_outcomes("failed"):
                report.add_outcome(outcome, {"identifyId": outcome.key})
    records = result.records if result is not None else 0
    extra: dict[str, Any] = {
        "output": options.output,
        "format": Path(options.output).suffix.lower().lstrip("."),
        "rows_exported": records,
        "rows_succeeded": records,
        "rows_pending": 0,
        "slices": options.slices,
        "filters": options.filters,
        "sort": options.sort,
        "warnings": list(journal.get_progress("warnings", []) or []),
    }
    if options.since_ms is not None:
        extra["since"], extra["until"] = _iso(options.since_ms), _iso(options.until_ms)
    if result is not None:
        extra.update(
            pages=result.pages,
            parts=result.parts,
            total_hits=result.expected,
            columns=result.columns,
            unknown_columns=result.unknown_columns,
            fetch_seconds=result.fetch_seconds,
            write_seconds=result.write_seconds,
        )
    else:
        info_plan = plan.get("info") or {}
        extra["total_hits"] = info_plan.get("total")
    journal.set_progress("rows_total", records + failed)  # what `batchgs status` shows
    summary = build_summary(journal, rows_total=records + failed, extra=extra)
    duration = float(summary.get("duration_seconds") or 0)
    summary["rows_per_second"] = round(records / duration, 1) if duration > 0 and records else 0.0
    requests = int(summary.get("requests") or 0)
    summary["requests_per_row"] = round(requests / records, 4) if records else 0.0
    write_summary(journal.run_dir, summary)
    return summary


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


__all__ = ["command", "export_entity_names", "resume_run", "run_px_export"]
