"""PX users and accounts (gainsight-api.md §1.3–1.4): scroll list, get, create, partial update,
soft/hard delete with 7-day revival, account-delete cascade, the denylist flag."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from batchgs import fastjson
from batchgs.sandbox.errors import ApiError, invalid_field, not_found
from batchgs.sandbox.filters import parse_filters, parse_sort, select_and_sort
from batchgs.sandbox.paging import int_param
from batchgs.sandbox.px.model import ACCOUNT_FIELDS, USER_FIELDS
from batchgs.sandbox.state import SandboxState, add_px_route, json_body, json_response, state_of
from batchgs.sandbox.table import Table
from batchgs.sandbox.validation import check_record, require_object

Record = dict[str, Any]
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True)
class Kind:
    """What differs between users and accounts."""

    plural: str  # "users" | "accounts": the path segment and the list's records key
    model: str  # "user" | "account": the attribute-metadata model
    key: str  # "identifyId" | "id"
    label: str  # for messages

    def records(self, state: SandboxState) -> dict[str, Record]:
        return state.store.users if self.plural == "users" else state.store.accounts


USERS = Kind("users", "user", "identifyId", "User")
ACCOUNTS = Kind("accounts", "account", "id", "Account")


def new_record(kind: Kind, payload: Record, state: SandboxState) -> Record:
    """A full record: every writable field (null when not given) plus the server-side ones."""
    now = state.clock.epoch_ms()
    fields = USER_FIELDS if kind is USERS else ACCOUNT_FIELDS
    record: Record = dict.fromkeys(fields)
    record.update(customAttributes={}, propertyKeys=[])
    merge_into(record, payload)
    record.update(aptrinsicId=state.new_id(), createDate=now, lastModifiedDate=now, lastSeenDate=None)
    if kind is USERS:
        record.update(id=payload["identifyId"], numberOfVisits=0, lastInferredLocation=None, globalId=None)
    return record


def merge_into(record: Record, payload: Record) -> None:
    """Partial update: absent fields unchanged; customAttributes and location merged key by key."""
    for name, value in payload.items():
        if name in ("customAttributes", "location") and isinstance(value, dict):
            current = record.get(name)
            merged = dict(current) if isinstance(current, dict) else {}
            if name == "location" and isinstance(value.get("coordinates"), dict):
                coords = merged.get("coordinates")
                merged["coordinates"] = {
                    **(coords if isinstance(coords, dict) else {}),
                    **value["coordinates"],
                }
                value = {k: v for k, v in value.items() if k != "coordinates"}
            merged.update(value)
            record[name] = merged
        elif isinstance(value, list):
            record[name] = list(value)
        else:
            record[name] = value


def hard_delete_flag(request: web.Request) -> bool:
    raw = request.query.get("hardDelete", "false").strip().lower()
    if raw not in ("true", "false", ""):
        raise ApiError(400, f"hardDelete must be true or false, got '{raw[:20]}'")
    return raw == "true"


def _page_out(kind: Kind, state: SandboxState, page: list[Record]) -> list[Record]:
    if kind is USERS:
        return page
    users_per_account = Counter(u.get("accountId") for u in state.store.users.values())
    return [{**acct, "numberOfUsers": users_per_account.get(acct["id"], 0)} for acct in page]


def _encoded_page(kind: Kind, records: list[bytes], total_hits: int, scroll_id: str) -> web.Response:
    """`{"users":[...],"totalHits":n,"scrollId":"..."}` from the records' JSON, byte for byte what
    `json_response` writes for that body (compact, keys in that order)."""
    body = b"".join(
        (
            b'{"' + kind.plural.encode() + b'":[',
            b",".join(records),
            b'],"totalHits":' + str(total_hits).encode(),
            b',"scrollId":' + fastjson.dumps(scroll_id) + b"}",
        )
    )
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def make_handlers(kind: Kind) -> dict[str, Any]:
    async def list_records(request: web.Request) -> web.Response:
        state = state_of(request)
        query = request.query
        page_size = int_param(query, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        scroll_id = query.get("scrollId")
        if scroll_id:
            page = state.scrolls.resume(scroll_id, page_size if "pageSize" in query else None)
        else:
            groups = parse_filters(query.getall("filter", []))
            order = parse_sort(query.get("sort"))
            page = state.scrolls.start(select_and_sort(kind.records(state), groups, order), page_size)
        users = state.store.users
        if kind is USERS and isinstance(users, Table):  # the stored JSON joined: json_response's bytes
            encoded = users.encoded(page.records)
            if encoded is not None:
                return _encoded_page(kind, encoded, page.total_hits, page.scroll_id)
        body = {kind.plural: _page_out(kind, state, page.records), "totalHits": page.total_hits}
        body["scrollId"] = page.scroll_id
        return json_response(body)

    async def get_one(request: web.Request) -> web.Response:
        state = state_of(request)
        key = request.match_info[kind.key]
        record = kind.records(state).get(key)
        if record is None:
            raise not_found(f"{kind.label} '{key}'")
        return json_response(_page_out(kind, state, [record])[0])

    async def create(request: web.Request) -> web.Response:
        state = state_of(request)
        payload = check_record(await json_body(request), kind.model, state.store, creating=True)
        key = payload[kind.key]
        table = kind.records(state)
        if key in table:
            raise ApiError(400, "Bad request, possible duplicate")
        now = state.clock.epoch_ms()
        revived = state.store.take_revivable(kind.plural, key, now)
        if revived is not None:
            merge_into(revived, payload)
            revived["lastModifiedDate"] = now
            record = revived
        else:
            record = new_record(kind, payload, state)
        table[key] = record
        return json_response(_page_out(kind, state, [record])[0], status=201)

    async def update_record(state: SandboxState, key: str, body: Any, path_key: str | None) -> web.Response:
        record = kind.records(state).get(key)
        if record is None:
            raise not_found(f"{kind.label} '{key}'")
        payload = check_record(body, kind.model, state.store, creating=False, path_key=path_key)
        payload.pop(kind.key, None)
        merge_into(record, payload)
        record["lastModifiedDate"] = state.clock.epoch_ms()
        table = kind.records(state)
        if isinstance(table, Table):
            table.changed(key)
        return web.Response(status=204)

    async def update_by_path(request: web.Request) -> web.Response:
        key = request.match_info[kind.key]
        return await update_record(state_of(request), key, await json_body(request), key)

    async def update_by_body(request: web.Request) -> web.Response:
        body = require_object(await json_body(request))
        key = body.get(kind.key)
        if not isinstance(key, str) or not key:
            raise invalid_field(kind.key, "is required", key)
        return await update_record(state_of(request), key, body, key)

    def delete(state: SandboxState, key: str, hard: bool) -> None:
        now = state.clock.epoch_ms()
        store = state.store
        found = (
            store.delete_user(key, hard=hard, now_ms=now)
            if kind is USERS
            else store.delete_account(key, hard=hard, now_ms=now)
        )
        if not found:
            raise not_found(f"{kind.label} '{key}'")

    async def delete_by_path(request: web.Request) -> web.Response:
        delete(state_of(request), request.match_info[kind.key], hard_delete_flag(request))
        return web.Response(status=204)

    async def delete_by_body(request: web.Request) -> web.Response:
        hard = hard_delete_flag(request)
        body = require_object(await json_body(request))
        unknown = sorted(set(body) - {kind.key})
        if unknown:
            raise invalid_field(unknown[0], "unknown field")
        key = body.get(kind.key)
        if not isinstance(key, str) or not key:
            raise invalid_field(kind.key, "is required", key)
        delete(state_of(request), key, hard)
        return web.Response(status=200)

    return {
        "list": list_records,
        "get": get_one,
        "create": create,
        "update_path": update_by_path,
        "update_body": update_by_body,
        "delete_path": delete_by_path,
        "delete_body": delete_by_body,
    }


async def get_denylist(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["identifyId"]
    if key not in state.store.users:
        raise not_found(f"User '{key}'")
    return json_response({"identifyId": key, "denied": key in state.store.denylist})


async def put_denylist(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["identifyId"]
    if key not in state.store.users:
        raise not_found(f"User '{key}'")
    body = require_object(await json_body(request))
    unknown = sorted(set(body) - {"denied"})
    if unknown:
        raise invalid_field(unknown[0], "unknown field")
    denied = body.get("denied")
    if not isinstance(denied, bool):
        raise invalid_field("denied", "must be true or false", denied)
    if denied:
        state.store.denylist.add(key)
    else:
        state.store.denylist.discard(key)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Fixed paths first: aiohttp matches routes in the order they were added."""
    add_px_route(app, "GET", "/v1/users/denylist/{identifyId}", get_denylist)
    add_px_route(app, "PUT", "/v1/users/denylist/{identifyId}", put_denylist)
    for kind in (USERS, ACCOUNTS):
        h = make_handlers(kind)
        base = f"/v1/{kind.plural}"
        add_px_route(app, "GET", base, h["list"])
        add_px_route(app, "POST", base, h["create"])
        add_px_route(app, "PUT", f"{base}/update", h["update_body"])
        add_px_route(app, "DELETE", f"{base}/delete", h["delete_body"])
        item = base + "/{" + kind.key + "}"
        add_px_route(app, "GET", item, h["get"])
        add_px_route(app, "PUT", item, h["update_path"])
        add_px_route(app, "DELETE", item, h["delete_path"])
