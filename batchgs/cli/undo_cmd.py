"""`batchgs undo RUN_DIR`: take back a users/accounts import from the before-images kept in RUN_DIR.

The undo is a run of its own (`--run-dir`, default `./batchgs-runs/undo-<entity>-<timestamp>`),
resumable with `batchgs resume`. It goes to the Gainsight the import went to (the run's base URL).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import default_run_dir, emit_json, info, output_options, px_settings, rate_options
from batchgs.cli.import_cmd import make_plan_dir
from batchgs.cli.px_import_run import production_yes
from batchgs.cli.runner import ResumeFlags, confirm_count, run_segment
from batchgs.cli.validate_cmd import resolve_catalog
from batchgs.config import Settings
from batchgs.engine.imports.before_state import date_fields
from batchgs.engine.imports.undo import Undo, UndoOptions, refuse_unless_undoable
from batchgs.entities import registry
from batchgs.errors import NotResumableError, UsageError
from batchgs.reports.changes import CHANGES_CSV
from batchgs.run.before_images import BeforeImages
from batchgs.run.cleanup import discard_unconfirmed_run
from batchgs.run.journal import Journal
from batchgs.transport.client import TransportStats, px_client


@click.command("undo")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--run-dir", "undo_dir", type=click.Path(file_okay=False), help="Folder of the undo run.")
@click.option("--dry-run", is_flag=True, help="Read and plan; write the undo's changes.csv; send nothing.")
@click.option(
    "--workers", type=click.IntRange(1, 256), default=32, show_default=True, help="Requests in flight."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Folder of the daily quota ledger (env BATCHGS_STATE_DIR).",
)
@rate_options
@output_options
@click.pass_context
def command(ctx: click.Context, run_dir: Path, **opts: Any) -> None:
    """Take back the users/accounts import in RUN_DIR, from the before-images it kept.

    Fields the run changed get their before values back, records it created are deleted, records it
    deleted are created again. A record changed again since the run is a conflict: left alone and
    listed in the undo's errors.csv (code `conflict`, with the value before the run, the value the run
    wrote and the value now). Asks for the count typed back (or --yes). Exit 0 all undone, 1 some
    conflicts or failures, 2 nothing can be undone (events, opt-outs, a run without before-images),
    4 paused (resumable with `batchgs resume`).
    """
    source = _open_source(run_dir)
    source_store: BeforeImages | None = None
    try:
        meta = source.meta
        source_store = BeforeImages.open(run_dir)
        refuse_unless_undoable(run_dir, meta.kind, meta.entity, source_store)
        assert source_store is not None
        spec = registry.get(meta.entity)
        options = UndoOptions(
            source_run=str(run_dir.resolve()),
            entity=spec.name,
            workers=int(opts.get("workers") or 32),
            base_url=meta.options.get("base_url"),
        )
        settings = undo_settings(ctx, options, opts)
        quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
        target = Path(opts.get("undo_dir") or default_run_dir(f"undo-{spec.name}"))
        if opts.get("dry_run"):
            make_plan_dir(target)
            scratch = BeforeImages.create(
                _scratch_dir(target), entity=spec.name, key_field=source_store.key_field
            )
            try:
                Undo.store_plan(source, source_store, spec, scratch)
                dates = _dates(spec, settings, None)
                undo = _undo_engine(spec, options, scratch, None, settings, target, dates, quiet=True)
                plan = asyncio.run(undo.run())
            finally:
                scratch.close()
                shutil.rmtree(_scratch_dir(target), ignore_errors=True)
            _print_plan(plan, target, as_json=as_json)
            sys.exit(0)
        discard_unconfirmed_run(target)  # an earlier refusal of this same command blocks nothing
        journal = Journal.create(
            target, kind="undo", entity=spec.name, input_path=None, options=options.to_journal()
        )
        store = BeforeImages.create(target, entity=spec.name, key_field=source_store.key_field)
        Undo.store_plan(source, source_store, spec, store)
    finally:
        if source_store is not None:
            source_store.close()
        source.close()
    info(f"run folder: {target}", quiet=quiet and not as_json)
    yes = production_yes(settings, bool(opts.get("yes")))

    def confirm(count: int) -> None:
        where = f" ({settings.profile}, production)" if settings.production else ""
        warning = (
            "deleting an account the run created also deletes every user of that account in Gainsight PX"
            if spec.name == "accounts"
            else None
        )
        confirm_count(count, f"take back (restore, delete or re-create){where}", yes=yes, warning=warning)

    try:
        code = _execute(spec, options, store, journal, settings, confirm, quiet=quiet, as_json=as_json)
    finally:
        discard_unconfirmed_run(target)  # refused at the prompt, nothing sent: no folder left
    sys.exit(code)


def _open_source(run_dir: Path) -> Journal:
    """The run to take back; a folder that holds no run is a bad argument (exit 2), not a resume failure.
    A folder that a live batchgs process still drives is refused by the journal's lock."""
    try:
        return Journal.open(run_dir)
    except NotResumableError as exc:
        raise UsageError(str(exc), hint="RUN_DIR is the run folder of the import to take back") from exc


