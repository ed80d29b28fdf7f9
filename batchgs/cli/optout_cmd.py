"""`batchgs optout FILE`: compliance bulk opt-out with an audit receipt, and its `batchgs resume`.

The list is read first (a file problem is exit 2 before any folder or request), then the engine's
steps run in their own event loops — prepare (key check, email lookups), the typed confirmation
(outside any loop, so Ctrl-C works at the prompt), execute — and the run ends like an import:
summary printed or `--json`, the run folder named, exit 0/1, or 4 with the exact resume command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import (
    connection_options,
    default_run_dir,
    emit_json,
    info,
    output_options,
    px_settings,
    rate_options,
)
from batchgs.cli.runner import (
    ResumeFlags,
    confirm_count,
    exit_code_for,
    open_for_resume,
    record_stop,
    remember_settings,
    resumable_hint,
    run_with_signals,
)
from batchgs.config import Settings
from batchgs.engine.optout.actions import OptOutOptions, parse_only
from batchgs.engine.optout.input import OptOutInput, read_input
from batchgs.engine.optout.plan import OptOutPlan
from batchgs.engine.optout.receipt import RECEIPT_STATUSES
from batchgs.engine.optout.run import ENTITY, DryRunReport, OptOutControl, OptOutEngine
from batchgs.errors import ResumableStop, UsageError
from batchgs.reports.summary import human_summary
from batchgs.run.cleanup import discard_unconfirmed_run
from batchgs.run.journal import Journal
from batchgs.transport.client import TransportStats, px_client

SHOWN_ROW_ERRORS = 20


class NotConfirmed(UsageError):
    """The prompt was left (Ctrl-C, end of input): nothing was sent."""


SHOWN_DRY_RUN_PEOPLE = 50


@click.command("optout")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--only",
    metavar="NAMES",
    help="Turn off only these preferences (comma-separated: trackUsage, productUpdates, guidedTours, "
    "surveys, onboardingBot, trackEmailAnalytics). Default: all six.",
)
@click.option("--denylist", is_flag=True, help="Also set the denylist flag (PX ignores the user's events).")
@click.option("--unsubscribe-email", is_flag=True, help="Also set globalUnsubscribe (no more email).")
@click.option("--dry-run", is_flag=True, help="Read and show what would change; write nothing.")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Folder for the checkpoint and receipt.")
@click.option("--sheet", help="Worksheet of an .xlsx (default: the first).")
@click.option(
    "--workers", type=click.IntRange(1, 256), default=32, show_default=True, help="Users processed at once."
)
@connection_options
@rate_options
@output_options
@click.pass_context
def command(ctx: click.Context, file: Path, **opts: Any) -> None:
    """Opt the people listed in FILE out of Gainsight PX tracking and messages, with a receipt.

    FILE (.csv, .tsv, .xlsx) has an identifyId or an email column. Each person's preferences are read
    before and after the change; RUN_DIR/receipt.csv and receipt.json prove what was done, and
    pending.csv lists people not found (pass it again once they exist). It never turns anything on.
    Every count is of the people listed (someone named twice, or an email matching two PX users, is one
    person), with rows and PX user records as second figures.
    Exit 0 everyone opted out, 1 some not found or failed, 4 paused (batchgs resume RUN_DIR).
    """
    sys.exit(run_optout(ctx, file, opts))


def run_optout(ctx: click.Context, file: Path, opts: dict[str, Any]) -> int:
    only = parse_only(opts.get("only"))
    settings = px_settings(ctx, opts)
    options = OptOutOptions(
        only=only,
        denylist=bool(opts.get("denylist")),
        unsubscribe=bool(opts.get("unsubscribe_email")),
        workers=int(opts.get("workers") or 32),
        sheet=opts.get("sheet"),
        base_url=settings.px_base_url,
    )
    quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
    source = read_input(file, sheet=options.sheet)  # file-level problems: exit 2, nothing created
    _report_input(source, quiet=quiet or as_json)
    control = OptOutControl(dry_run=bool(opts.get("dry_run")), progress=not quiet, rate=settings.rate)
    wait = bool(opts.get("wait_for_quota"))

    def engine_for(journal: Journal | None) -> OptOutEngine:
        engine = OptOutEngine(
            input_path=file,
            options=options,
            journal=journal,
            client_factory=_factory(settings, wait),
            control=control,
        )
        engine.input = source  # read once above, for both the dry run and the run
        return engine

    if control.dry_run:
        engine = engine_for(None)
        plan = run_with_signals(engine.prepare)
        report = run_with_signals(lambda stop: engine.dry_run(plan, stop))
        if as_json:
            emit_json({"input": str(file), **report.as_dict(options)})
        else:
            click.echo(describe_dry_run(file, report, options))
        return 0
    run_dir = Path(opts.get("run_dir") or default_run_dir(ENTITY))
    discard_unconfirmed_run(run_dir)  # an earlier refusal of this same command blocks nothing
    journal = Journal.create(
        run_dir, kind="optout", entity=ENTITY, input_path=file, options=options.to_journal()
    )
    remember_settings(journal, settings)  # resume keeps this run's rate and daily limit
    info(f"run folder: {run_dir}", quiet=quiet and not as_json)
    try:
        return _drive(engine_for(journal), settings, yes=bool(opts.get("yes")), quiet=quiet, as_json=as_json)
    finally:
        journal.close()
        discard_unconfirmed_run(run_dir)  # refused at the prompt: nothing sent, nothing left behind


def resume_run(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """Continue an opt-out run: same file (refused if changed, exit 5), same plan, only what is left."""
    journal, input_path = open_for_resume(run_dir)  # exit 5 if the input changed
    try:
        meta = journal.meta
        options = OptOutOptions.from_journal(meta.options)
        settings = px_settings(
            ctx,
            flags.connection(options.base_url, journal),
        )
        control = OptOutControl(retry_failed=flags.retry_failed, progress=not flags.quiet, rate=settings.rate)
        info(f"resuming {run_dir} (opt-out of {input_path})", quiet=flags.quiet and not flags.as_json)
        engine = OptOutEngine(
            input_path=input_path,
            options=options,
            journal=journal,
            client_factory=_factory(settings, flags.wait_for_quota),
            control=control,
        )
        return _drive(engine, settings, yes=flags.yes, quiet=flags.quiet, as_json=flags.as_json)
    finally:
        journal.close()


def _factory(settings: Settings, wait_for_quota: bool) -> Any:
    stats = TransportStats()  # one for the whole command: the engine counts deltas
    return lambda: px_client(settings, stats=stats, rate=settings.rate, wait_for_quota=wait_for_quota)


def _drive(engine: OptOutEngine, settings: Settings, *, yes: bool, quiet: bool, as_json: bool) -> int:
    journal = engine.journal
    assert journal is not None
    confirming = False
    try:
        plan = run_with_signals(engine.prepare)
        if plan.new:
            confirming = True
            try:
                _confirm(plan, engine, settings, yes=yes)
            except (click.Abort, KeyboardInterrupt):
                raise NotConfirmed("not confirmed: nothing was sent and no run folder was kept") from None
            confirming = False
            engine.commit_plan(plan)
        summary = run_with_signals(lambda stop: engine.execute(plan, stop))
    except ResumableStop as exc:  # before sending: key refused, quota gone, Ctrl-C during lookups
        record_stop(journal, exc, before_sending=True)
        raise type(exc)(exc.message, hint=resumable_hint(journal.run_dir, exc)) from None
    except SystemExit:  # a second Ctrl-C: the journal holds everything answered so far
        journal.set_status("paused", reason="interrupted")
        raise
    except BaseException:
        journal.set_status("aborted", reason="not-confirmed" if confirming else "error")
        raise
    stop = summary.pop("stop", None)
    if as_json:
        emit_json(summary)
    elif not quiet:
        click.echo(optout_summary(summary))
        click.echo(receipt_line(summary))
    if quiet or as_json:
        info(f"run folder: {journal.run_dir}")
    if isinstance(stop, ResumableStop):
        record_stop(journal, stop)
        raise type(stop)(stop.message, hint=resumable_hint(journal.run_dir, stop))
    return exit_code_for(summary)


def _confirm(plan: OptOutPlan, engine: OptOutEngine, settings: Settings, *, yes: bool) -> None:
    """State who and what, then ask for the number of people typed back (or --yes)."""
    click.echo(f"{plan_line(plan, settings)}. Change: {engine.options.describe()}.", err=True)
    where = f" in profile {settings.profile} (production)" if settings.production else ""
    confirm_count(plan.people, f"opt out{where}", yes=yes, unit="people")


def plan_line(plan: OptOutPlan, settings: Settings) -> str:
    """`About to opt out 9 people (up to 11 PX user records; the list names 11 people in 12 rows: not-found 1,
    invalid 1; 1 row names someone already listed)`: the people the receipt will count (an email shared
    by two users is one person, two records)."""
    where = f" in profile {settings.profile} (production)" if settings.production else ""
    others = plan.plan_statuses()
    kinds = [f"{kind} {others[kind]:,}" for kind in ("not-found", "invalid", "unsearchable") if others[kind]]
    repeated = plan.rows_total - plan.people_listed
    again = (
        f"; {repeated:,} row{'s name' if repeated != 1 else ' names'} someone already listed"
        if repeated
        else ""
    )
    return (
        f"About to opt out {plan.people:,} people{where} (up to {plan.records:,} PX user records; the list "
        f"names {plan.people_listed:,} people in {plan.rows_total:,} rows"
        f"{': ' + ', '.join(kinds) if kinds else ''}{again})"
    )


def _report_input(source: OptOutInput, *, quiet: bool) -> None:
    """One line per invalid row (the first few), warnings and unused columns, on stderr."""
    if quiet:
        return
    for warning in source.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if source.unused_columns:
        click.echo(f"Note: columns not used: {', '.join(source.unused_columns)}", err=True)
    invalid = source.invalid
    for row in invalid[:SHOWN_ROW_ERRORS]:
        column = {"bad-email": "email", "damaged-id": "identifyId"}.get(row.code, "identifyId/email")
        click.echo(
            f"Warning: {source.path}, row {row.row}, column {column!r}: {row.message} (not sent)", err=True
        )
    if len(invalid) > SHOWN_ROW_ERRORS:
        click.echo(
            f"Warning: ... and {len(invalid) - SHOWN_ROW_ERRORS:,} more invalid rows (see receipt.csv)",
            err=True,
        )


def people_line(counts: dict[str, Any], rows: int, *, dry_run: bool = False) -> str:
    """`9 people (10 rows): opted-out 4, already-opted-out 1, not-found 2, invalid 2` — the receipt's
    statuses, each person once; always-shown statuses even at 0 so a reader sees nothing was hidden."""
    shown = ", ".join(
        f"{name} {counts.get(name, 0):,}"
        for name in (*RECEIPT_STATUSES[:1], "would-opt-out", *RECEIPT_STATUSES[1:])
        if counts.get(name)
        or name in ("would-opt-out" if dry_run else "opted-out", "already-opted-out", "not-found", "failed")
    )
    people = sum(counts.get(name, 0) for name in (*RECEIPT_STATUSES, "would-opt-out"))
    return f"{people:,} people ({rows:,} rows): {shown}"


def records_line(records: dict[str, int]) -> str:
    """`10 PX user records: opted-out 10` — the users behind the people (an email can match two)."""
    total = sum(records.values())
    shown = ", ".join(f"{name} {count:,}" for name, count in records.items() if count)
    return f"{total:,} PX user records{': ' + shown if shown else ''}"


def optout_summary(summary: dict[str, Any]) -> str:
    """The run's summary in the receipt's words: people per status, rows and records as secondary
    figures (the generic `Rows` line is left out: summary.json's rows_* count the same people)."""
    general = {k: v for k, v in summary.items() if not k.startswith("rows_") and k != "operations"}
    general["requests_per_row"] = None  # "per row" would be a third vocabulary: the figure is in --json
    counts = summary.get("receipt") or {}
    return (
        human_summary(general)
        + f"\nPeople      {people_line(counts, int(counts.get('rows', 0)))}"
        + f"\nRecords     {records_line(summary.get('records') or {})}"
    )


def receipt_line(summary: dict[str, Any]) -> str:
    line = f"Receipt     {summary.get('receipt_csv')}"
    if summary.get("pending_csv"):
        line += (
            f"\nTo do later {summary['pending_csv']} (not found yet: pass it again once they exist;"
            " pending: batchgs resume)"
        )
    return line


def describe_dry_run(file: Path, report: DryRunReport, options: OptOutOptions) -> str:
    data = report.as_dict(options)
    statuses = data["statuses"]
    lines = [f"Dry run: nothing was written. Opt-out of {file}: {options.describe()}"]
    lines.append(f"  people              {people_line(statuses, data['rows'], dry_run=True)}")
    lines.append(f"  records             {records_line(data['records'])}")
    changes = ", ".join(f"{name} {n:,}" for name, n in data["changes"].items())
    lines.append(f"  changes             {changes} (PX user records)")
    would = [d for d in data["details"] if d["status"] == "would-opt-out"]
    for detail in would[:SHOWN_DRY_RUN_PEOPLE]:
        who = detail["identifyId"] + (f" <{detail['email']}>" if detail["email"] else "")
        lines.append(f"  row {detail['row']}: {who}: would change {', '.join(detail['changes'])}")
    if len(would) > SHOWN_DRY_RUN_PEOPLE:
        lines.append(f"  ... and {len(would) - SHOWN_DRY_RUN_PEOPLE:,} more (--json lists everyone)")
    return "\n".join(lines)
