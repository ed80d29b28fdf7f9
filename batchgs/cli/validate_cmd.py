"""`batchgs validate ENTITY FILE`: check a file offline; nothing is sent.

Writes errors.csv (and errors.xlsx for an .xlsx input) in the run folder or at --report: the row's
original columns unchanged, then `_row`, `_code` (the row's first problem), `_message` (every problem
of the row, `column: message`, joined with "; ") and `_http_status` (empty), so the file can be fixed
and fed back as is; warnings.csv the same way for rows sent as written but worth a look. The folder
is `batchgs-runs/validate-ENTITY` unless --run-dir says otherwise: one folder per entity, replaced by
the next validate, so repeated checks do not pile up copies of personal data; its summary.json
(kind "validate") lets `batchgs status` and `batchgs clean` recognise it. Prints a summary grouped
by code with a few examples.
Exit 0 every row valid, 1 some invalid, 3 with --strict and some invalid, 2 unreadable input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import emit_json, map_file_defaults, settings_from
from batchgs.config import Settings
from batchgs.entities import registry
from batchgs.entities.spec import EntitySpec
from batchgs.errors import BatchgsError, ExitCode, FatalApiError, OutputFileError, StrictValidationError
from batchgs.io.mapping import TargetKind
from batchgs.io.validate.attributes import CACHE_FILE, AttributeCatalog
from batchgs.io.validate.file import ValidateOptions, Validation, prepare
from batchgs.reports.issue_tally import Tally, joined
from batchgs.reports.row_reports import ERRORS_CSV, ERRORS_XLSX, WARNINGS_CSV, ErrorReport, WarningReport
from batchgs.reports.summary import write_summary
from batchgs.run.cleanup import DEFAULT_RUNS_ROOT
from batchgs.run.folder import make_private_dir
from batchgs.transport.client import px_client
from batchgs.transport.metadata import fetch_attributes


# ----------------------------------------------------------------------------------------------------
def fetch_attribute_items(settings: Settings, model: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """(the subscription's attribute list for `model` ("user" | "account"), None) or (None, why it
    could not be read): validation then checks custom attributes offline and says why."""

    async def fetch() -> list[dict[str, Any]]:
        async with px_client(settings) as client:
            return await fetch_attributes(client, "user" if model == "user" else "account")

    try:
        return asyncio.run(fetch()), None
    except FatalApiError as exc:
        if exc.status == 401:
            return None, (
                "the PX API key was refused (401 Unauthorized): check GAINSIGHT_PX_API_KEY and the region "
                "or base URL; custom attributes are checked offline"
            )
        if exc.status == 403:
            return None, (
                "the PX API key may not read the attribute catalog (403 Forbidden); "
                "custom attributes are checked offline"
            )
        return None, _not_fetched(exc)
    except BatchgsError as exc:
        return None, _not_fetched(exc)


def _not_fetched(exc: BatchgsError) -> str:
    return (
        f"the attribute catalog could not be fetched ({exc.message}): custom attributes are checked offline"
    )


def catalog_from_items(items: list[dict[str, Any]], run_dir: Path | None) -> AttributeCatalog:
    """Build the catalog from the API's list and cache it as `run_dir/attributes.json`."""
    catalog = AttributeCatalog.from_api(items)
    if run_dir is not None:
        make_private_dir(run_dir)
        catalog.save(run_dir / CACHE_FILE)
        (run_dir / CACHE_FILE).chmod(0o600)  # run folder files are private, like the rest
    return catalog


def resolve_catalog(
    spec: EntitySpec, settings: Settings, run_dir: Path | None, *, offline: bool
) -> tuple[AttributeCatalog | None, str | None]:
    """(catalog or None, a notice explaining offline checks). A cached `run_dir/attributes.json` is
    reused (an import's own run folder); `run_dir` None: ask the API, cache nothing (validate)."""
    model = spec.custom.metadata_model if spec.custom is not None else None
    if model is None:
        return None, None
    if offline:
        return None, "--offline: custom attributes are not checked against the subscription"
    cached = run_dir / CACHE_FILE if run_dir is not None else None
    if cached is not None and cached.is_file():
        return AttributeCatalog.load(cached), None
    if not settings.px_api_key:
        return None, "no PX API key: custom attributes are not checked against the subscription (offline)"
    items, problem = fetch_attribute_items(settings, model)
    if items is None:
        return None, problem
    return catalog_from_items(items, run_dir), None


@dataclass
class Reports:
    """Where validate wrote (or would write) its reports, and what they hold."""

    errors: Tally
    warnings: Tally
    errors_csv: Path
    errors_xlsx: Path | None
    warnings_csv: Path | None


