"""Fetch one part of an export into its spool: a scroll cursor, a page-number list, or a chunk of
per-user GETs. Every page is spooled, then checkpointed, before the next one is asked for.

A page's bytes are parsed once, by Polars (batchgs.io.pages, in a worker thread while the other cursors
wait for their answers), and its flat frame is spooled: the file is later written from those frames,
so no page is parsed twice and no record becomes a Python dict.

Scroll parts resume from the recorded `scrollId`. A cursor the API no longer knows (expired: 400)
restarts the part cleanly from its first page, and so does a resumed part that ends with fewer
records than its `totalHits` (a server-side cursor may have moved past a page that was fetched but
not recorded before a crash).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from batchgs.engine.export.entities import ExportEntity
from batchgs.engine.export.kept_frames import KeptFrames
from batchgs.engine.export.slices import Part
from batchgs.engine.export.spool import TABLE, Spool
from batchgs.engine.pool import Pool
from batchgs.engine.threads import interruptible
from batchgs.entities.preferences import PREFERENCES
from batchgs.errors import ResumableStop, UsageError
from batchgs.io.pages import Page, PageError, PageReader, frame_bytes, frame_from_rows, peek_envelope
from batchgs.run.journal import Journal, RowOutcome
from batchgs.transport.client import (
    ApiClient,
    build_path,
    needs_id_in_body,
    raise_for_fatal,
    raise_for_result,
)
from batchgs.transport.paging import int_or_none, page_list_ends, scroll_ends
from batchgs.transport.result import Outcome

MAX_RESTARTS = 2
PREFERENCE_NAMES = tuple(name for name, _ in PREFERENCES)


class ExportRun(Protocol):
    """What a part's fetcher needs from the export it belongs to (the Exporter provides it)."""

    client: ApiClient
    run_dir: Path
    journal: Journal
    entity: ExportEntity
    in_flight: asyncio.Semaphore
    kept: KeptFrames

    def entity_for(self, part: Part) -> ExportEntity: ...
    def page_size(self, entity: ExportEntity) -> int: ...
    def params_for(self, part: Part) -> list[tuple[str, str | int]]: ...
    def reader_for(self, entity: ExportEntity) -> PageReader: ...
    def split(
        self, part: Part, sample: Callable[[], list[dict[str, Any]]], sample_size: int, total_hits: int | None
    ) -> list[Part] | None: ...
    def may_split(self, part: Part, total_hits: int) -> bool: ...
    def checkpoint(self, part: Part, new_records: int) -> None: ...
    def check_stop(self) -> None: ...
    def ids_chunk(self, chunk: int) -> list[tuple[int, str]]: ...
    def warn(self, message: str) -> None: ...
    def note(self, message: str) -> None: ...


