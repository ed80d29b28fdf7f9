"""`batchgs validate ENTITY FILE`: check a file offline; nothing is sent.

Writes errors.csv (and errors.xlsx for an .xlsx input) in the run folder or at --report: the row's
original columns unchanged, then `_row`, `_code` (the row's first problem), `_message` (every problem
of the row, `column: message`, joined with "; ") and `_http_status` (empty), so the file can be fixed
and fed back as is. Prints a summary grouped by code with a few examples.
Exit 0 every row valid, 1 some invalid, 3 with --strict and some invalid, 2 unreadable input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import default_run_dir, emit_json, map_file_defaults, settings_from
from batchgs.config import Settings
from batchgs.entities import registry
from batchgs.entities.spec import EntitySpec
from batchgs.errors import BatchgsError, ExitCode, OutputFileError, StrictValidationError
from batchgs.io.mapping import TargetKind
from batchgs.io.rows import RowIssue, ValidatedRow
from batchgs.io.validate.attributes import CACHE_FILE, AttributeCatalog
from batchgs.io.validate.file import ValidateOptions, Validation, prepare
from batchgs.reports.row_reports import ERRORS_CSV, ErrorReport
from batchgs.run.folder import make_private_dir
from batchgs.transport.client import px_client
from batchgs.transport.metadata import fetch_attributes

EXAMPLES_PER_CODE = 3


# ----------------------------------------------------------------------------------------------------
def fetch_attribute_items(settings: Settings, model: str) -> list[dict[str, Any]] | None:
    """The subscription's attribute list for `model` ("user" | "account"), or None when it cannot be
    read (network, permissions): validation then checks custom attributes offline and says so."""

    async def fetch() -> list[dict[str, Any]]:
        async with px_client(settings) as client:
            return await fetch_attributes(client, "user" if model == "user" else "account")

    try:
        return asyncio.run(fetch())
    except BatchgsError:
        return None


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
    """(catalog or None, a notice explaining offline checks). A cached attributes.json is reused."""
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
    items = fetch_attribute_items(settings, model)
    if items is None:
        return None, "the attribute catalog could not be fetched: custom attributes are checked offline"
    return catalog_from_items(items, run_dir), None


@dataclass
class Tally:
    """Counts and examples of the invalid rows, kept small whatever the file size."""

    rows_invalid: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[RowIssue]] = field(default_factory=dict)

    def add(self, row: ValidatedRow) -> None:
        self.rows_invalid += 1
        for issue in row.issues:
            self.by_code[issue.code] += 1
            shown = self.examples.setdefault(issue.code, [])
            if len(shown) < EXAMPLES_PER_CODE:
                shown.append(issue)


def issue_text(issue: RowIssue) -> str:
    return f"{issue.column}: {issue.message}" if issue.column else issue.message


def write_errors(validation: Validation, target: Path, *, xlsx: bool) -> tuple[Tally, Path, Path | None]:
    """Stream the invalid rows into errors.csv (and errors.xlsx); return the tally and the paths."""
    tally = Tally()
    report = ErrorReport(target, validation.headers, atomic=True)
    with report:
        for row in validation.invalid_rows():
            tally.add(row)
            report.add(
                row.row, row.original, row.issues[0].code, "; ".join(issue_text(i) for i in row.issues)
            )
    xlsx_path = None
    if xlsx:
        xlsx_path = report.to_xlsx(
            report.path.with_suffix(".xlsx") if report.path.name != ERRORS_CSV else None
        )
    return tally, report.path, xlsx_path


def first_payloads(validation: Validation, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if count <= 0:
        return found
    for batch in validation.batches(min(max(count * 4, 100), 10_000)):
        found += [row.payload for row in batch if row.valid and row.payload is not None][: count - len(found)]
        if len(found) >= count:
            break
    return found


def human_summary(
    validation: Validation, file: Path, tally: Tally, total: int, errors_csv: Path, errors_xlsx: Path | None
) -> str:
    lines = [
        f"Validated {total:,} row{'s' if total != 1 else ''} of {file} "
        f"({validation.spec.name}, --mode {validation.mode}): "
        f"{total - tally.rows_invalid:,} valid, {tally.rows_invalid:,} invalid."
    ]
    for code, count in tally.by_code.most_common():
        lines.append(f"  {code}: {count:,} problem{'s' if count != 1 else ''}")
        lines += [f"    row {i.row}, {issue_text(i)}" for i in tally.examples[code]]
    if tally.rows_invalid:
        lines.append(f"Errors: {errors_csv}" + (f" and {errors_xlsx}" if errors_xlsx else ""))
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
    help="Write the error report here instead of RUN_DIR/errors.csv.",
)
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Folder for errors.csv.")
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
    as_json: bool,
    quiet: bool,
) -> None:
    """Check FILE against ENTITY offline: nothing is sent.

    ENTITY: users, accounts, events, preferences, ctas, cs-events. Writes errors.csv (and errors.xlsx
    for an .xlsx input) with every invalid row, ready to fix and feed back. Exit 0 when every row is
    valid, 1 when some are not (3 with --strict), 2 when the file cannot be read.
    """
    spec = registry.get(entity)
    if report is not None and not force:
        _refuse_existing(report, xlsx=file.suffix.lower() == ".xlsx")
    file_defaults, map_timezone = map_file_defaults(map_file)
    settings = settings_from(ctx, product_key=product_key, file_defaults=file_defaults)
    folder = run_dir
    if report is None and folder is None:
        folder = default_run_dir(f"validate-{spec.name}")
    catalog, catalog_note = resolve_catalog(spec, settings, folder, offline=offline)
    options = ValidateOptions(
        mode=mode or spec.default_mode,
        timezone=timezone or map_timezone or "UTC",
        date_format=date_format,
        product_key=settings.product_key,
        mapping_file=map_file,
        extra_columns=extra_columns,
        sheet=sheet,
        attributes=catalog,
    )
    with prepare(file, spec, options) as validation:
        has_custom = any(t.kind is TargetKind.CUSTOM for t in validation.mapping.targets)
        notices = [*([catalog_note] if catalog_note and has_custom else []), *validation.notices]
        if not quiet and not as_json:
            for notice in notices:
                click.echo(f"Warning: {notice}", err=True)
        if report is not None:
            report.parent.mkdir(parents=True, exist_ok=True)
            target = report.with_suffix(".csv") if report.suffix.lower() == ".xlsx" else report
        else:
            assert folder is not None
            make_private_dir(folder)  # errors.csv holds the rows' personal data
            target = folder / ERRORS_CSV
        xlsx = file.suffix.lower() == ".xlsx" or (report is not None and report.suffix.lower() == ".xlsx")
        tally, errors_csv, errors_xlsx = write_errors(validation, target, xlsx=xlsx)
        total = validation.row_count()
        payloads = first_payloads(validation, show_payload)
        if as_json:
            emit_json(
                {
                    "entity": spec.name,
                    "input": str(file),
                    "mode": validation.mode,
                    "rows_total": total,
                    "rows_valid": total - tally.rows_invalid,
                    "rows_invalid": tally.rows_invalid,
                    "issues_by_code": dict(tally.by_code.most_common()),
                    "examples": {
                        code: [{"row": i.row, "column": i.column, "message": i.message} for i in shown]
                        for code, shown in tally.examples.items()
                    },
                    "errors_csv": str(errors_csv),
                    "errors_xlsx": str(errors_xlsx) if errors_xlsx else None,
                    "notices": notices,
                    "payloads": payloads,
                }
            )
        else:
            click.echo(human_summary(validation, file, tally, total, errors_csv, errors_xlsx))
            for payload in payloads:
                click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    if tally.rows_invalid and strict:
        raise StrictValidationError(f"{tally.rows_invalid:,} invalid row(s) with --strict")
    # sys.exit, not ctx.exit: the root group runs click with standalone_mode=False, which would
    # turn ctx.exit(1) into a return value and lose the exit code.
    sys.exit(int(ExitCode.ROWS_FAILED if tally.rows_invalid else ExitCode.OK))


def _refuse_existing(report: Path, *, xlsx: bool) -> None:
    """--report never replaces a file the user has without --force (the .csv and its .xlsx twin)."""
    csv_path = report.with_suffix(".csv") if report.suffix.lower() == ".xlsx" else report
    candidates = [csv_path, report]
    if xlsx or report.suffix.lower() == ".xlsx":
        candidates.append(csv_path.with_suffix(".xlsx"))
    for path in dict.fromkeys(candidates):
        if path.exists():
            raise OutputFileError(f"{path} already exists", hint="use --force to replace it")
