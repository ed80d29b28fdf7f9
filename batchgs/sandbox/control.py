"""The `/__sandbox/...` control surface for tests and benchmarks: stats, runtime config, clock.

The client never calls these. They answer only to loopback peers, whatever host the server binds.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from batchgs.sandbox.state import json_response, state_of

LOOPBACK_PEERS = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def _guard(request: web.Request) -> None:
    if request.remote not in LOOPBACK_PEERS:
        raise web.HTTPForbidden(text="the sandbox control surface answers loopback clients only")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


async def get_stats(request: web.Request) -> web.Response:
    _guard(request)
    state = state_of(request)
    include_log = request.query.get("log", "1") not in ("0", "false")
    snapshot = state.stats.snapshot(include_log=include_log, now=state.clock.monotonic())
    snapshot["active_scrolls"] = state.scrolls.active()
    return json_response(snapshot)


async def get_config(request: web.Request) -> web.Response:
    _guard(request)
    return json_response(state_of(request).config.public_dict())


async def post_config(request: web.Request) -> web.Response:
    _guard(request)
    state = state_of(request)
    try:
        state.configure(**await _body(request))
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response(state.config.public_dict())


async def reset_stats(request: web.Request) -> web.Response:
    _guard(request)
    state_of(request).reset_stats()
    return web.Response(status=204)


async def advance_clock(request: web.Request) -> web.Response:
    _guard(request)
    body = await _body(request)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return json_response({"error": "seconds must be a non-negative number"}, status=400)
    state = state_of(request)
    state.clock.advance(float(seconds))
    return json_response({"offset_s": state.clock.offset_s})


async def counts(request: web.Request) -> web.Response:
    _guard(request)
    return json_response(state_of(request).store.counts())


async def health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/__sandbox/health", health)
    app.router.add_get("/__sandbox/stats", get_stats)
    app.router.add_get("/__sandbox/config", get_config)
    app.router.add_post("/__sandbox/config", post_config)
    app.router.add_post("/__sandbox/reset-stats", reset_stats)
    app.router.add_post("/__sandbox/advance-clock", advance_clock)
    app.router.add_get("/__sandbox/counts", counts)