class PartFetcher:
    """One part's cursor: pages it from where the journal says it stands into the part's spool."""

    def __init__(
        self, run: ExportRun, part: Part, *, on_last_request: Callable[[], None] | None = None
    ) -> None:
        """`on_last_request`: called when the request of what is likely the part's last page is out,
        so that its cursor can start the next part meanwhile (`Exporter._run_stage`)."""
        self.run = run
        self.part = part
        self.on_last_request = on_last_request
        self.entity = run.entity_for(part)
        self.spool = Spool.of(run.run_dir, f"part-{part.id}")
        self.keys = set(part.keys)
        self.ids_only = part.stage == "ids"

    async def fetch(self) -> list[Part] | None:
        """Fetch the part to its end; sub-parts instead when its first page shows it is too big."""
        if self.part.kind == "pages":
            await self._page_list()
            return None
        if self.part.kind == "ids":
            await self._per_user()
            return None
        return await self._scroll()

    # -- scroll cursors -----------------------------------------------------------------------------
    async def _scroll(self) -> list[Part] | None:
        part, run = self.part, self.run
        carried_over = part.pages > 0  # pages from an earlier segment of this run (a resume)
        try:
            self.spool.open_at(part.spool_bytes)
            while True:
                try:
                    children = await self._scroll_pages()
                except UsageError:
                    if part.pages == 0 or part.restarts >= MAX_RESTARTS:
                        raise  # the API refuses the query itself (a bad filter or sort)
                    self._restart("its cursor was refused (expired)")
                    carried_over = False
                    continue
                if children:
                    return children
                if part.status != "done":  # the scroll ended on an empty page
                    part.status, part.next = "done", None
                    if part.total_hits is None and part.records == 0:
                        part.total_hits = 0
                    run.checkpoint(part, 0)
                if carried_over and self._short() and part.restarts < MAX_RESTARTS:
                    self._restart("it came back short after a resume")
                    carried_over = False
                    continue
                self._check_count()
                return None
        finally:
            self.spool.close()

    async def _scroll_pages(self) -> list[Part] | None:
        """The part's pages from where it stands. The next page is asked for as soon as an answer's
        bytes show its scrollId and that more records remain (`_next_scroll_id`), while this page is parsed:
        parsing waits its turn on the parsing thread (32 cursors' first pages come back together),
        and the cursor's next request used to wait for it. What the parse then says is what counts:
        a page asked for on a scrollId the parse does not confirm is dropped, unread."""
        part, run, entity = self.part, self.run, self.entity
        page_size = run.page_size(entity)
        base: list[tuple[str, str | int]] = [*run.params_for(part), ("pageSize", page_size)]
        scroll_id = str(part.next) if part.next is not None else None
        fetched, previous = part.records, None
        ahead: tuple[str, asyncio.Future[bytes]] | None = None  # (its scrollId, the answer's bytes)
        try:
            while True:
                if ahead is not None and ahead[0] == scroll_id:
                    data = await ahead[1]
                else:
                    if ahead is not None:  # asked for on a scrollId the parse did not confirm
                        _drop(ahead[1])
                    data = await self._receive([*base, ("scrollId", scroll_id)] if scroll_id else base)
                ahead = None
                parsing = self._parse(data)
                guess = self._next_scroll_id(data, scroll_id, fetched, page_size)
                if guess is not None:
                    next_guess, total_guess = guess
                    ahead = (
                        next_guess,
                        asyncio.ensure_future(self._receive([*base, ("scrollId", next_guess)])),
                    )
                    if fetched + 2 * page_size >= total_guess and self.on_last_request is not None:
                        self.on_last_request()  # (the page asked ahead holds the part's last records)
                page, table = await parsing
                if page.count == 0:
                    return None
                signature = _signature(page)
                if signature == previous:
                    return None  # the service served the same page again: the scrollId was not honoured
                total = int_or_none(page.envelope.get("totalHits"))
                next_id = page.envelope.get("scrollId") or None
                fetched += page.count
                last = scroll_ends(page.count, page_size, next_id, scroll_id, total, fetched)
                if part.pages == 0:
                    part.total_hits = total
                    children = run.split(part, functools.partial(_sample, page, entity), page.count, total)
                    if children:
                        return children  # the page is dropped: the sub-parts fetch it again
                self._spooled(page, table, next_cursor=None if last else str(next_id), last=last)
                if last:
                    return None
                run.check_stop()
                scroll_id, previous = str(next_id), signature
        finally:
            if ahead is not None:
                _drop(ahead[1])

    def _next_scroll_id(
        self, data: bytes, scroll_id: str | None, fetched: int, page_size: int
    ) -> tuple[str, int] | None:
        """The next page's scrollId and the records the part holds (`totalHits`) as the answer's bytes
        show them, when more records remain after this full page and the part is not about to be split
        (its first page then is dropped); else None."""
        envelope = peek_envelope(data)
        if envelope is None:
            return None
        next_id, total = envelope.get("scrollId"), int_or_none(envelope.get("totalHits"))
        if not isinstance(next_id, str) or not next_id or next_id == scroll_id or total is None:
            return None
        if fetched + page_size >= total:
            return None  # this page may be the last
        if self.part.pages == 0 and self.run.may_split(self.part, total):
            return None
        return next_id, total

    # -- page-number lists --------------------------------------------------------------------------
    async def _page_list(self) -> None:
        """A page-number list (engagements, features, segments), from the recorded page on."""
        part, run = self.part, self.run
        page_size = run.page_size(self.entity)
        base: list[tuple[str, str | int]] = [*run.params_for(part), ("pageSize", page_size)]
        number, fetched, previous = int(part.next or 0), part.records, None
        try:
            self.spool.open_at(part.spool_bytes)
            while True:
                page, table = await self._get([*base, ("pageNumber", number)])
                signature = _signature(page)
                if page.count == 0 or signature == previous:
                    break
                fetched += page.count
                total = int_or_none(page.envelope.get("totalHits"))
                last = page_list_ends(page.count, page_size, page.envelope.get("isLastPage"), total, fetched)
                self._spooled(page, table, next_cursor=number + 1, last=last)
                if last:
                    break
                run.check_stop()
                number, previous = number + 1, signature
            if part.status != "done":
                part.status = "done"
                run.checkpoint(part, 0)
        finally:
            self.spool.close()

    # -- one page -----------------------------------------------------------------------------------
    async def _get(self, query: list[tuple[str, str | int]]) -> tuple[Page, bytes]:
        """The page of `query`, and its frame as the spool keeps it (`_parse`)."""
        return await self._parse(await self._receive(query))

    async def _receive(self, query: list[tuple[str, str | int]]) -> bytes:
        """The answer's bytes to a GET of the list."""
        path = self.entity.path
        result = await self.run.client.request("GET", path, params=query, raw=True)
        raise_for_result(result, what=f"GET {path}")
        return result.raw if result.raw is not None else b""

    async def _parse(self, data: bytes) -> tuple[Page, bytes]:
        """The page in `data`, and its frame as the spool keeps it (Arrow IPC; empty for an ids
        stage), both made on a parsing thread: encoding on the event loop held it ~0.2 s per
        200,000 users, waiting for the GIL after Polars let it go."""
        parse = functools.partial(_parse, self.run.reader_for(self.entity), data, table=not self.ids_only)
        try:
            return await asyncio.get_running_loop().run_in_executor(_parsers(), interruptible(parse))
        except PageError as exc:
            raise ResumableStop(f"GET {self.entity.path}: unexpected answer ({exc})") from None

    def _spooled(self, page: Page, table: bytes, *, next_cursor: str | int | None, last: bool) -> None:
        """The page's frame (`table`) into the spool, then the part's new place."""
        part = self.part
        if self.ids_only:
            part.spool_bytes = self.spool.append(page.values(self.entity.key or "identifyId"))
        else:
            offset = self.spool.size
            part.spool_bytes = self.spool.append_frames((TABLE, table))
            self.run.kept.keep(self.spool.path, offset, page.frame, len(table))
            if not self.keys.issuperset(page.frame.columns):
                self.keys.update(page.frame.columns)
                part.keys = sorted(self.keys)
        part.pages += 1
        part.records += page.count
        part.next = next_cursor
        if last:
            part.status = "done"
        self.run.checkpoint(part, page.count)

    def _short(self) -> bool:
        part = self.part
        return part.total_hits is not None and part.records < part.total_hits

    def _restart(self, why: str) -> None:
        part = self.part
        self.run.note(f"{part.describe(self.entity)}: paging it again from the start because {why}")
        restarts = part.restarts + 1
        part.reset()
        part.restarts = restarts
        self.keys.clear()
        self.run.kept.forget(self.spool.path)
        self.spool.open_at(0)
        self.run.checkpoint(part, 0)

    def _check_count(self) -> None:
        part = self.part
        if part.total_hits is None or part.records == part.total_hits:
            return
        self.run.warn(
            f"{part.describe(self.entity)}: {part.records:,} records received but the API announced "
            f"{part.total_hits:,} (records changed while exporting?)"
        )

    # -- per-user GETs ------------------------------------------------------------------------------
    async def _per_user(self) -> None:
        """One chunk of per-user GETs (preferences or the denylist flag), in the chunk's order."""
        part, run = self.part, self.run
        pairs: list[tuple[int, str]] = run.ids_chunk(part.chunk or 0)
        rows: list[dict[str, Any] | None] = [None] * len(pairs)
        failures: list[RowOutcome] = []

        async def one(item: tuple[int, tuple[int, str]]) -> int:
            index, (row, uid) = item
            async with run.in_flight:
                run.check_stop()
                record, failure = await self._get_one(row, uid)
            rows[index] = record
            if failure is not None:
                failures.append(failure)
            return index  # (not None: None ends Pool's collector)

        async def items() -> AsyncIterator[tuple[int, tuple[int, str]]]:
            for item in enumerate(pairs):
                yield item

        # a task per id, as many requests in flight as `run.in_flight` lets (--workers, shared by the chunks)
        pool: Pool[tuple[int, tuple[int, str]], int] = Pool(one, _ignore, workers=max(1, len(pairs)))
        await pool.run(items())
        frame = frame_from_rows([r for r in rows if r is not None])
        try:
            self.spool.open_at(0)
            part.spool_bytes = self.spool.append_frames((TABLE, frame_bytes(frame)))
        finally:
            self.spool.close()
        if failures:
            run.journal.record(sorted(failures, key=lambda o: o.row))
        part.keys = sorted(frame.columns)
        part.pages, part.records, part.failed, part.status = 1, frame.height, len(failures), "done"
        part.total_hits = len(pairs)
        run.checkpoint(part, frame.height)

    async def _get_one(self, row: int, uid: str) -> tuple[dict[str, Any] | None, RowOutcome | None]:
        client, name = self.run.client, self.run.entity.name
        if name == "preferences":
            if needs_id_in_body(uid):
                result = await client.request("POST", "/v2/user/preferences", json={"identifyId": uid})
            else:
                result = await client.request("GET", build_path("/v2/user/preferences/{}", uid))
        else:
            result = await client.request("GET", build_path("/v1/users/denylist/{}", uid))
        if result.ok:
            body: Mapping[str, Any] = result.body if isinstance(result.body, Mapping) else {}
            if name == "preferences":
                return {"identifyId": uid, **{n: body.get(n) for n in PREFERENCE_NAMES}}, None
            return {"identifyId": uid, "denied": body.get("denied")}, None
        raise_for_fatal(result)
        if result.outcome is Outcome.ROW_ERROR:
            code = "not-found" if result.status == 404 else result.code or "api-rejected"
            return None, RowOutcome(
                row, "failed", key=uid, code=code, message=result.message, http_status=result.status
            )
        raise ResumableStop(
            f"reading {name} of {uid!r}: {result.message}", hint="resume the run to try again"
        )


