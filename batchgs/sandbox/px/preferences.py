"""PX user preferences v1 and v2 (gainsight-api.md §1.7): opted-in by default, `null` = unchanged,
404 for a user that does not exist (a preference cannot be set before its user)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from batchgs.sandbox.errors import invalid_field, not_found
from batchgs.sandbox.state import SandboxState, add_px_route, json_body, json_response, state_of
from batchgs.sandbox.store import PREFERENCES_V1, PREFERENCES_V2
from batchgs.sandbox.validation import check_preferences, require_object


def _current(state: SandboxState, identify_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    if identify_id not in state.store.users:
        raise not_found(f"User '{identify_id}'")
    prefs = state.store.preferences_of(identify_id)
    return {name: prefs[name] for name in names}


def _update(state: SandboxState, identify_id: str, changes: dict[str, bool]) -> web.Response:
    if identify_id not in state.store.users:
        raise not_found(f"User '{identify_id}'")
    if changes:
        state.store.preferences.setdefault(identify_id, {}).update(changes)
    return web.Response(status=204)


def make_handlers(names: tuple[str, ...]) -> dict[str, Any]:
    async def get_by_path(request: web.Request) -> web.Response:
        return json_response(_current(state_of(request), request.match_info["identifyId"], names))

    async def get_by_body(request: web.Request) -> web.Response:
        body = require_object(await json_body(request))
        unknown = sorted(set(body) - {"identifyId"})
        if unknown:
            raise invalid_field(unknown[0], "unknown field")
        identify_id = body.get("identifyId")
        if not isinstance(identify_id, str) or not identify_id:
            raise invalid_field("identifyId", "is required", identify_id)
        return json_response(_current(state_of(request), identify_id, names))

    async def put_by_path(request: web.Request) -> web.Response:
        _, changes = check_preferences(await json_body(request), names, id_in_body=False)
        return _update(state_of(request), request.match_info["identifyId"], changes)

    async def put_by_body(request: web.Request) -> web.Response:
        identify_id, changes = check_preferences(await json_body(request), names, id_in_body=True)
        assert identify_id is not None
        return _update(state_of(request), identify_id, changes)

    return {
        "get_path": get_by_path,
        "get_body": get_by_body,
        "put_path": put_by_path,
        "put_body": put_by_body,
    }


def add_routes(app: web.Application) -> None:
    for version, names in (("v1", PREFERENCES_V1), ("v2", PREFERENCES_V2)):
        h = make_handlers(names)
        base = f"/{version}/user/preferences"
        add_px_route(app, "POST", base, h["get_body"], reads_only=True)
        add_px_route(app, "PUT", base, h["put_body"])
        add_px_route(app, "GET", base + "/{identifyId}", h["get_path"])
        add_px_route(app, "PUT", base + "/{identifyId}", h["put_path"])
