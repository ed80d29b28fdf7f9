"""Fetch one part of an export into its spool: a scroll cursor, a page-number list, or a chunk of
per-user GETs. Every page is spooled, then checkpointed, before the next one is asked for.

Scroll parts resume from the recorded `scrollId`. A cursor the API no longer knows (expired: 400)
restarts the part cleanly from its first page, and so does a resumed part that ends with fewer
records than its `totalHits` (a server-side cursor may have moved past a page that was fetched but
not recorded before a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from batchgs.engine.export.slices import Part
from batchgs.engine.export.spool import Spool
from batchgs.entities.preferences import PREFERENCES
from batchgs.errors import Interrupted, ResumableStop, UsageError
from batchgs.io.flatten import flatten
from batchgs.run.journal import RowOutcome
from batchgs.transport.client import build_path, needs_id_in_body, raise_for_fatal
from batchgs.transport.paging import page_numbers, scroll
from batchgs.transport.result import Outcome

if TYPE_CHECKING:
    from batchgs.engine.export.exporter import Exporter

MAX_RESTARTS = 2
PREFERENCE_NAMES = tuple(name for name, _ in PREFERENCES)


async def run_all(coros: Iterable[Awaitable[Any]]) -> None:
    """Run concurrently; the first failure cancels the others and is raised (not a group)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:
        return
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    errors = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    if errors:  # a quota stop or a refused key wins over an interruption seen by a sibling
        errors.sort(key=lambda e: isinstance(e, Interrupted))
        raise errors[0]  # type: ignore[misc]


def _page_rows(records: list[dict[str, Any]], keys: set[str]) -> list[dict[str, Any]]:
    rows = [flatten(r) for r in records]
    for row in rows:
        if not row.keys() <= keys:
            keys.update(row.keys())
    return rows


async def fetch_scroll(run: Exporter, part: Part) -> list[Part] | None:
    """Page a scroll part to its end. Returns sub-parts instead when its first page shows it is too
    big for one cursor (the page is then dropped: the sub-parts fetch it again)."""
    spool = Spool.of(run.run_dir, f"part-{part.id}")
    keys = set(part.keys)
    carried_over = part.pages > 0  # pages from an earlier segment of this run (a resume)
    try:
        spool.open_at(part.spool_bytes)
        while True:
            try:
                children = await _scroll_pages(run, part, spool, keys)
            except UsageError:
                if part.pages == 0 or part.restarts >= MAX_RESTARTS:
                    raise  # the API refuses the query itself (a bad filter or sort)
                _restart(run, part, spool, keys, "its cursor was refused (expired)")
                carried_over = False
                continue
            if children:
                return children
            if part.status != "done":  # the scroll ended on an empty page
                part.status, part.next = "done", None
                if part.total_hits is None and part.records == 0:
                    part.total_hits = 0
                run.checkpoint(part, 0)
            if carried_over and _short(part) and part.restarts < MAX_RESTARTS:
                _restart(run, part, spool, keys, "it came back short after a resume")
                carried_over = False
                continue
            _check_count(run, part)
            return None
    finally:
        spool.close()


async def _scroll_pages(run: Exporter, part: Part, spool: Spool, keys: set[str]) -> list[Part] | None:
    entity = run.entity_for(part)
    ids_only = part.stage == "ids"
    pages = scroll(
        run.client,
        entity.path,
        entity.records_key,
        run.params_for(part),
        run.page_size(entity),
        scroll_id=str(part.next) if part.next is not None else None,
        already_fetched=part.records,
    )
    async with contextlib.aclosing(pages):  # type: ignore[type-var]
        async for records, info in pages:
            if part.pages == 0:
                part.total_hits = info.total_hits
                children = run.split(part, records, info.total_hits)
                if children:
                    return children
            if ids_only:
                payload: Any = [r.get(entity.key or "identifyId") for r in records]
            else:
                payload = _page_rows(records, keys)
                part.keys = sorted(keys)
            part.spool_bytes = spool.append(payload)
            part.pages += 1
            part.records += len(records)
            part.next = None if info.last else info.scroll_id
            if info.last:
                part.status = "done"
            run.checkpoint(part, len(records))
            if info.last:
                return None
            run.check_stop()
    return None


