"""Scroll stop rules through the exporter, against a server with the quirks the contract names:
a full last page whose scrollId is still set (stop at totalHits), no totalHits (stop on the empty
page), a server that ignores scrollId (stop, and say the count is short), a missing scrollId."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from aiohttp import web

from batchgs.config import Secret, Settings
from batchgs.engine.export.entities import get_export_entity
from batchgs.engine.export.exporter import Exporter, ExportResult
from batchgs.run.journal import Journal
from tests.engine.export.export_helpers import ANCHOR, DAY_MS, fast_client, options_for, read_csv

PAGE = 20
PATH = "/v1/events/pageView"


def _records(n: int) -> list[dict[str, Any]]:
    return [{"eventId": f"e{i:04d}", "identifyId": f"u{i % 7}", "date": ANCHOR - i * 1000} for i in range(n)]


def quirky_app(mode: str, total: int, seen: list[dict[str, str]]) -> web.Application:
    records = _records(total)
    ids = itertools.count(1)
    offsets: dict[str, int] = {}

    async def pages(request: web.Request) -> web.Response:
        query = dict(request.query)
        seen.append(query)
        size = int(query["pageSize"])
        scroll_id = query.get("scrollId")
        offset = 0 if mode == "ignores-scroll" or not scroll_id else offsets[scroll_id]
        chunk = records[offset : offset + size]
        next_id = f"s{next(ids)}"
        offsets[next_id] = offset + len(chunk)
        body: dict[str, Any] = {"results": chunk, "scrollId": next_id}
        if mode != "no-total":
            body["totalHits"] = total
        if mode == "missing-scroll":
            body["scrollId"] = None
        return web.json_response(body)

    app = web.Application()
    app.router.add_get(PATH, pages)
    return app


def export_from(mode: str, total: int, tmp_path: Path) -> tuple[ExportResult, list[dict[str, str]], Path]:
    seen: list[dict[str, str]] = []
    out = tmp_path / f"{mode}.csv"

    async def go() -> ExportResult:
        runner = web.AppRunner(quirky_app(mode, total, seen), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        settings = Settings(px_base_url=url, px_api_key=Secret("k-123456"), state_dir=tmp_path / "state")
        options = options_for(
            "page-views", out, slices=1, page_size=PAGE, since_ms=ANCHOR - 10 * DAY_MS, until_ms=ANCHOR
        )
        journal = Journal.create(
            tmp_path / f"run-{mode}",
            kind="export",
            entity="page-views",
            input_path=None,
            options=options.to_journal(),
        )
        try:
            async with fast_client(settings) as client:
                exporter = Exporter(client, get_export_entity("page-views"), options, journal)
                return await asyncio.wait_for(exporter.run(), timeout=60)
        finally:
            journal.close()
            await runner.cleanup()

    return asyncio.run(go()), seen, out


def test_full_last_page_with_a_scroll_id_stops_at_total_hits(tmp_path: Path) -> None:
    result, seen, out = export_from("full", 3 * PAGE, tmp_path)
    assert len(seen) == 3  # not a fourth request for an empty page
    assert [q.get("scrollId") for q in seen] == [None, "s1", "s2"]
    assert result.records == 3 * PAGE and not result.warnings
    assert len({r["eventId"] for r in read_csv(out)}) == 3 * PAGE


def test_without_total_hits_the_empty_page_ends_it(tmp_path: Path) -> None:
    result, seen, out = export_from("no-total", 3 * PAGE, tmp_path)
    assert len(seen) == 4 and result.records == 3 * PAGE  # three full pages, then the empty one
    assert len(read_csv(out)) == 3 * PAGE


def test_a_short_page_ends_it_even_when_the_scroll_id_is_set(tmp_path: Path) -> None:
    result, seen, _ = export_from("no-total", 2 * PAGE + 5, tmp_path)
    assert len(seen) == 3 and result.records == 2 * PAGE + 5


def test_a_server_ignoring_the_scroll_id_never_loops_and_the_count_is_flagged(tmp_path: Path) -> None:
    result, seen, out = export_from("ignores-scroll", 3 * PAGE, tmp_path)
    # the same page twice: stop (a third page, asked for ahead while the second was parsed, is dropped)
    assert len(seen) in (2, 3) and all("scrollId" in q for q in seen[1:])
    assert result.records == PAGE and len(read_csv(out)) == PAGE  # never the same record twice
    assert any("announced 60" in w for w in result.warnings)


def test_a_missing_scroll_id_ends_the_scroll(tmp_path: Path) -> None:
    result, seen, _ = export_from("missing-scroll", 3 * PAGE, tmp_path)
    assert len(seen) == 1 and result.records == PAGE
    assert result.warnings  # 20 of 60: said, not silent
