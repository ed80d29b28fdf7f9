"""Paging: every stop rule of the scroll API (never loop forever, never stop early), page numbers,
CS lists, 190-day windows, and the attribute metadata."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.errors import FatalApiError, UsageError
from batchgs.transport.metadata import fetch_attributes
from batchgs.transport.paging import (
    DAY_MS,
    PageInfo,
    cs_pages,
    date_windows,
    page_numbers,
    scroll,
    window_params,
)
from tests.transport.transport_helpers import Recorder, client_for, make_app, serve

Records = list[dict[str, Any]]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def users(n: int) -> Records:
    return [{"identifyId": f"u{i:05d}"} for i in range(n)]


def scroll_server(
    data: Records,
    *,
    last_scroll_id: Callable[[int], str | None] = lambda page: f"s{page + 1}",
    repeat_id: bool = False,
    ignore_scroll: bool = False,
    total_hits: bool = True,
) -> Callable:
    """A /v1/users that pages `data` by scrollId "s<page>", with the quirks the contract warns about."""

    async def handler(request: web.Request) -> web.Response:
        size = int(request.query["pageSize"])
        sid = request.query.get("scrollId")
        page = 0 if sid is None or ignore_scroll else int(sid[1:])
        chunk = data[page * size : (page + 1) * size]
        more = (page + 1) * size < len(data)
        next_id = "s1" if repeat_id else (f"s{page + 1}" if more else last_scroll_id(page))
        body: dict[str, Any] = {"users": chunk, "scrollId": next_id}
        if total_hits:
            body["totalHits"] = len(data)
        return web.json_response(body)

    return handler


async def collect(
    handler: Callable, page_size: int = 1000, **kwargs: Any
) -> tuple[Records, list[PageInfo], Recorder]:
    recorder = Recorder()
    records: Records = []
    infos: list[PageInfo] = []
    async with serve(make_app([web.get("/v1/users", handler)], recorder)) as url, client_for(url) as client:
        async for page, info in scroll(
            client, "/v1/users", "users", kwargs.pop("params", None), page_size, **kwargs
        ):
            records.extend(page)
            infos.append(info)
    return records, infos, recorder


@pytest.mark.parametrize(
    ("count", "quirks", "requests"),
    [
        (2500, {}, 3),  # short last page, its scrollId is non-null
        (2000, {}, 2),  # exact multiple: the count reaching totalHits stops it, no wasted request
        (
            2000,
            {"total_hits": False},
            3,
        ),  # exact multiple, no totalHits, non-null scrollId: an empty page stops it
        (2000, {"total_hits": False, "last_scroll_id": lambda page: None}, 2),  # no scrollId on the last page
        (0, {}, 1),
        (999, {}, 1),
        (3000, {"last_scroll_id": lambda page: f"s{page}"}, 3),  # last page repeats the scrollId it was sent
    ],
)
def test_scroll_stop_rules(count: int, quirks: dict, requests: int) -> None:
    data = users(count)
    records, infos, recorder = run(collect(scroll_server(data, **quirks)))
    assert records == data  # never stops early, never repeats
    assert len(recorder.requests) == requests
    if infos:
        assert infos[-1].fetched == count
        assert all(not i.last for i in infos[:-1])
    if len(infos) == requests:  # the last page was recognised as such (else an empty page ended it)
        assert infos[-1].last and infos[-1].scroll_id is None


def test_scroll_that_repeats_its_scroll_id_stops() -> None:
    data = users(5000)
    records, infos, recorder = run(collect(scroll_server(data, repeat_id=True, total_hits=False)))
    assert len(recorder.requests) == 2  # the second answer repeated the id it was given: stop
    assert records == data[:2000]
    assert infos[-1].last


def test_scroll_that_ignores_the_scroll_id_never_loops() -> None:
    data = users(5000)
    records, _, recorder = run(collect(scroll_server(data, ignore_scroll=True, total_hits=False)))
    assert records == data[:1000]  # the same first page again is not yielded twice
    assert len(recorder.requests) == 2


def test_scroll_keeps_filter_sort_and_page_size_and_resumes() -> None:
    data = users(250)
    params = {"filter": ["email==*@x.com", "type==LEAD"], "sort": "-lastName"}
    records, infos, recorder = run(collect(scroll_server(data), page_size=100, params=params))
    assert records == data and [i.fetched for i in infos] == [100, 200, 250]
    queries = [r["query"] for r in recorder.requests]
    assert "scrollId" not in queries[0] and "scrollId=s1" in queries[1] and "scrollId=s2" in queries[2]
    assert all(q.count("filter=") == 2 and "pageSize=100" in q and "sort=-lastName" in q for q in queries)
    # resume from the recorded progress of the first page
    again, more, _ = run(
        collect(
            scroll_server(data), page_size=100, scroll_id=infos[0].scroll_id, already_fetched=infos[0].fetched
        )
    )
    assert again == data[100:] and more[-1].fetched == 250


def test_scroll_page_size_is_clamped_to_1000() -> None:
    records, _, recorder = run(collect(scroll_server(users(1500)), page_size=5000))
    assert len(records) == 1500 and "pageSize=1000" in recorder.requests[0]["query"]


def test_scroll_failures_raise() -> None:
    async def bad_filter(request: web.Request) -> web.Response:
        return web.json_response({"externalapierror": {"message": "Invalid filter"}}, status=400)

    async def unauthorized(request: web.Request) -> web.Response:
        return web.json_response({"externalapierror": {"message": "Unauthorized"}}, status=401)

    with pytest.raises(UsageError, match="Invalid filter"):
        run(collect(bad_filter))
    with pytest.raises(FatalApiError):
        run(collect(unauthorized))


def page_number_server(data: Records, key: str, *, flag: bool = True) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        size, number = int(request.query["pageSize"]), int(request.query["pageNumber"])
        chunk = data[number * size : (number + 1) * size]
        body: dict[str, Any] = {key: chunk}
        if flag:
            body["isLastPage"] = (number + 1) * size >= len(data)
        return web.json_response(body)

    return handler


@pytest.mark.parametrize(
    ("count", "flag", "requests"), [(450, True, 3), (400, True, 2), (400, False, 3), (0, True, 1)]
)
def test_page_numbers(count: int, flag: bool, requests: int) -> None:
    data = [{"id": i} for i in range(count)]
    recorder = Recorder()

    async def main() -> tuple[Records, list[PageInfo]]:
        app = make_app([web.get("/v1/feature", page_number_server(data, "features", flag=flag))], recorder)
        records: Records = []
        infos = []
        async with serve(app) as url, client_for(url) as client:
            async for page, info in page_numbers(client, "/v1/feature", "features", 200):
                records.extend(page)
                infos.append(info)
        return records, infos

    records, infos = run(main())
    assert records == data and len(recorder.requests) == requests
    assert [i.page_number for i in infos] == list(range(len(infos)))
    assert "pageNumber=0" in recorder.requests[0]["query"]


def test_cs_pages_from_one_until_short_and_gsobj_1011_is_empty() -> None:
    data = [{"Gsid": f"g{i}"} for i in range(2005)]
    bodies: list[dict] = []

    async def ctas(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        if body.get("where") == "nothing":
            return web.json_response(
                {"result": False, "errorCode": "GSOBJ_1011", "errorDesc": "No match"}, status=400
            )
        size, number = body["pageSize"], body["pageNumber"]
        chunk = data[(number - 1) * size : number * size]
        return web.json_response({"result": True, "errorCode": None, "data": {"records": chunk}})

    async def main() -> tuple[Records, Records]:
        found: Records = []
        empty: Records = []
        async with (
            serve(make_app([web.post("/v2/cockpit/cta/list", ctas)])) as url,
            client_for(url, api="cs") as client,
        ):
            async for page, _ in cs_pages(client, "/v2/cockpit/cta/list", {"select": ["Gsid"]}, 5000):
                found.extend(page)
            async for page, _ in cs_pages(client, "/v2/cockpit/cta/list", {"where": "nothing"}):
                empty.extend(page)
        return found, empty

    found, empty = run(main())
    assert found == data and empty == []
    assert [b["pageNumber"] for b in bodies[:3]] == [1, 2, 3] and bodies[0]["pageSize"] == 1000
    assert bodies[0]["select"] == ["Gsid"]


@settings(max_examples=300, deadline=None)
@given(
    since=st.integers(min_value=0, max_value=4_000_000_000_000),
    length=st.integers(min_value=-5, max_value=3000 * DAY_MS),
    max_days=st.integers(min_value=1, max_value=200),
)
def test_date_windows_are_disjoint_and_cover(since: int, length: int, max_days: int) -> None:
    until = since + length
    windows = date_windows(since, until, max_days)
    if until < since:
        assert windows == []
        return
    assert windows[0][0] == since and windows[-1][1] == until
    for start, end in windows:
        assert start <= end and end - start < max_days * DAY_MS  # within the limit, boundaries inclusive
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end + 1  # no millisecond between windows, none in two
    assert sum(end - start + 1 for start, end in windows) == until - since + 1


def test_date_window_edges() -> None:
    assert date_windows(0, 190 * DAY_MS - 1) == [(0, 190 * DAY_MS - 1)]
    assert date_windows(0, 190 * DAY_MS) == [(0, 190 * DAY_MS - 1), (190 * DAY_MS, 190 * DAY_MS)]
    assert date_windows(5, 5) == [(5, 5)]


def test_window_params() -> None:
    assert window_params(1, 2, "dateRange") == [("dateRangeStart", 1), ("dateRangeEnd", 2)]
    assert window_params(1, 2) == [("filter", "date>=1;date<=2")]
    assert window_params(1, 2, filters=["a==1", "b==2"]) == [
        ("filter", "a==1;date>=1;date<=2"),
        ("filter", "b==2;date>=1;date<=2"),
    ]


def test_fetch_attributes() -> None:
    attributes = [
        {"apiName": "id", "name": "Id", "type": "STRING", "origin": "DEFAULT", "state": "ENABLED"},
        {"apiName": "plan", "name": "Plan", "type": "STRING", "origin": "CUSTOM", "state": "ENABLED"},
    ]
    paths: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        paths.append(request.path)
        return web.json_response(attributes)

    async def main() -> list[list[dict]]:
        route = web.get("/v1/admin/model/{model}/attributes", handler)
        async with serve(make_app([route])) as url, client_for(url) as client:
            return [await fetch_attributes(client, "user"), await fetch_attributes(client, "account")]

    user, account = run(main())
    assert user == attributes and account == attributes
    assert paths == ["/v1/admin/model/user/attributes", "/v1/admin/model/account/attributes"]
