"""`batchgs template ENTITY -o OUT`: a blank, documented template (.xlsx, .csv or .tsv) for ENTITY."""

from __future__ import annotations

from pathlib import Path

import click

from batchgs.entities import registry
from batchgs.io.loader_config import ENTITY_TYPES as LOADER_ENTITY_TYPES
from batchgs.io.rows import EXAMPLE_COLUMN
from batchgs.io.templates import SUFFIXES, template_header, write_template


@click.command("template")
@click.argument("entity")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File to write; the format comes from the suffix ({', '.join(SUFFIXES)}).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def command(entity: str, output: Path, force: bool) -> None:
    """Write a blank template for ENTITY: header row, one example row and, in .xlsx, a "Columns"
    sheet documenting every column, dropdowns for enums and booleans, and id columns kept as text.

    The example row is marked in the last column, _example: validate and import skip such rows, so
    an example left in the file is never sent.

    ENTITY: users, accounts, events, preferences, ctas, cs-events.

    Coming from Gainsight's px-data-loader? No template needed: your files and config.json work as
    they are, e.g. `batchgs import users users.csv --map config.json` (README: Coming from
    px-data-loader).
    """
    spec = registry.get(entity)  # unknown entity: UsageError (exit 2) listing the known names
    written = write_template(spec, output, force=force)
    click.echo(
        f"Wrote {written} ({len(template_header(spec))} columns; row 2 is an example, marked in column "
        f"{EXAMPLE_COLUMN}: batchgs skips it, replace it with your data)"
    )
    if spec.name in LOADER_ENTITY_TYPES:
        click.echo(
            "Coming from px-data-loader? Your files and config.json work as they are: "
            f"batchgs import {spec.name} FILE --map config.json",
            err=True,
        )
