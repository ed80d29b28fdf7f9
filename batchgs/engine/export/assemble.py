"""Write the spooled parts, in part order, into the output file: the columns, then every row.

The spools hold each page's flat frame (Arrow IPC, made while fetching), so writing is column-wise:
no page is parsed again and no record becomes a Python row. The header is known in full before the
first row: documented fields first, other keys sorted, custom attributes sorted (`ColumnPlan`), the
same header from one nightly export to the next. It runs while the parts are still fetched
(`batchgs.engine.export.streamed`: parts go in as soon as every part before them is in), or once
every part is fetched when a late part changed the columns. The writer streams to a temporary file
and renames it only at the end; a stop in between (Ctrl-C) throws the temporary file away and the
spools stay for `resume`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from batchgs.engine.export.entities import ExportEntity, date_and_id_columns, documented_columns
from batchgs.engine.export.kept_frames import KeptFrames
from batchgs.engine.export.slices import Part
from batchgs.engine.export.spool import TABLE, Spool
from batchgs.errors import Interrupted, NotResumableError
from batchgs.io.flatten import ColumnPlan
from batchgs.io.pages import PageError, frame_of
from batchgs.io.write.batching import IDLE_BATCH_ROWS, batched
from batchgs.io.write.formats import open_writer

if TYPE_CHECKING:
    import polars as pl


@dataclass
class Layout:
    """The output's columns and how their cells are typed."""

    columns: list[str]
    date_columns: set[str] = field(default_factory=set)
    id_columns: set[str] = field(default_factory=set)
    types: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # --columns names that match nothing


def column_plan(entity: ExportEntity, custom_types: Mapping[str, str] | None) -> ColumnPlan:
    spec = entity.spec
    if spec is not None:
        plan = ColumnPlan.from_spec(spec, custom_types)
        extra = [n for n in documented_columns(entity) if n not in plan.documented]
        plan.documented.extend(extra)
        return plan
    return ColumnPlan(documented_columns(entity))


def layout(
    entity: ExportEntity,
    seen: Iterable[str],
    custom_types: Mapping[str, str] | None,
    requested: list[str] | None,
) -> Layout:
    plan = column_plan(entity, custom_types)
    available = plan.order(seen)
    columns = plan.select(requested, available) if requested else available
    unknown = plan.unknown_columns(requested, available) if requested else []
    dates, ids = date_and_id_columns(entity, columns)
    dates |= {c for c in columns if c in plan.date_columns}
    ids |= {c for c in columns if c in plan.id_columns} - dates
    types = {c: t for c, t in plan.types.items() if c in columns}
    return Layout(columns, dates, ids, types, unknown)


def assemble(
    run_dir: Path,
    parts: Iterable[Part | None],
    output: Path,
    shape: Layout,
    *,
    raw: bool,
    bom: bool,
    force: bool,
    stop: threading.Event,
    on_rows: Callable[[int], None] | None = None,
    kept: KeptFrames | None = None,
) -> int:
    """Write every part's rows into `output` (committed by rename at the end). Returns the rows.
    A None among `parts` (a streamed write): none is coming soon, the rows batched so far may be
    written (`batched`). `kept`: page frames still in memory, taken instead of read from the spools."""
    writer = open_writer(
        output,
        shape.columns,
        date_columns=shape.date_columns,
        id_columns=shape.id_columns,
        raw=raw,
        bom=bom,
        force=force,
        extra_columns="ignore",
        column_types=shape.types,
    )
    try:
        least = IDLE_BATCH_ROWS if writer.cells_per_value else None
        for frame in batched(_page_frames(run_dir, parts, stop, kept or KeptFrames(0)), least=least):
            writer.write_frame(frame)
            if on_rows is not None:
                on_rows(frame.height)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.rows_written


def _page_frames(
    run_dir: Path, parts: Iterable[Part | None], stop: threading.Event, kept: KeptFrames
) -> Iterator[pl.DataFrame | None]:
    """Every spooled page's frame, in part order (a None in `parts` passes through): from memory when
    `kept` still has it, else decoded from the spool."""
    for part in parts:
        if part is None:
            yield None
            continue
        spool = Spool.of(run_dir, f"part-{part.id}")
        for _, offset, read in spool.placed_frames(part.spool_bytes, kinds=(TABLE,)):
            if stop.is_set():
                raise Interrupted("interrupted while writing the file: nothing was written")
            frame = kept.take(spool.path, offset)
            if frame is not None:
                yield frame
                continue
            try:
                yield frame_of(read())
            except PageError as exc:
                raise NotResumableError(f"{spool.path}: page spool is corrupt ({exc})") from None
