"""PX custom events (gainsight-api.md §1.6) and the read-only event histories (§1.9).

History windows: at most 190 days (more → 400 `Exceeded date range190days`), the last day when no
range is given. Custom events take `dateRangeStart`/`dateRangeEnd`; the others `filter=date>=..;date<=..`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from batchgs.sandbox.errors import ApiError
from batchgs.sandbox.filters import Condition, Filter, apply_filters, parse_filters, parse_sort, sort_records
from batchgs.sandbox.paging import int_param
from batchgs.sandbox.px.users_accounts import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from batchgs.sandbox.state import add_px_route, json_body, json_response, state_of
from batchgs.sandbox.validation import check_custom_event

Record = dict[str, Any]
DAY_MS = 24 * 3600 * 1000
MAX_RANGE_MS = 190 * DAY_MS
RANGE_MESSAGE = "Exceeded date range190days"
MAX_EVENT_NAMES = 2000

# kind → (path, records key); the kinds are store.HISTORY_KINDS
HISTORIES: dict[str, tuple[str, str]] = {
    "pageView": ("/v1/events/pageView", "results"),
    "email": ("/v1/events/email", "results"),
    "engagementView": ("/v1/events/engagementView", "results"),
    "formSubmit": ("/v1/events/formSubmit", "results"),
    "lead": ("/v1/events/lead", "results"),
    "feature_match": ("/v1/events/feature_match", "featureMatchEvents"),
    "segment_match": ("/v1/events/segment_match", "featureMatchEvents"),
    "identify": ("/v1/events/identify", "identifyEvents"),
    "session": ("/v1/events/session", "sessionInitializedEvents"),
    "survey": ("/v1/survey/responses", "results"),
}


async def post_custom_event(request: web.Request) -> web.Response:
    state = state_of(request)
    event = check_custom_event(await json_body(request))
    store = state.store
    name = event["eventName"]
    if name not in store.event_names and len(store.event_names) >= MAX_EVENT_NAMES:
        raise ApiError(400, f"Exceeded the limit of {MAX_EVENT_NAMES} distinct custom event names")
    if event["identifyId"] in store.denylist:
        return web.Response(status=201)  # accepted, and ignored: PX drops a denied user's events
    store.event_names.add(name)
    store.custom_events.append(
        {
            "eventId": event.get("eventId") or state.new_id(),  # no de-duplication on eventId (DECIDED)
            "identifyId": event["identifyId"],
            "accountId": event.get("accountId"),
            "propertyKey": event["propertyKey"],
            "date": event.get("date", state.clock.epoch_ms()),
            "eventType": "CUSTOM",
            "sessionId": None,
            "userType": event["userType"],
            "globalContext": {},
            "eventName": name,
            "attributes": dict(event.get("attributes") or {}),
            "url": event.get("url"),
            "referrer": event.get("referrer"),
            "remoteHost": event.get("remoteHost"),
        }
    )
    return web.Response(status=201)


def _ms_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be epoch milliseconds, got '{raw[:40]}'") from None


def _window(start: int | None, end: int | None, now_ms: int) -> tuple[int, int]:
    if start is None and end is None:
        return now_ms - DAY_MS, now_ms
    if start is None:
        assert end is not None
        return end - DAY_MS, end
    if end is None:
        end = max(now_ms, start)
    if end - start > MAX_RANGE_MS:
        raise ApiError(400, RANGE_MESSAGE)
    return start, end


def _date_bounds(group: list[Condition]) -> tuple[int | None, int | None]:
    start = end = None
    for cond in group:
        if cond.path != ("date",) or cond.op not in (">", ">=", "<", "<="):
            continue
        try:
            value = int(float(cond.value))
        except ValueError:
            raise ApiError(400, f"date filters take epoch milliseconds, got '{cond.value[:40]}'") from None
        if cond.op in (">", ">="):
            start = value if start is None else max(start, value)
        else:
            end = value if end is None else min(end, value)
    return start, end


def _windowed(groups: Filter, now_ms: int, start: int | None = None, end: int | None = None) -> Filter:
    """Each OR-group gets a date window of at most 190 days (the last day when it gives none)."""
    out = []
    for group in groups or [[]]:
        g_start, g_end = _date_bounds(group)
        g_start = g_start if g_start is not None else start
        g_end = g_end if g_end is not None else end
        lo, hi = _window(g_start, g_end, now_ms)
        out.append([*group, Condition(("date",), ">=", str(lo)), Condition(("date",), "<=", str(hi))])
    return out


def _by_date(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: r.get("date") or 0)


def make_history_handler(kind: str, records_key: str) -> Any:
    async def history(request: web.Request) -> web.Response:
        state = state_of(request)
        query = request.query
        page_size = int_param(query, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        scroll_id = query.get("scrollId")
        if scroll_id:
            page = state.scrolls.resume(scroll_id, page_size if "pageSize" in query else None)
        else:
            groups = parse_filters(query.getall("filter", []))
            order = parse_sort(query.get("sort"))
            now = state.clock.epoch_ms()
            if kind == "custom":
                start, end = _ms_param(query, "dateRangeStart"), _ms_param(query, "dateRangeEnd")
                _window(start, end, now)  # the 190-day rule applies to the parameters themselves
                groups = _windowed(groups, now, start, end)
                source = state.store.custom_events
            else:
                groups = _windowed(groups, now)
                source = state.store.history[kind]
            records = _by_date(apply_filters(source, groups))
            page = state.scrolls.start(sort_records(records, order) if order else records, page_size)
        body = {records_key: page.records, "totalHits": page.total_hits, "scrollId": page.scroll_id}
        return json_response(body)

    return history


def add_routes(app: web.Application) -> None:
    add_px_route(app, "POST", "/v1/events/custom", post_custom_event)
    add_px_route(app, "GET", "/v1/events/custom", make_history_handler("custom", "customEvents"))
    for kind, (path, records_key) in HISTORIES.items():
        add_px_route(app, "GET", path, make_history_handler(kind, records_key))
