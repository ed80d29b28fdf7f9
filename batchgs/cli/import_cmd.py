"""`batchgs import ENTITY FILE`: send a spreadsheet's rows to Gainsight.

PX entities (users, accounts, events, preferences) run through `batchgs.engine.imports.importer` here; CS
entities (ctas, cs-events) are handed to `batchgs.cli.cs_import`. `resume_px_import` continues a PX
run for `batchgs resume`.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import (
    SuggestingChoice,
    connection_options,
    default_run_dir,
    emit_json,
    info,
    map_file_defaults,
    output_options,
    px_settings,
    rate_options,
)
from batchgs.cli.import_warnings import show_warnings
from batchgs.cli.px_import_run import PxRun, describe_plan
from batchgs.cli.runner import ResumeFlags, open_for_resume, remember_settings
from batchgs.engine.imports.before_state import CHANGED_ONLY_MODES
from batchgs.engine.imports.importer import PX_IMPORT_ENTITIES, ImportOptions, RunControl
from batchgs.entities import registry
from batchgs.errors import OutputFileError, UsageError
from batchgs.io.validate.file import prepare
from batchgs.reports.changes import CHANGES_CSV
from batchgs.run.cleanup import discard_unconfirmed_run
from batchgs.run.folder import make_private_dir
from batchgs.run.journal import Journal

CS_ENTITIES = ("ctas", "cs-events")


@click.command("import")
@click.argument("entity", type=SuggestingChoice([*PX_IMPORT_ENTITIES, *CS_ENTITIES]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False), help="Folder for the checkpoint and reports.")
@click.option(
    "--mode",
    type=click.Choice(["upsert", "insert", "update", "delete"]),
    help="users/accounts: upsert (default), insert, update or delete.",
)
@click.option("--hard-delete", is_flag=True, help="With --mode delete: delete permanently.")
@click.option("--allow-large-delete", is_flag=True, help="Allow a run of more than 1,000 deletes.")
@click.option(
    "--strategy",
    type=click.Choice(["auto", "put-first", "post-first"]),
    default="auto",
    show_default=True,
    help="Upsert: PUT then POST on 404, POST then PUT on duplicate, or learn the existing keys first.",
)
@click.option("--sheet", help="Worksheet of an .xlsx (default: the first).")
@click.option(
    "--map",
    "map_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Column mapping: a TOML map, or the config.json of Gainsight's PX data loader.",
)
@click.option(
    "--timezone",
    help="Zone of dates written without an offset (default: the --map config.json's timezone, else UTC).",
)
@click.option(
    "--extra-columns",
    type=click.Choice(["refuse", "attributes"]),
    default="refuse",
    show_default=True,
    help="events: send columns that are no API field as event attributes instead of refusing the file.",
)
@click.option("--date-format", metavar="FMT", help="strftime format of the date cells, e.g. %d/%m/%Y.")
@click.option("--strict", is_flag=True, help="Send nothing if any row is invalid (exit 3).")
@click.option(
    "--strict-warnings",
    is_flag=True,
    default=None,
    help="Treat warnings (guesses such as lost leading zeros) as errors (profile: strict_warnings = true).",
)
@click.option("--dry-run", is_flag=True, help="Validate and plan; print what would be sent; send nothing.")
@click.option(
    "--changed-only",
    is_flag=True,
    help="users/accounts/preferences: compare with Gainsight's current records and send only rows "
    "that create a record or change a field; writes changes.csv (with --dry-run: the plan, nothing sent).",
)
@click.option(
    "--no-backup",
    is_flag=True,
    help="users/accounts: keep no before-images (saves their reads; the run cannot be undone).",
)
@click.option(
    "--workers", type=click.IntRange(1, 256), default=64, show_default=True, help="Requests in flight."
)
@click.option("--redact", is_flag=True, help="Hash emails and names in errors.csv/success.csv.")
@click.option("--topic", help="cs-events: the event topic.")
@click.option("--event-name", help="cs-events: the event name.")
@click.option("--event-version", help="cs-events: the event version.")
@click.option("--tenant-id", help="cs-events: the CS tenant id.")
@connection_options
@rate_options
@output_options
@click.pass_context
def command(ctx: click.Context, entity: str, file: Path, **opts: Any) -> None:
    """Send the rows of FILE (.csv, .tsv, .xlsx) to Gainsight as ENTITY.

    Every row is validated first; invalid rows are reported in RUN_DIR/errors.csv and the rest are
    sent within --rate. The run can be resumed after a crash, Ctrl-C or a full daily quota:
    `batchgs resume RUN_DIR`. With --changed-only (users, accounts, preferences) only rows that create a
    record or change a field are sent, each changed field listed in RUN_DIR/changes.csv (key, action,
    field, before, after). Users/accounts runs keep before-images: `batchgs undo RUN_DIR` takes the run
    back. Exit 0 all rows succeeded, 1 some failed, 2 usage error (nothing sent), 3 --strict and invalid
    rows (nothing sent), 4 paused (resumable), 5 not resumable.
    """
    if entity in CS_ENTITIES:
        cs_import = import_module("batchgs.cli.cs_import")  # CS runs live in their own module
        sys.exit(cs_import.run_import(ctx, entity, file, opts))
    sys.exit(run_px_import(ctx, entity, file, opts))


def run_px_import(ctx: click.Context, entity: str, file: Path, opts: dict[str, Any]) -> int:
    spec = registry.get(entity)
    mode = opts.get("mode") or spec.default_mode
    if mode not in spec.modes:
        raise UsageError(f"--mode {mode} is not available for {entity} (use: {', '.join(spec.modes)})")
    if opts.get("hard_delete") and mode != "delete":
        raise UsageError("--hard-delete goes with --mode delete")
    for name in ("topic", "event_name", "event_version", "tenant_id"):
        if opts.get(name):
            raise UsageError(f"--{name.replace('_', '-')} is for cs-events only")
    changed_only = bool(opts.get("changed_only"))
    if changed_only and (
        entity not in ("users", "accounts", "preferences") or mode not in CHANGED_ONLY_MODES
    ):
        raise UsageError(
            "--changed-only works with users, accounts and preferences in mode upsert or update "
            f"(not {entity}, {mode})",
            hint="leave --changed-only out to send every row",
        )
    file_defaults, map_timezone = map_file_defaults(opts.get("map_file"))
    settings = px_settings(ctx, {**opts, "file_defaults": file_defaults})
    options = ImportOptions(
        entity=spec.name,
        mode=mode,
        strategy=opts.get("strategy") or "auto",
        hard_delete=bool(opts.get("hard_delete")),
        strict=bool(opts.get("strict")),
        strict_warnings=settings.strict_warnings,
        workers=int(opts.get("workers") or 64),
        timezone=opts.get("timezone") or map_timezone or "UTC",
        date_format=opts.get("date_format"),
        product_key=settings.product_key,
        mapping_file=str(Path(opts["map_file"]).resolve()) if opts.get("map_file") else None,
        extra_columns=opts.get("extra_columns") or "refuse",
        sheet=opts.get("sheet"),
        redact=bool(opts.get("redact")),
        base_url=settings.px_base_url,
        changed_only=changed_only,
        backup=not opts.get("no_backup"),
    )
    quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
    with prepare(file, spec, options.validate_options()) as validation:  # file-level errors: exit 2
        for notice in validation.notices:
            info(f"Warning: {notice}", quiet=quiet or as_json)
    control = RunControl(dry_run=bool(opts.get("dry_run")), progress=not quiet, rate=settings.rate)
    if control.dry_run:
        show_warnings(file, spec, options.validate_options(), None, redact=False, quiet=quiet)
        plan_dir = None
        if changed_only:  # the plan leaves changes.csv in a run folder
            plan_dir = Path(opts.get("run_dir") or default_run_dir(spec.name))
            make_plan_dir(plan_dir)
        run = PxRun(spec, file, options, None, settings, control, wait_for_quota=False, plan_dir=plan_dir)
        plan = run.dry_run()
        if as_json:
            out = {"entity": spec.name, "input": str(file), "dry_run": True, "plan": plan}
            emit_json({**out, "run_dir": str(plan_dir)} if plan_dir else out)
        else:
            click.echo(describe_plan(spec.name, options, plan, settings.daily_limit))
            if plan_dir is not None:
                click.echo(f"  changes             {plan_dir / CHANGES_CSV}")
        return 0
    run_dir = Path(opts.get("run_dir") or default_run_dir(spec.name))
    discard_unconfirmed_run(run_dir)  # an earlier refusal of this same command blocks nothing
    journal = Journal.create(
        run_dir, kind="import", entity=spec.name, input_path=file, options=options.to_journal()
    )
    remember_settings(journal, settings)  # resume keeps this run's rate and daily limit
    info(f"run folder: {run_dir}", quiet=quiet and not as_json)
    try:
        show_warnings(
            file,
            spec,
            options.validate_options(),
            journal,
            redact=options.redact,
            quiet=quiet,
        )
        run = PxRun(
            spec,
            file,
            options,
            journal,
            settings,
            control,
            wait_for_quota=bool(opts.get("wait_for_quota")),
            yes=bool(opts.get("yes")),
            allow_large_delete=bool(opts.get("allow_large_delete")),
        )
        return run.execute(quiet=quiet, as_json=as_json)
    finally:
        journal.close()  # releases the run lock even when the run pauses with an error
        discard_unconfirmed_run(run_dir)  # a delete refused at the prompt sent nothing: no folder left


def make_plan_dir(path: Path) -> None:
    """A fresh folder for a dry run's changes.csv (an existing non-empty one is refused)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise OutputFileError(f"{path}: run folder exists and is not empty", hint="choose another --run-dir")
    make_private_dir(path)


def resume_px_import(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """Continue a PX import: same file (refused if changed, exit 5), same options, only what is left."""
    journal, input_path = open_for_resume(run_dir)  # exit 5 if the input changed
    try:
        meta = journal.meta
        options = ImportOptions.from_journal(meta.options)
        spec = registry.get(meta.entity)
        settings = px_settings(
            ctx,
            flags.connection(options.base_url, journal),
        )
        control = RunControl(
            retry_failed=flags.retry_failed,
            resend_uncertain=flags.resend_uncertain,
            progress=not flags.quiet,
            rate=settings.rate,
        )
        info(
            f"resuming {run_dir} ({meta.entity} from {input_path})",
            quiet=flags.quiet and not flags.as_json,
        )
        run = PxRun(
            spec,
            input_path,
            options,
            journal,
            settings,
            control,
            wait_for_quota=flags.wait_for_quota,
            yes=flags.yes,
            allow_large_delete=True,  # confirmed when the run started
            confirmed=True,
        )
        return run.execute(quiet=flags.quiet, as_json=flags.as_json)
    finally:
        journal.close()


resume_run = resume_px_import  # the `batchgs resume` protocol name (see cli/runner.ResumeFlags)
