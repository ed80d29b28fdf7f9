"""`batchgs import ctas|cs-events FILE` and their `batchgs resume`: the CS side of the import command.

`batchgs.cli.import_cmd` hands CS entities here with its parsed options (`run_import`);
`batchgs resume` calls `resume_run` for import runs of these entities. Both end the same way as PX
runs: summary printed (or JSON), the run folder named, and a paused run raising a resumable error
whose hint is the exact resume command (exit 4).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import click

from batchgs import config
from batchgs.cli.common import default_run_dir, emit_json, info
from batchgs.cli.import_warnings import show_warnings
from batchgs.cli.runner import ResumeFlags, open_for_resume, run_segment
from batchgs.config import Secret, Settings
from batchgs.engine.imports.cs_import import CsImporter, CsImportOptions, CsRunControl
from batchgs.entities import registry
from batchgs.errors import ConfigError, UsageError
from batchgs.io.validate.file import prepare
from batchgs.run.journal import Journal
from batchgs.transport.client import ApiClient, TransportStats, cs_client
from batchgs.transport.coordination import quota_left

MAX_CS_WORKERS = 4
EVENT_OPTIONS = ("topic", "event_name", "event_version", "tenant_id")
PX_ONLY_FLAGS = {"hard_delete": "--hard-delete", "allow_large_delete": "--allow-large-delete"}
PX_ONLY_VALUES = {"region": "--region", "product_key": "--product-key"}


# -- settings shared with cs_export ----------------------------------------------------------------
def cs_settings(ctx: click.Context, opts: Mapping[str, Any], *, events: bool = False) -> Settings:
    """Settings for a CS run: `--base-url` is the tenant, `--daily-limit` the CS daily limit and
    `--rate` (requests per second) lowers this job's pace below the key's per-minute limit (default
    100/min, profile `cs_per_minute`), which stays whole for the shared limiter to divide among the
    key's jobs; the access key (or, for events, the shared secret) must exist."""
    root = ctx.find_root().obj or {}
    settings = config.resolve(
        profile=root.get("profile"),
        cs_base_url=opts.get("base_url"),
        state_dir=opts.get("state_dir"),
        strict_warnings=opts.get("strict_warnings"),
    )
    daily = opts.get("daily_limit")
    if daily is not None:
        if int(daily) < 1:
            raise UsageError("--daily-limit must be at least 1")
        settings = settings.with_overrides(cs_daily_limit=int(daily))
    rate = opts.get("rate")
    if rate is not None:
        if not float(rate) > 0:
            raise UsageError("--rate must be more than 0 requests per second")
        per_minute = max(1, math.floor(float(rate) * 60))
        settings = settings.with_overrides(cs_job_per_minute=per_minute)
    if settings.cs_per_minute < 1:
        raise ConfigError("cs_per_minute must be at least 1")
    if not settings.cs_base_url:
        raise ConfigError(
            "no Gainsight CS base URL",
            hint="--base-url https://<tenant>.gainsightcloud.com or GAINSIGHT_CS_BASE_URL",
        )
    cs_secret(settings, events=events)
    return settings


def cs_secret(settings: Settings, *, events: bool) -> Secret:
    secret = settings.cs_shared_secret if events else settings.cs_access_key
    if not secret:
        var = "GAINSIGHT_CS_SHARED_SECRET" if events else "GAINSIGHT_CS_ACCESS_KEY"
        what = "shared secret (Events Framework)" if events else "access key"
        raise ConfigError(f"no Gainsight CS {what}", hint=f"export {var}=...")
    return secret


def cs_quota_left(settings: Settings, *, events: bool) -> int:
    secret = cs_secret(settings, events=events)
    assert settings.cs_base_url is not None  # cs_settings requires it
    return quota_left(settings, secret.fingerprint(), "cs", settings.cs_daily_limit, settings.cs_base_url)


def client_factory(
    settings: Settings, *, events: bool, stats: TransportStats, wait_for_quota: bool
) -> Callable[[], ApiClient]:
    return lambda: cs_client(settings, events=events, stats=stats, wait_for_quota=wait_for_quota)


# -- import ----------------------------------------------------------------------------------------
def _refuse_foreign_options(entity: str, opts: Mapping[str, Any]) -> None:
    for name, flag in PX_ONLY_FLAGS.items():
        if opts.get(name):
            raise UsageError(f"{flag} is not available for {entity}")
    for name, flag in PX_ONLY_VALUES.items():
        if opts.get(name):
            raise UsageError(f"{flag} is for Gainsight PX; {entity} goes to the CS tenant of --base-url")
    if opts.get("extra_columns") == "attributes":
        raise UsageError(f"--extra-columns attributes is for events, not {entity}")
    if entity != "cs-events":
        for name in EVENT_OPTIONS:
            if opts.get(name):
                raise UsageError(f"--{name.replace('_', '-')} is for cs-events only")


def import_options(entity: str, opts: Mapping[str, Any], settings: Settings) -> CsImportOptions:
    spec = registry.get(entity)
    mode = opts.get("mode") or spec.default_mode
    if mode not in spec.modes:
        raise UsageError(f"--mode {mode} is not available for {entity} (use: {', '.join(spec.modes)})")
    options = CsImportOptions(
        entity=entity,
        mode=mode,
        strict=bool(opts.get("strict")),
        strict_warnings=settings.strict_warnings,
        workers=min(int(opts.get("workers") or MAX_CS_WORKERS), MAX_CS_WORKERS),
        timezone=opts.get("timezone") or "UTC",
        date_format=opts.get("date_format"),
        mapping_file=str(Path(opts["map_file"]).resolve()) if opts.get("map_file") else None,
        sheet=opts.get("sheet"),
        redact=bool(opts.get("redact")),
        base_url=settings.cs_base_url,
        **{name: opts.get(name) for name in EVENT_OPTIONS},
    )
    if entity == "cs-events":
        options.event_target()  # every header named, or one usage error
    return options


