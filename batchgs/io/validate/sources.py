"""What validation reads (any table with `.headers` and `.batches(size)`) and the options it takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl

from batchgs.io.read.tables import frame_batches
from batchgs.io.validate.attributes import AttributeCatalog


@dataclass
class ValidateOptions:
    mode: str = "upsert"  # an entity without upsert (events, preferences, ...) takes its own default
    timezone: str = "UTC"  # for date cells and texts without an offset
    date_format: str | None = None  # strftime format tried before the standard forms
    product_key: str | None = None  # fills propertyKeys / propertyKey where the file has none
    mapping_file: Path | None = None  # --map: a TOML map or a px-data-loader config.json
    extra_columns: str = "refuse"  # "attributes": unknown columns of an events file become attributes
    sheet: str | None = None  # worksheet of an .xlsx
    attributes: AttributeCatalog | None = None  # None = offline: custom attributes pass as text/number
    strict_warnings: bool = False  # warnings (suspicions such as lost leading zeros) count as errors


class TableLike(Protocol):
    """What validation needs from a reader (batchgs.io.read.tables.TableSource fits)."""

    headers: list[str]

    def batches(self, size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        """Chunks of `size` rows; only `columns` (of `headers`) when given, so a pre-pass over a
        wide file reads the few columns it needs."""
        ...


class FrameSource:
    """An in-memory table, for library callers and tests: `prepare_source(FrameSource(df), ...)`."""

    def __init__(self, frame: pl.DataFrame, headers: list[str] | None = None) -> None:
        self.frame = frame
        self.headers = headers if headers is not None else list(frame.columns)

    def batches(self, size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        return frame_batches(self.frame, size, columns)

    def row_count(self) -> int:
        return self.frame.height