def write_reports(
    validation: Validation, errors_target: Path, warnings_target: Path, *, xlsx: bool
) -> Reports:
    """One pass over the flagged rows: invalid ones into errors.csv (and errors.xlsx), rows with
    warnings into warnings.csv (only when there are some; a stale one is removed)."""
    errors, warnings = Tally(), Tally()
    report = ErrorReport(errors_target, validation.headers, atomic=True)
    warned = WarningReport(warnings_target, validation.headers, atomic=True)
    with report, warned:
        for row in validation.flagged_rows():
            if row.issues:
                errors.add(row.issues)
                report.add(row.row, row.original, row.issues[0].code, joined(row.issues))
            if row.warnings:
                warnings.add(row.warnings)
                warned.add(row.row, row.original, row.warnings[0].code, joined(row.warnings))
    xlsx_path = None
    if xlsx:
        xlsx_path = report.to_xlsx(
            report.path.with_suffix(".xlsx") if report.path.name != ERRORS_CSV else None
        )
    warnings_csv: Path | None = warned.path
    if not warnings.rows:
        warned.path.unlink(missing_ok=True)
        warnings_csv = None
    return Reports(errors, warnings, report.path, xlsx_path, warnings_csv)


def first_payloads(validation: Validation, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if count <= 0:
        return found
    for batch in validation.batches(min(max(count * 4, 100), 10_000)):
        found += [row.payload for row in batch if row.valid and row.payload is not None][: count - len(found)]
        if len(found) >= count:
            break
    return found


def human_summary(validation: Validation, file: Path, reports: Reports, total: int) -> str:
    errors, warnings = reports.errors, reports.warnings
    lines = [
        f"Validated {total:,} row{'s' if total != 1 else ''} of {file} "
        f"({validation.spec.name}, --mode {validation.mode}): "
        f"{total - errors.rows:,} valid, {errors.rows:,} invalid"
        + (f", {warnings.rows:,} with warnings." if warnings.rows else ".")
    ]
    lines += errors.lines()
    if warnings.rows:
        lines.append(f"Warnings (rows sent as written unless --strict-warnings; {warnings.rows:,} rows):")
        lines += warnings.lines()
    if errors.rows:
        lines.append(
            f"Errors: {reports.errors_csv}" + (f" and {reports.errors_xlsx}" if reports.errors_xlsx else "")
        )
    if reports.warnings_csv is not None:
        lines.append(f"Warnings: {reports.warnings_csv}")
    return "\n".join(lines)


@click.command("validate")
@click.argument("entity")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--sheet", metavar="NAME", help="Worksheet of an .xlsx (default: the first).")
@click.option(
    "--map",
    "map_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Column mapping: a TOML map, or the config.json of Gainsight's PX data loader.",
)
@click.option(
    "--mode",
    type=click.Choice(["upsert", "insert", "update", "delete"]),
    help="users/accounts: upsert (default), insert, update, delete. Decides the required columns.",
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
    help="events: take columns that are no API field as event attributes instead of refusing the file.",
)
@click.option("--date-format", metavar="FMT", help="strftime format of the date cells, e.g. %d/%m/%Y.")
@click.option(
    "--product-key", metavar="AP-...", help="PX product key for creates (env GAINSIGHT_PX_PRODUCT_KEY)."
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the error report here (warnings next to it as NAME-warnings.csv) instead of RUN_DIR.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Folder for errors.csv and warnings.csv (default {DEFAULT_RUNS_ROOT}/validate-ENTITY, "
    "replaced by the next validate of ENTITY; `batchgs clean` removes it).",
)
@click.option("--force", is_flag=True, help="Replace the --report file if it exists.")
@click.option("--offline", is_flag=True, help="Do not read the subscription's custom attributes.")
@click.option(
    "--show-payload",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Print the JSON of N valid rows.",
)
@click.option("--strict", is_flag=True, help="Exit 3 (not 1) when any row is invalid.")
@click.option(
    "--strict-warnings",
    is_flag=True,
    default=None,
    help="Treat warnings (guesses such as lost leading zeros) as errors (profile: strict_warnings = true).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line and errors.")
@click.pass_context
def command(
    ctx: click.Context,
    entity: str,
    file: Path,
    sheet: str | None,
    map_file: Path | None,
    mode: str | None,
    timezone: str | None,
    extra_columns: str,
    date_format: str | None,
    product_key: str | None,
    report: Path | None,
    run_dir: Path | None,
    force: bool,
    offline: bool,
    show_payload: int,
    strict: bool,
    strict_warnings: bool | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check FILE against ENTITY offline: nothing is sent.

    ENTITY: users, accounts, events, preferences, ctas, cs-events. Writes errors.csv (and errors.xlsx
    for an .xlsx input) with every invalid row, ready to fix and feed back, and warnings.csv with the
    rows that are sent as written but worth a look (e.g. an id that may have lost leading zeros).
    Exit 0 when every row is valid, 1 when some are not (3 with --strict), 2 when the file cannot be
    read.
    """
    spec = registry.get(entity)
    if report is not None and not force:
        _refuse_existing(report, xlsx=file.suffix.lower() == ".xlsx")
    file_defaults, map_timezone = map_file_defaults(map_file)
    settings = settings_from(
        ctx, product_key=product_key, strict_warnings=strict_warnings, file_defaults=file_defaults
    )
    folder = run_dir
    if report is None and folder is None:
        folder = DEFAULT_RUNS_ROOT / f"validate-{spec.name}"
    catalog, catalog_note = resolve_catalog(spec, settings, None, offline=offline)
    options = ValidateOptions(
        mode=mode or spec.default_mode,
        timezone=timezone or map_timezone or "UTC",
        date_format=date_format,
        product_key=settings.product_key,
        mapping_file=map_file,
        extra_columns=extra_columns,
        sheet=sheet,
        attributes=catalog,
        strict_warnings=settings.strict_warnings,
    )
    with prepare(file, spec, options) as validation:
        has_custom = any(t.kind is TargetKind.CUSTOM for t in validation.mapping.targets)
        notices = [*([catalog_note] if catalog_note and has_custom else []), *validation.notices]
        refused = catalog_note if catalog_note is not None and "refused" in catalog_note else None
        if refused is not None and refused not in notices:
            notices.insert(0, refused)  # a refused key matters even without custom columns
        if not as_json:
            for notice in notices:
                if not quiet or notice == refused:  # -q never hides a refused key
                    click.echo(f"Warning: {notice}", err=True)
        if report is not None:
            report.parent.mkdir(parents=True, exist_ok=True)
            target = report.with_suffix(".csv") if report.suffix.lower() == ".xlsx" else report
            warnings_target = target.with_name(f"{target.stem}-warnings.csv")
        else:
            assert folder is not None
            make_private_dir(folder)  # errors.csv holds the rows' personal data
            target = folder / ERRORS_CSV
            warnings_target = folder / WARNINGS_CSV
        xlsx = file.suffix.lower() == ".xlsx" or (report is not None and report.suffix.lower() == ".xlsx")
        reports = write_reports(validation, target, warnings_target, xlsx=xlsx)
        if folder is not None and not xlsx:
            (folder / ERRORS_XLSX).unlink(missing_ok=True)  # from an earlier validate of an .xlsx
        total = validation.row_count()
        payloads = first_payloads(validation, show_payload)
        result = {
            "kind": "validate",
            "entity": spec.name,
            "input": str(file),
            "mode": validation.mode,
            "rows_total": total,
            "rows_valid": total - reports.errors.rows,
            "rows_invalid": reports.errors.rows,
            "rows_warned": reports.warnings.rows,
            "issues_by_code": dict(reports.errors.by_code.most_common()),
            "examples": reports.errors.as_json()["examples"],
            "warnings_by_code": dict(reports.warnings.by_code.most_common()),
            "warning_examples": reports.warnings.as_json()["examples"],
            "errors_csv": str(reports.errors_csv),
            "errors_xlsx": str(reports.errors_xlsx) if reports.errors_xlsx else None,
            "warnings_csv": str(reports.warnings_csv) if reports.warnings_csv else None,
            "notices": notices,
        }
        if folder is not None:
            write_summary(folder, {**result, "run_dir": str(folder), "status": "validated"})
        if as_json:
            emit_json({**result, "payloads": payloads})
        else:
            click.echo(human_summary(validation, file, reports, total))
            for payload in payloads:
                click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    invalid = reports.errors.rows
    if invalid and strict:
        raise StrictValidationError(f"{invalid:,} invalid row(s) with --strict")
    # sys.exit, not ctx.exit: the root group runs click with standalone_mode=False, which would
    # turn ctx.exit(1) into a return value and lose the exit code.
    sys.exit(int(ExitCode.ROWS_FAILED if invalid else ExitCode.OK))


def _refuse_existing(report: Path, *, xlsx: bool) -> None:
    """--report never replaces a file the user has without --force (the .csv and its .xlsx twin)."""
    csv_path = report.with_suffix(".csv") if report.suffix.lower() == ".xlsx" else report
    candidates = [csv_path, report]
    if xlsx or report.suffix.lower() == ".xlsx":
        candidates.append(csv_path.with_suffix(".xlsx"))
    for path in dict.fromkeys(candidates):
        if path.exists():
            raise OutputFileError(f"{path} already exists", hint="use --force to replace it")
