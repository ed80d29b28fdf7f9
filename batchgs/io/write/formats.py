"""Export writers, chosen by the output's suffix: `.csv`, `.xlsx`, `.parquet`, `.jsonl`.

    with open_writer(Path("users.xlsx"), columns, date_columns=..., id_columns=...) as out:
        for page in pages:
            out.write_batch(page)          # nested API records or flat rows
    # committed (renamed into place) on success, thrown away on an exception

Every writer streams in constant memory, writes a hidden temporary file beside the target and renames
it on `close()`, refuses to overwrite without `force`, and keeps columns that show up late (see
batchgs.io.write.base). Format choices are documented in each write_* module.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from batchgs.errors import OutputFileError
from batchgs.io.write.base import ExtraColumns, RecordWriter, check_target

# suffix -> (module, class): a format's module is imported when it is used (pyarrow costs a CSV export
# ~0.1 s of start-up otherwise)
WRITERS: dict[str, tuple[str, str]] = {
    ".csv": ("batchgs.io.write.csv_writer", "CsvWriter"),
    ".xlsx": ("batchgs.io.write.xlsx_writer", "XlsxWriter"),
    ".parquet": ("batchgs.io.write.parquet_writer", "ParquetWriter"),
    ".jsonl": ("batchgs.io.write.jsonl_writer", "JsonlWriter"),
}
SUPPORTED_SUFFIXES = tuple(WRITERS)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "RecordWriter",
    "check_output",
    "open_writer",
    "writer_class",
    "writer_module",
]


def writer_module(path: Path) -> tuple[str, str]:
    """The module and class of the writer for `path`'s suffix (not imported), or OutputFileError
    listing the supported ones."""
    suffix = Path(path).suffix.lower()
    try:
        return WRITERS[suffix]
    except KeyError:
        got = f"'{suffix}'" if suffix else "no suffix"
        raise OutputFileError(
            f"{path}: cannot tell the output format from {got}",
            hint=f"use one of {', '.join(SUPPORTED_SUFFIXES)}",
        ) from None


def writer_class(path: Path) -> type[RecordWriter]:
    """The writer for `path`'s suffix, or OutputFileError listing the supported ones."""
    module, name = writer_module(path)
    found: type[RecordWriter] = getattr(importlib.import_module(module), name)
    return found


def check_output(path: Path, *, force: bool) -> None:
    """Refuse a bad suffix, a missing folder or an existing file before any request is spent (without
    importing the writer: an export imports it while its first requests are out)."""
    writer_module(path)
    check_target(path, force)


def open_writer(
    path: Path,
    columns: Iterable[str],
    *,
    date_columns: Iterable[str] = (),
    id_columns: Iterable[str] = (),
    raw: bool = False,
    bom: bool = False,
    force: bool = False,
    extra_columns: ExtraColumns = "append",
    column_types: Mapping[str, str] | None = None,
    **format_options: Any,
) -> RecordWriter:
    """Open the writer for `path`'s suffix.

    `raw` turns formula neutralising off (CSV/XLSX); `bom` writes a UTF-8 BOM (CSV only);
    `extra_columns="ignore"` drops keys outside `columns` (use it with `--columns`);
    `column_types` (name → string|integer|number|boolean|datetime) fixes Parquet column types.
    `format_options` go to the format's writer: `rows_per_sheet`, `sheet_bytes`, `compress_level`
    (XLSX) and `row_group_size` (Parquet).
    """
    cls = writer_class(path)
    return cls(
        Path(path),
        columns,
        date_columns=date_columns,
        id_columns=id_columns,
        raw=raw,
        bom=bom,
        force=force,
        extra_columns=extra_columns,
        column_types=column_types,
        **format_options,
    )