def _short(part: Part) -> bool:
    return part.total_hits is not None and part.records < part.total_hits


def _restart(run: Exporter, part: Part, spool: Spool, keys: set[str], why: str) -> None:
    run.note(f"{part.describe(run.entity_for(part))}: paging it again from the start because {why}")
    restarts = part.restarts + 1
    part.reset()
    part.restarts = restarts
    keys.clear()
    spool.open_at(0)
    run.checkpoint(part, 0)


def _check_count(run: Exporter, part: Part) -> None:
    if part.total_hits is None or part.records == part.total_hits:
        return
    what = part.describe(run.entity_for(part))
    run.warn(
        f"{what}: {part.records:,} records received but the API announced {part.total_hits:,} "
        "(records changed while exporting?)"
    )


async def fetch_pages(run: Exporter, part: Part) -> None:
    """A page-number list (engagements, features, segments), from the recorded page on."""
    entity = run.entity_for(part)
    spool = Spool.of(run.run_dir, f"part-{part.id}")
    keys = set(part.keys)
    start = int(part.next or 0)
    try:
        spool.open_at(part.spool_bytes)
        async for records, info in page_numbers(
            run.client,
            entity.path,
            entity.records_key,
            run.page_size(entity),
            run.params_for(part),
            start_page=start,
            already_fetched=part.records,
        ):
            part.spool_bytes = spool.append(_page_rows(records, keys))
            part.keys = sorted(keys)
            part.pages += 1
            part.records += len(records)
            part.next = (info.page_number or 0) + 1
            if info.last:
                part.status = "done"
            run.checkpoint(part, len(records))
            if info.last:
                break
            run.check_stop()
        if part.status != "done":
            part.status = "done"
            run.checkpoint(part, 0)
    finally:
        spool.close()


async def fetch_ids(run: Exporter, part: Part) -> None:
    """One chunk of per-user GETs (preferences or the denylist flag), in the chunk's order."""
    pairs: list[tuple[int, str]] = run.ids_chunk(part.chunk or 0)
    rows: list[dict[str, Any] | None] = [None] * len(pairs)
    failures: list[RowOutcome] = []

    async def one(index: int, row: int, uid: str) -> None:
        async with run.in_flight:
            run.check_stop()
            record, failure = await _get_one(run, row, uid)
        if record is not None:
            rows[index] = record
        if failure is not None:
            failures.append(failure)

    await run_all(one(i, row, uid) for i, (row, uid) in enumerate(pairs))
    found = [r for r in rows if r is not None]
    keys = set(part.keys)
    spool = Spool.of(run.run_dir, f"part-{part.id}")
    try:
        spool.open_at(0)
        part.spool_bytes = spool.append(_page_rows(found, keys))
    finally:
        spool.close()
    if failures:
        run.journal.record(sorted(failures, key=lambda o: o.row))
    part.keys = sorted(keys)
    part.pages, part.records, part.failed, part.status = 1, len(found), len(failures), "done"
    part.total_hits = len(pairs)
    run.checkpoint(part, len(found))


async def _get_one(run: Exporter, row: int, uid: str) -> tuple[dict[str, Any] | None, RowOutcome | None]:
    if run.entity.name == "preferences":
        if needs_id_in_body(uid):
            result = await run.client.request("POST", "/v2/user/preferences", json={"identifyId": uid})
        else:
            result = await run.client.request("GET", build_path("/v2/user/preferences/{}", uid))
    else:
        result = await run.client.request("GET", build_path("/v1/users/denylist/{}", uid))
    if result.ok:
        body: Mapping[str, Any] = result.body if isinstance(result.body, Mapping) else {}
        if run.entity.name == "preferences":
            return {"identifyId": uid, **{n: body.get(n) for n in PREFERENCE_NAMES}}, None
        return {"identifyId": uid, "denied": body.get("denied")}, None
    raise_for_fatal(result)
    if result.outcome is Outcome.ROW_ERROR:
        code = "not-found" if result.status == 404 else result.code or "api-rejected"
        return None, RowOutcome(
            row, "failed", key=uid, code=code, message=result.message, http_status=result.status
        )
    raise ResumableStop(
        f"reading {run.entity.name} of {uid!r}: {result.message}",
        hint="resume the run to try again",
    )