@functools.cache
def _parsers() -> ThreadPoolExecutor:
    """The threads that parse pages (Polars and numpy release the GIL while they work): as many as the
    cores, at least 2, at most 4. One thread was the sliced export's bottleneck, busy from the first
    page to the last while the cores were not: on 2 cores, 2 threads took 200,000 users from 2.37 to
    2.13 s (no added latency) and 100,000 at 150 ms from 1.97 to 1.82 s, for the same CPU. asyncio's
    default executor (cores + 4 threads) cost more CPU in thread switches than it saved."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return ThreadPoolExecutor(min(4, max(2, cores)), thread_name_prefix="batchgs-pages")


if hasattr(os, "register_at_fork"):  # a forked child has none of the pool's threads: it makes its own
    os.register_at_fork(after_in_child=_parsers.cache_clear)


def _ignore(results: list[int]) -> None:
    """Pool's collector for work whose results are kept by the workers themselves."""


def _drop(answer: asyncio.Future[bytes]) -> None:
    """A page asked for ahead and not needed: cancelled, its answer or failure ignored (not awaited:
    awaiting it could swallow a cancellation of the cursor itself)."""
    answer.cancel()
    answer.add_done_callback(_ignore_outcome)


def _ignore_outcome(answer: asyncio.Future[bytes]) -> None:
    if not answer.cancelled():
        answer.exception()  # (retrieved: no "exception never retrieved" warning)


def _parse(reader: PageReader, data: bytes, *, table: bool) -> tuple[Page, bytes]:
    page = reader.read(data)
    return page, frame_bytes(page.frame) if table else b""


def _signature(page: Page) -> tuple[Any, ...]:
    """Enough of a page to notice the same page served twice (an ignored scrollId or pageNumber)."""
    if page.count == 0 or not page.frame.width:
        return (page.count,)
    return (page.count, page.frame.row(0), page.frame.row(page.count - 1))


def _sample(page: Page, entity: ExportEntity) -> list[dict[str, Any]]:
    """The first page's dates and keys: what a split cuts at (batchgs.engine.export.slices)."""
    names = [n for n in (entity.slice_field, entity.key) if n and n in page.frame.columns]
    return page.frame.select(names).to_dicts() if names else [{} for _ in range(page.count)]
