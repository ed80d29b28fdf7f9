"""Read-only PX lists: page-numbered engagements/features/segments (gainsight-api.md §1.8–1.9) and the
attribute metadata that types every column (§1.5)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchgs.sandbox.errors import ApiError
from batchgs.sandbox.filters import apply_filters, parse_filters, parse_sort, sort_records
from batchgs.sandbox.paging import int_param, page_number_slice
from batchgs.sandbox.state import add_px_route, json_response, state_of

# path → (store attribute and records key, default pageSize, max pageSize)
PAGE_NUMBER_LISTS: dict[str, tuple[str, int, int]] = {
    "/v1/engagement": ("engagements", 200, 500),
    "/v1/feature": ("features", 25, 200),
    "/v1/segment": ("segments", 25, 200),
}


def make_list_handler(records_key: str, default_size: int, max_size: int) -> Any:
    async def page_number_list(request: web.Request) -> web.Response:
        state = state_of(request)
        query = request.query
        page_size = int_param(query, "pageSize", default_size, 1, max_size)
        page_number = int_param(query, "pageNumber", 0, 0, 10_000_000)
        records = apply_filters(getattr(state.store, records_key), parse_filters(query.getall("filter", [])))
        order = parse_sort(query.get("sort"))
        chunk, last = page_number_slice(
            sort_records(records, order) if order else records, page_number, page_size
        )
        return json_response({records_key: chunk, "isLastPage": last})

    return page_number_list


async def attributes(request: web.Request) -> web.Response:
    model = request.match_info["model"]
    if model not in ("user", "account"):
        raise ApiError(404, f"Unknown model '{model}'")
    return json_response([a.as_json(model) for a in state_of(request).store.attributes(model)])


def add_routes(app: web.Application) -> None:
    for path, (key, default_size, max_size) in PAGE_NUMBER_LISTS.items():
        add_px_route(app, "GET", path, make_list_handler(key, default_size, max_size))
    add_px_route(app, "GET", "/v1/admin/model/{model}/attributes", attributes)
