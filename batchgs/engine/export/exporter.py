"""The PX export engine: plan the parts, page them concurrently into spools, write the file.

    exporter = Exporter(client, entity, options, journal, stop_event=stop)
    result = await exporter.run()      # the output file exists (renamed into place) when it returns

1. Plan (once per run, saved in the journal): users/accounts are cut into disjoint createDate slices
   (batchgs.engine.export.slices) after one round trip: two one-record probes give the count and the
   date span, and the list's first page, when its order says nothing of dates, the quantiles to cut at;
   histories into ≤ 190-day windows, cut further for concurrency; page-number lists are one part;
   preferences/denylist are chunks of user ids (from --ids FILE, or a users scroll first).
2. Fetch: `slices` workers take parts in order, under the client's shared limiter, quota ledger
   and retry policy; a part whose first page shows it is too big is replaced by sub-parts. A worker
   whose part has asked for its last page takes the next part meanwhile (that page still counts
   until it is in: the export waits for it, and a failure there fails the export).
   Every page goes to the part's spool, then to the journal — a stop (Ctrl-C, quota, 401/403)
   loses at most the pages in flight, and `resume` continues every cursor where it stood.
3. Check: each part's records against its `totalHits`; users/accounts parts together against the
   probe's total. A mismatch is a warning in the summary, never silent.
4. Write: the spools in part order through one writer (temporary file, renamed at the end).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchgs.engine.export.entities import EXPORT_ENTITIES, ExportEntity
from batchgs.engine.export.fields import (
    FieldCatalog,
    check_fields,
    custom_types_of,
    fields_model,
    refuse_unknown_columns,
)
from batchgs.engine.export.kept_frames import KeptFrames
from batchgs.engine.export.options import ExportOptions, sort_direction
from batchgs.engine.export.slices import (
    Part,
    looks_sampled,
    part_params,
    sample_plan,
    scroll_plan,
    split_part,
    split_target,
    wants_split,
    window_plan,
    worth_slicing,
)
from batchgs.engine.export.spool import Spool, remove_spools
from batchgs.engine.export.state import ExportState
from batchgs.engine.export.streamed import StreamedWrite, Writer, remove_stale_temporaries
from batchgs.engine.export.warm import warm_up
from batchgs.engine.pool import Pool
from batchgs.engine.threads import to_thread
from batchgs.errors import Interrupted
from batchgs.run.journal import Journal
from batchgs.transport.client import ApiClient, raise_for_result
from batchgs.transport.metadata import fetch_attributes

if TYPE_CHECKING:  # (imported when used: see `warm_up`)
    from batchgs.engine.export.assemble import Layout
    from batchgs.io.pages import PageReader

ID_CHUNK_WORKERS = 4
STREAM_WRITE = True  # write the file while fetching (`streamed`; tests compare with it off)


@dataclass
class ExportProgress:
    phase: str  # "fetch" | "write"
    records: int
    pages: int
    parts: int
    parts_done: int
    expected: int | None  # records the API announced, when known
    written: int = 0


@dataclass
class ExportResult:
    output: str
    records: int
    pages: int
    parts: int
    expected: int | None
    failed: int
    columns: list[str]
    unknown_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0
    streamed: bool = False  # written while fetching (batchgs.engine.export.streamed)


class Exporter:
    """One export run (or its resume) on a journal. The client is shared by every part."""

    def __init__(
        self,
        client: ApiClient,
        entity: ExportEntity,
        options: ExportOptions,
        journal: Journal,
        *,
        stop_event: asyncio.Event | None = None,
        on_progress: Callable[[ExportProgress], None] | None = None,
        attributes: list[dict[str, Any]] | None = None,
    ) -> None:
        """`attributes`: the entity's attribute list when the caller has just read it (the CLI checks
        the fields with it before the run folder exists); the plan then does not ask again."""
        self.client = client
        self._attributes = attributes
        self.entity = entity
        self.journal = journal
        # what an export journals can all be fetched again (a lost checkpoint costs pages read twice;
        # the spool is not fsynced either, and a resume truncates it to the recorded size)
        journal.relax_durability()
        self.run_dir = journal.run_dir
        self.state = ExportState.load(journal)
        planned_filters = self.state.info.get("filters")
        self.options = options if planned_filters is None else replace(options, filters=list(planned_filters))
        self.stop = stop_event or asyncio.Event()
        self._halt = False  # a part failed: the other cursors stop at their next page
        self._readers: dict[str, PageReader] = {}
        self.on_progress = on_progress
        self.in_flight = asyncio.Semaphore(max(1, options.workers))
        self.warnings: list[str] = list(journal.get_progress("warnings", []) or [])
        self.notes: list[str] = []
        self._records = self.state.totals()["records"]
        self._pages = self.state.totals()["pages"]
        self._stream: StreamedWrite | None = None  # the output written while fetching
        self.streamed = False  # the file was written while fetching
        self.kept = KeptFrames()  # spooled pages' frames, for the writer (`kept_frames`)

    # -- what the part fetchers ask ----------------------------------------------------------------
    def entity_for(self, part: Part) -> ExportEntity:
        return EXPORT_ENTITIES["users"] if part.stage == "ids" else self.entity

    def page_size(self, entity: ExportEntity) -> int:
        """The entity's largest page, or the smaller `--page-size` (tests, debugging)."""
        wanted = self.options.page_size
        return min(entity.page_size, wanted) if wanted else entity.page_size

    def params_for(self, part: Part) -> list[tuple[str, str | int]]:
        sort = self.options.sort if part.stage == "main" else None
        return part_params(self.entity_for(part), part, self.options.filters, sort)

    def reader_for(self, entity: ExportEntity) -> PageReader:
        """One page reader per list, shared by its cursors: the schema one page learns serves all."""
        reader = self._readers.get(entity.name)
        if reader is None:
            from batchgs.io.pages import PageReader

            reader = self._readers[entity.name] = PageReader(entity.records_key)
        return reader

    def may_split(self, part: Part, total_hits: int) -> bool:
        """Whether a part whose first page announces `total_hits` records may be split (`split`)."""
        if not self.state.info.get("slicing"):
            return False
        return wants_split(part, self.page_size(self.entity_for(part)), total_hits, self._split_target(part))

    def _split_target(self, part: Part) -> int:
        planned = self.state.info.get("target")
        return int(planned or split_target(None, self.options.slices, self.page_size(self.entity_for(part))))

    def split(
        self, part: Part, sample: Callable[[], list[dict[str, Any]]], sample_size: int, total_hits: int | None
    ) -> list[Part] | None:
        """`sample`: the first page's dates and keys, made only when the part is to be split (~1 ms of
        Python objects per 1,000-record page, for every part's first page otherwise)."""
        info = self.state.info
        if not info.get("slicing") or total_hits is None:
            return None
        entity = self.entity_for(part)
        target = self._split_target(part)
        if not wants_split(part, sample_size, total_hits, target):
            return None
        children = split_part(
            entity,
            part,
            sample(),
            total_hits,
            target,
            next_id=self.state.next_id(),
            bounds=(info.get("low"), info.get("high")),
        )
        if children == []:
            self.warn(
                f"{part.describe(entity)} holds {total_hits:,} records with one {entity.slice_field} "
                f"and no {entity.key} range to cut: it is fetched by one cursor"
            )
        if not children:
            return None
        self.state.add(children)  # listing the sub-parts is what replaces the part (one transaction)
        part.status = "split"
        part.total_hits = total_hits
        self.state.checkpoint(part)
        return children

    def checkpoint(self, part: Part, new_records: int) -> None:
        self.state.checkpoint(part)
        self._records += new_records
        self._pages += 1 if new_records else 0
        self._report("fetch")

    def check_stop(self) -> None:
        if self.stop.is_set() or self._halt:
            raise Interrupted("interrupted: the pages received so far are kept for `batchgs resume`")

    def ids_chunk(self, chunk: int) -> list[tuple[int, str]]:
        offsets = self.state.info.get("id_chunks") or []
        from batchgs.engine.export.ids import read_chunk

        return read_chunk(self.run_dir, int(offsets[chunk]))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.journal.set_progress("warnings", self.warnings)

    def note(self, message: str) -> None:
        self.notes.append(message)

    # -- the run -----------------------------------------------------------------------------------
    async def run(self) -> ExportResult:
        started = time.monotonic()
        warm_up(Path(self.options.output))  # Polars, numpy, the writer: imported while the plan asks
        if self.state.planned:
            remove_stale_temporaries(Path(self.options.output))
        else:
            await self._plan()
        if self.entity.paging == "per-user" and not self.state.info.get("id_chunks_built"):
            await self._run_stage("ids", self._workers("ids"))
            self._build_chunks_from_users()
        try:
            await self._run_stage("main", self._workers("main"))
        except BaseException:
            if self._stream is not None:
                await self._stream.abandon()
            raise
        self._check_total()
        fetched = time.monotonic()
        shape = self._layout()
        rows = await self._finish_stream(shape)
        if rows is None:
            rows = await self._write(shape)
        totals = self.state.totals()
        return ExportResult(
            output=self.options.output,
            records=rows,
            pages=totals["pages"],
            parts=totals["parts"],
            expected=self._expected(),
            failed=totals["failed"],
            columns=shape.columns,
            unknown_columns=shape.unknown,
            warnings=list(self.warnings),
            notes=list(self.notes),
            fetch_seconds=round(fetched - started, 3),
            write_seconds=round(time.monotonic() - fetched, 3),
            streamed=self.streamed,
        )

    def discard_spools(self) -> None:
        """After the commit: the spools are not needed any more (they can be large)."""
        self.kept.clear()
        remove_spools(self.run_dir)

    # -- planning ----------------------------------------------------------------------------------
    async def _plan(self) -> None:
        entity, options, info = self.entity, self.options, self.state.info
        model = fields_model(entity, options)
        beside: asyncio.Task[list[dict[str, Any]]] | None = None
        if model and self._attributes is None and not (options.filters or options.sort or options.columns):
            # no field to check: only the layout needs the attribute list, read beside the probes
            beside = asyncio.ensure_future(fetch_attributes(self.client, model))
            self.options = options = check_fields(entity, options, None)
        elif model:
            attributes = self._attributes
            if attributes is None:
                attributes = await fetch_attributes(self.client, model)
            if entity.metadata_model:
                info["custom_types"] = custom_types_of(attributes)
            # the CLI checked them already when it could read the attribute list; a library caller
            # gets the same usage error before any list request
            self.options = options = check_fields(entity, options, custom_types_of(attributes, deleted=True))
        else:
            self.options = options = check_fields(entity, options, None)
        try:
            parts = await self._plan_parts(entity, options, info)
            if beside is not None:
                attributes = await beside
                if entity.metadata_model:
                    info["custom_types"] = custom_types_of(attributes)
        finally:
            if beside is not None and not beside.done():
                beside.cancel()
                await asyncio.gather(beside, return_exceptions=True)
        info["planned"] = True
        self.state.add(parts)

    async def _plan_parts(
        self, entity: ExportEntity, options: ExportOptions, info: dict[str, Any]
    ) -> list[Part]:
        """The first parts of the plan (probing the list's dates when it is sliced)."""
        parts: list[Part]
        info["filters"] = options.filters  # as checked (ISO dates as epoch ms): what resume sends
        if entity.paging == "page-number":
            parts = [Part(id=0, order=[0], kind="pages")]
        elif entity.windowed:
            assert options.since_ms is not None and options.until_ms is not None
            direction = sort_direction(options.sort, "date")
            slices = options.slices if direction is not None else 1
            info["slicing"] = slices > 1
            info["descending"] = direction == -1
            parts = window_plan(options.since_ms, options.until_ms, slices)
            info["target"] = split_target(None, slices, self.page_size(entity))
            if direction is None and len({p.order[0] for p in parts}) > 1:
                self.warn(
                    f"--sort {options.sort}: the history comes in windows of at most 190 days, "
                    "so the order holds within each window (windows follow each other by date)"
                )
        elif entity.paging == "per-user":
            if options.ids_file:
                from batchgs.engine.export.ids import read_ids, write_chunks

                info["id_chunks"] = write_chunks(self.run_dir, read_ids(Path(options.ids_file)))
                info["id_chunks_built"] = True
                parts = self._chunk_parts(0)
            else:
                parts = await self._scroll_parts(EXPORT_ENTITIES["users"], 0, sortable=False)
                for part in parts:
                    part.stage = "ids"
        else:
            parts = await self._scroll_parts(entity, 0, sortable=True)
        return parts

    async def _scroll_parts(self, entity: ExportEntity, first_id: int, *, sortable: bool) -> list[Part]:
        options, info = self.options, self.state.info
        field_name = entity.slice_field or "createDate"
        direction = sort_direction(options.sort, field_name) if sortable else 0
        if options.slices <= 1 or direction is None:
            if direction is None:
                self.note(f"--sort {options.sort}: one cursor (slices would not keep that order)")
            info["slicing"] = False
            return [Part(id=first_id, order=[0])]
        page_size = self.page_size(entity)
        total, low, high, sample = await self._probe(entity, field_name, page_size)
        parts = (looks_sampled(sample) and sample_plan(sample, total, options.slices, page_size)) or None
        parts = parts or scroll_plan(total, low, high, options.slices, page_size)
        slicing = worth_slicing(total, options.slices, page_size)
        if not slicing:
            self.note(f"{total:,} records fit in two pages: one cursor (--slices {options.slices} unused)")
        info.update(
            slicing=slicing,
            total=total,
            low=low,
            high=high,
            descending=direction == -1,
            target=split_target(total, options.slices, self.page_size(entity)),
        )
        return parts

    async def _probe(
        self, entity: ExportEntity, field_name: str, page_size: int
    ) -> tuple[int, int | None, int | None, list[int]]:
        """The filtered count, the smallest and largest `field_name` (two one-record requests) and the
        `field_name`s of the list's first page in the API's own order (a sample to cut at when that
        order says nothing of dates: `slices.looks_sampled`), all three asked at once."""
        base: list[tuple[str, str | int]] = [("filter", f) for f in self.options.filters]

        async def first(size: int, sort: str | None) -> tuple[int, list[int]]:
            params: list[tuple[str, str | int]] = [*base, ("pageSize", size)]
            result = await self.client.request(
                "GET", entity.path, params=[*params, ("sort", sort)] if sort else params
            )
            raise_for_result(result, what=f"GET {entity.path}")
            body: Mapping[str, Any] = result.body if isinstance(result.body, Mapping) else {}
            records = body.get(entity.records_key) or []
            total = body.get("totalHits")
            values = [v for r in records if isinstance(r, Mapping) and type(v := r.get(field_name)) is int]
            return int(total) if isinstance(total, int) else len(records), values

        (total, low), (_, high), (_, sample) = await asyncio.gather(
            first(1, field_name), first(1, f"-{field_name}"), first(page_size, None)
        )
        return total, low[0] if low else None, high[0] if high else None, sample

    def _chunk_parts(self, first_id: int) -> list[Part]:
        count = len(self.state.info.get("id_chunks") or [])
        return [Part(id=first_id + i, order=[i], kind="ids", chunk=i) for i in range(count)]

    def _build_chunks_from_users(self) -> None:
        """The ids stage is done: its ids, in part order, become the chunks of the main stage."""
        info = self.state.info

        def pairs() -> Any:
            row = 0
            for part in self.state.leaves("ids"):
                for ids in Spool.of(self.run_dir, f"part-{part.id}").frames(part.spool_bytes):
                    for uid in ids:
                        row += 1
                        if uid is not None:
                            yield row, str(uid)

        from batchgs.engine.export.ids import write_chunks

        info["id_chunks"] = write_chunks(self.run_dir, pairs())
        info["id_chunks_built"] = True
        self.state.add(self._chunk_parts(self.state.next_id()))

    # -- fetching ----------------------------------------------------------------------------------
    def _workers(self, stage: str) -> int:
        if self.entity.paging == "page-number":
            return 1
        if stage == "main" and self.entity.paging == "per-user":
            return ID_CHUNK_WORKERS
        return max(1, self.options.slices) if self.state.info.get("slicing") else 1

    async def _run_stage(self, stage: str, workers: int) -> None:
        """The stage's parts on `workers` cursors; a part that splits puts its sub-parts first in line.
        The first failure stops the other cursors at their next page and is raised."""
        from batchgs.engine.export.fetch import PartFetcher  # (Polars: `warm_up`)

        waiting: deque[Part] = deque(self.state.pending(stage))
        started = 0  # parts handed out and not finished (their sub-parts may still come)
        changed = asyncio.Condition()
        self._report("fetch")

        def ready() -> bool:
            return bool(waiting) or not started or self._halt

        async def parts() -> AsyncIterator[Part]:
            nonlocal started
            while True:
                async with changed:
                    await changed.wait_for(ready)
                    if not waiting or self._halt:
                        return
                    started += 1
                    part = waiting.popleft()
                yield part

        async def whole(part: Part, released: asyncio.Event) -> int:
            nonlocal started
            children: list[Part] | None = None
            try:
                self.check_stop()
                children = await PartFetcher(self, part, on_last_request=released.set).fetch()
            except BaseException:
                self._halt = True
                raise
            finally:
                async with changed:
                    started -= 1
                    if children:
                        waiting.extendleft(reversed(children))
                    changed.notify_all()
            if stage == "main":
                self._stream_parts()
            return part.id  # (not None: None ends Pool's collector)

        finishing: set[asyncio.Future[int]] = set()  # parts whose last page is on its way

        async def fetch(part: Part) -> int:
            """The part on one cursor, which is free again once the request of the part's last page
            is out: the next part's first request then goes meanwhile, one round trip sooner (32
            cursors each paging two 2-page parts made 4 round trips in a row, now 3)."""
            released = asyncio.Event()
            task = asyncio.ensure_future(whole(part, released))
            freed = asyncio.ensure_future(released.wait())
            try:
                await asyncio.wait((task, freed), return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise
            finally:
                freed.cancel()
            if task.done():
                return task.result()
            finishing.add(task)
            return part.id

        pool: Pool[Part, int] = Pool(fetch, _ignore, workers=max(1, workers), queue_size=1)
        try:
            await pool.run(parts())
        except BaseException as failure:
            for task in finishing:
                task.cancel()
            cause = _cause(await asyncio.gather(*finishing, return_exceptions=True))
            if isinstance(failure, Interrupted) and cause is not None:
                raise cause from None  # a finishing part failed first: the others only stopped for it
            raise
        outcomes = await asyncio.gather(*finishing, return_exceptions=True)
        error = _cause(outcomes) or next((o for o in outcomes if isinstance(o, BaseException)), None)
        if error is not None:
            raise error

    def _expected(self) -> int | None:
        info = self.state.info
        if self.entity.paging == "per-user":
            return None
        if isinstance(info.get("total"), int) and info.get("slicing"):
            return int(info["total"])
        leaves = self.state.leaves("main")
        if leaves and all(p.total_hits is not None for p in leaves):
            return sum(p.total_hits or 0 for p in leaves)
        return None

    def _check_total(self) -> None:
        """The slices together against the probe's count (each part was checked on its own)."""
        info = self.state.info
        total = info.get("total")
        if not info.get("slicing") or not isinstance(total, int) or self.entity.paging == "per-user":
            return
        got = self.state.totals("main")["records"]
        if got != total:
            self.warn(
                f"the slices returned {got:,} records but the API counted {total:,} when the export "
                "started (records created or deleted meanwhile?); rerun with --slices 1 to compare"
            )

    # -- writing -----------------------------------------------------------------------------------
    def _output_order(self) -> list[Part]:
        """The main stage's leaf parts in the order their rows go into the file."""
        return self.state.leaves("main", descending=bool(self.state.info.get("descending")))

    def _stream_parts(self) -> None:
        """Hand the parts done at the head of the output to the streamed write (`streamed`), started
        once the first part is in, with the columns of the parts in so far."""
        if not STREAM_WRITE or self.entity.paging == "per-user" or self._halt or self.stop.is_set():
            return
        leaves = self._output_order()
        if self._stream is None:
            if not leaves or leaves[0].status != "done":
                return
            try:
                shape = self._layout()
            except Exception:  # (--columns naming what no part has shown yet: the write at the end says)
                return
            self._stream = StreamedWrite(shape, self._assembler())
        self._stream.offer(leaves)

    def _assembler(self) -> Writer:
        def write(parts: Iterable[Part | None], stop: threading.Event, shape: Layout) -> int:
            options, output = self.options, Path(self.options.output)
            raw, bom, force = options.raw, options.bom, options.force
            from batchgs.engine.export.assemble import assemble

            return assemble(
                self.run_dir, parts, output, shape, raw=raw, bom=bom, force=force, stop=stop, kept=self.kept
            )

        return write

    async def _finish_stream(self, shape: Layout) -> int | None:
        """The rows of the streamed write once its last parts are in, or None: write the file whole."""
        stream = self._stream
        if stream is None:
            return None
        leaves = self._output_order()
        watcher = asyncio.create_task(self.stop.wait())
        watcher.add_done_callback(lambda _: stream.stop.set())
        if self.stop.is_set():
            stream.stop.set()
        try:
            rows = await stream.finish(leaves, shape)
        finally:
            watcher.cancel()
        if rows is not None:
            self._report("write", rows)
            self.streamed = True
        return rows

    def _layout(self) -> Layout:
        from batchgs.engine.export.assemble import column_plan, layout

        seen: set[str] = set()
        for part in self.state.leaves("main"):
            seen.update(part.keys)
        custom = self.state.info.get("custom_types")
        shape = layout(self.entity, seen, custom, self.options.columns)
        if shape.unknown and not FieldCatalog.of(self.entity).closed:
            # open catalogs (histories, page lists): known only now, still before anything is written;
            # a closed catalog checked the names before the run (a known field no record has: empty)
            available = column_plan(self.entity, custom).order(seen)
            raise refuse_unknown_columns(self.entity.name, shape.unknown, available)
        return shape

    async def _write(self, shape: Layout) -> int:
        from batchgs.engine.export.assemble import assemble

        parts = self._output_order()
        halt = threading.Event()
        if self.stop.is_set():  # a stop asked for while the last pages came: no file, the spools stay
            halt.set()  # (the watcher below would set it too, but maybe only after a quick write ended)
        written = 0

        def on_rows(count: int) -> None:
            nonlocal written
            written += count

        async def watch() -> None:
            await self.stop.wait()
            halt.set()

        async def report() -> None:
            while True:
                await asyncio.sleep(0.2)
                self._report("write", written)

        watcher, reporter = asyncio.create_task(watch()), asyncio.create_task(report())
        try:
            rows = await to_thread(
                assemble,
                self.run_dir,
                parts,
                Path(self.options.output),
                shape,
                raw=self.options.raw,
                bom=self.options.bom,
                force=self.options.force,
                stop=halt,
                on_rows=on_rows,
                kept=self.kept,
            )
        finally:
            watcher.cancel()
            reporter.cancel()
        self._report("write", rows)
        return rows

    def _report(self, phase: str, written: int = 0) -> None:
        if self.on_progress is None:
            return
        totals = self.state.totals("main")
        self.on_progress(
            ExportProgress(
                phase=phase,
                records=self._records,
                pages=self._pages,
                parts=totals["parts"],
                parts_done=totals["parts_done"],
                expected=self._expected() if phase == "fetch" else totals["records"],
                written=written,
            )
        )


def _cause(outcomes: Iterable[object]) -> BaseException | None:
    """The first failure among `outcomes` that is not a stop (the parts that stopped because another
    failed raise `Interrupted`): what the export says went wrong."""
    return next((o for o in outcomes if isinstance(o, Exception) and not isinstance(o, Interrupted)), None)


def _ignore(results: list[int]) -> None:
    """Pool's collector: a part's fetcher keeps its own results (the spool, the journal)."""