def run_import(ctx: click.Context, entity: str, file: Path, opts: dict[str, Any]) -> int:
    """`batchgs import ctas|cs-events FILE [options]` → exit code."""
    _refuse_foreign_options(entity, opts)
    events = entity == "cs-events"
    dry_run = bool(opts.get("dry_run"))
    if events and dry_run:  # an offline plan: no secret needed to count rows
        settings = config.resolve(
            profile=(ctx.find_root().obj or {}).get("profile"),
            cs_base_url=opts.get("base_url"),
            state_dir=opts.get("state_dir"),
            strict_warnings=opts.get("strict_warnings"),
        )
    else:
        settings = cs_settings(ctx, opts, events=events)
    options = import_options(entity, opts, settings)
    quiet, as_json = bool(opts.get("quiet")), bool(opts.get("as_json"))
    with prepare(file, registry.get(entity), options.validate_options()) as validation:  # exit 2
        for notice in validation.notices:
            info(f"Warning: {notice}", quiet=quiet or as_json)
    stats = TransportStats()
    factory = client_factory(
        settings, events=events, stats=stats, wait_for_quota=bool(opts.get("wait_for_quota"))
    )
    control = CsRunControl(dry_run=dry_run, progress=not quiet, per_minute=settings.cs_pace)
    spec = registry.get(entity)
    if dry_run:
        show_warnings(file, spec, options.validate_options(), None, redact=False, quiet=quiet)
        if not events:
            control.quota_left = cs_quota_left(settings, events=False)
        importer = CsImporter(
            input_path=file, options=options, journal=None, client_factory=factory, control=control
        )
        plan = asyncio.run(importer.run())["plan"]
        if as_json:
            emit_json({"entity": entity, "input": str(file), "dry_run": True, "plan": plan})
        else:
            click.echo(describe_plan(entity, options, plan, settings))
        return 0
    control.quota_left = cs_quota_left(settings, events=events)
    run_dir = Path(opts.get("run_dir") or default_run_dir(entity))
    journal = Journal.create(
        run_dir, kind="import", entity=entity, input_path=file, options=options.to_journal()
    )
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
        return _run_segment(file, options, journal, factory, control, quiet=quiet, as_json=as_json)
    finally:
        journal.close()  # releases the run lock even when the run pauses with an error


def resume_run(ctx: click.Context, run_dir: Path, flags: ResumeFlags) -> int:
    """Continue a CS import: same file (refused if changed, exit 5), same options, only what is left."""
    journal, input_path = open_for_resume(run_dir)  # exit 5 if the input changed
    try:
        meta = journal.meta
        options = CsImportOptions.from_journal(meta.options)
        events = options.entity == "cs-events"
        settings = cs_settings(
            ctx,
            flags.connection(options.base_url),
            events=events,
        )
        control = CsRunControl(
            retry_failed=flags.retry_failed,
            resend_uncertain=flags.resend_uncertain,
            progress=not flags.quiet,
            per_minute=settings.cs_pace,
            quota_left=cs_quota_left(settings, events=events),
        )
        factory = client_factory(
            settings, events=events, stats=TransportStats(), wait_for_quota=flags.wait_for_quota
        )
        info(
            f"resuming {run_dir} ({meta.entity} from {input_path})",
            quiet=flags.quiet and not flags.as_json,
        )
        return _run_segment(
            input_path, options, journal, factory, control, quiet=flags.quiet, as_json=flags.as_json
        )
    finally:
        journal.close()


def _run_segment(
    input_path: Path,
    options: CsImportOptions,
    journal: Journal,
    factory: Callable[[], ApiClient],
    control: CsRunControl,
    *,
    quiet: bool,
    as_json: bool,
) -> int:
    """One segment of a CS import run (new or resumed) → exit code."""

    def make(stop: asyncio.Event) -> Awaitable[dict[str, Any]]:
        return CsImporter(
            input_path=input_path,
            options=options,
            journal=journal,
            client_factory=factory,
            control=control,
            stop_event=stop,
        ).run()

    return run_segment(journal, make, quiet=quiet, as_json=as_json)


def describe_plan(entity: str, options: CsImportOptions, plan: Mapping[str, Any], settings: Settings) -> str:
    """The --dry-run report: rows, calls, the share of the daily limit and the time at the CS rate."""
    lines = [f"Dry run: nothing was sent. {entity}, mode {options.mode}"]
    lines.append(f"  rows in file        {plan['rows_total']:,}")
    if plan.get("rows_invalid") is not None:
        lines.append(f"  invalid rows        {plan['rows_invalid']:,}  (see validate for details)")
    lines.append(f"  rows to send        {plan['rows_to_send']:,}")
    if entity == "ctas":
        lines.append(f"  creates             {plan['creates']:,}")
        lines.append(f"  updates             {plan['updates']:,}")
    requests = int(plan["requests_estimate"])
    limit = settings.cs_daily_limit
    share = requests / limit * 100 if limit else 0.0
    lines.append(f"  requests (estimate) {requests:,}  ({share:.1f}% of the daily limit of {limit:,})")
    if plan.get("quota_left") is not None:
        lines.append(f"  quota left now      {plan['quota_left']:,}")
    minutes, seconds = divmod(round(float(plan["eta_seconds"])), 60)
    lines.append(f"  time at {settings.cs_pace}/min     {minutes}m{seconds:02d}s")
    lines.extend(f"  note: {note}" for note in plan.get("notes", []))
    return "\n".join(lines)