def undo_settings(ctx: click.Context, options: UndoOptions, opts: dict[str, Any]) -> Settings:
    return px_settings(
        ctx,
        {
            "base_url": options.base_url,
            "rate": opts.get("rate"),
            "daily_limit": opts.get("daily_limit"),
            "state_dir": opts.get("state_dir"),
        },
    )


def _scratch_dir(plan_dir: Path) -> Path:
    return plan_dir / ".plan-images"


def _dates(spec: Any, settings: Settings, folder: Path | None) -> frozenset[str]:
    """Fields holding epoch ms (custom ones from the attribute catalog): read outside any event loop."""
    catalog, _note = resolve_catalog(spec, settings, folder, offline=False)
    return date_fields(spec, catalog)


def _undo_engine(
    spec: Any,
    options: UndoOptions,
    store: BeforeImages,
    journal: Journal | None,
    settings: Settings,
    folder: Path,
    dates: frozenset[str],
    *,
    quiet: bool,
    stop: asyncio.Event | None = None,
    wait_for_quota: bool = False,
) -> Undo:
    stats = TransportStats()
    return Undo(
        spec=spec,
        options=options,
        store=store,
        journal=journal,
        client_factory=lambda: px_client(
            settings, stats=stats, rate=settings.rate, wait_for_quota=wait_for_quota
        ),
        plan_dir=folder,
        date_fields=dates,
        progress=not quiet,
        stop_event=stop,
    )


def _execute(
    spec: Any,
    options: UndoOptions,
    store: BeforeImages,
    journal: Journal,
    settings: Settings,
    confirm: Any,
    *,
    quiet: bool,
    as_json: bool,
    wait_for_quota: bool = False,
) -> int:
    dates = _dates(spec, settings, journal.run_dir)

    async def go(stop: asyncio.Event) -> dict[str, Any]:
        undo = _undo_engine(
            spec,
            options,
            store,
            journal,
            settings,
            journal.run_dir,
            dates,
            quiet=quiet,
            stop=stop,
            wait_for_quota=wait_for_quota,
        )
        return await undo.run(confirm=confirm)

    try:
        return run_segment(journal, go, quiet=quiet, as_json=as_json)
    finally:
        store.close()
        journal.close()


def _print_plan(plan: dict[str, Any], folder: Path, *, as_json: bool) -> None:
    body = plan["plan"]
    if as_json:
        emit_json({"dry_run": True, "run_dir": str(folder), "plan": body})
        return
    lines = [
        "Dry run: nothing was sent.",
        f"  records changed by the run  {body['records']:,}",
        f"  to take back                {body['send']:,}",
        f"  already as before           {body['done']:,}",
        f"  conflicts (left alone)      {body['conflict']:,}",
    ]
    for action, count in (body.get("changes") or {}).items():
        lines.append(f"  {action:<27} {count:,}")
    lines.append(f"  changes                     {folder / CHANGES_CSV}")
    click.echo("\n".join(lines))


def resume_run(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """`batchgs resume` of an undo: the same plan, judged again against the records as they are now."""
    journal = Journal.open(run_dir)
    try:
        options = UndoOptions.from_journal(journal.meta.options)
        store = BeforeImages.open(run_dir)
        if store is None:
            raise NotResumableError(f"{run_dir}: the undo's plan (before_images.sqlite3) is missing")
        spec = registry.get(options.entity)
        settings = px_settings(ctx, flags.connection(options.base_url))
    except BaseException:
        journal.close()
        raise
    info(f"resuming {run_dir} (undo of {options.source_run})", quiet=flags.quiet and not flags.as_json)
    return _execute(
        spec,
        options,
        store,
        journal,
        settings,
        None,
        quiet=flags.quiet,
        as_json=flags.as_json,
        wait_for_quota=flags.wait_for_quota,
    )
