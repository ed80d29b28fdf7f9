"""The request pipeline around every handler, outermost first:

1. `observe`    – stats for every API request (PX and CS; never the `/__sandbox` control surface);
2. `gatekeeper` – PX only: API key (401), read-only key on a write (403, HTML), duplicate-GET guard,
                  per-key sliding-second and rolling-day limits (429);
3. `inject_faults` – every API path, CS included: latency, then the request's seeded fate;
4. `px_errors`  – turns `ApiError` (and routing 404/405 on PX paths) into the `externalapierror` body.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web

from batchgs.sandbox.cs.routes import CS_PATH_PREFIXES
from batchgs.sandbox.errors import ApiError, px_error
from batchgs.sandbox.faults import Fate, injected_response
from batchgs.sandbox.limits import Refusal, retry_after_header
from batchgs.sandbox.state import SandboxState, state_of

log = logging.getLogger("batchgs.sandbox")

CONTROL_PREFIX = "/__sandbox"
ARRIVED = web.RequestKey("batchgs_sandbox_arrived", float)
IS_PX = web.RequestKey("batchgs_sandbox_px", bool)
INJECTED = web.RequestKey("batchgs_sandbox_injected", bool)
API_KEY_HEADER = "X-APTRINSIC-API-KEY"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
FORBIDDEN_HTML = (
    "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
    "<p>This API key does not have the Write permission.</p></body></html>"
)


class Dropped(Exception):
    """The connection was closed on purpose; nothing must be answered."""


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "<unmatched>"


def _is_px(request: web.Request, state: SandboxState) -> bool:
    resource = request.match_info.route.resource
    if resource is not None:
        return id(resource) in state.px_resources
    path = request.path  # unmatched (404/405): PX when it looks like a PX path, so the answer is PX-shaped
    return path.startswith(("/v1/", "/v2/")) and not path.startswith(CS_PATH_PREFIXES)


@web.middleware
async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    state = state_of(request)
    stats = state.stats
    arrived = state.clock.monotonic()
    request[ARRIVED] = arrived
    stats.arrival(arrived)
    status: int | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except Dropped:
        return web.Response(status=500)  # never reaches anyone: the transport is already closed
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        status = 500
        raise
    finally:
        stats.finish(arrived, request.method, request.path, _route_name(request), status)
        refused = status == 429 and not request.get(INJECTED)
        if not request.get(IS_PX) and status is not None and not refused:
            stats.accepted(state.clock.monotonic())


def _too_many(refusal: Refusal, state: SandboxState) -> web.Response:
    headers = {"Retry-After": retry_after_header(refusal.retry_after_s)} if state.config.retry_after else None
    return px_error(429, refusal.message, headers=headers)


@web.middleware
async def gatekeeper(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    state = state_of(request)
    if not _is_px(request, state):
        return await handler(request)
    request[IS_PX] = True
    config = state.config
    key = request.headers.get(API_KEY_HEADER, "")
    writer = bool(key) and hmac.compare_digest(key.encode(), config.api_key.encode())
    reader = bool(key) and any(hmac.compare_digest(key.encode(), k.encode()) for k in config.read_only_keys)
    if not (writer or reader):
        return px_error(401, f"Unauthorized: missing or invalid {API_KEY_HEADER} header")
    if not writer and _is_write(request, state):
        return web.Response(status=403, text=FORBIDDEN_HTML, content_type="text/html")
    now = request.get(ARRIVED, state.clock.monotonic())
    if request.method == "GET":
        duplicate = state.limits.duplicate(key, request.path_qs, now, config.duplicate_window_ms / 1000)
        if duplicate is not None:
            return _too_many(duplicate, state)
    refusal = state.limits.admit(key, now, rate_limit=config.rate_limit, daily_limit=config.daily_limit)
    if refusal is not None:
        return _too_many(refusal, state)
    state.stats.accepted(now)
    return await handler(request)


def _is_write(request: web.Request, state: SandboxState) -> bool:
    if request.method not in WRITE_METHODS:
        return False
    resource = request.match_info.route.resource
    return not (
        request.method == "POST" and resource is not None and resource.canonical in state.read_only_posts
    )


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise Dropped()


@web.middleware
async def inject_faults(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    state = state_of(request)
    config = state.config
    decision = state.faults.decide(config)
    if decision.fate is not Fate.NORMAL:
        state.stats.faults[decision.fate.value] += 1
    if decision.latency_s > 0:
        # The body is read on arrival, as a real server does before its processing time: a client that
        # dies during the latency leaves a request that was received (and is stored), not one lost
        # with the connection (tests count what the sandbox received per row).
        if request.can_read_body:
            await request.read()
        await asyncio.sleep(decision.latency_s)
    cs = not request.get(IS_PX)
    if decision.fate is Fate.FAIL:
        assert decision.status is not None
        request[INJECTED] = True
        return injected_response(decision.status, cs=cs, retry_after=config.retry_after)
    if decision.fate is Fate.DROP_BEFORE:
        _drop(request)
    response = await handler(request)
    if decision.fate is Fate.AMBIGUOUS:
        request[INJECTED] = True
        return injected_response(500, cs=cs, retry_after=config.retry_after)
    if decision.fate is Fate.DROP_AFTER:
        _drop(request)
    return response


@web.middleware
async def px_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if request.get(IS_PX) and exc.status >= 400:
            return px_error(exc.status, exc.reason)
        raise
    except Exception:
        if not request.get(IS_PX):
            raise
        log.exception("sandbox PX handler failed: %s %s", request.method, request.path)
        return px_error(500, "Internal server error (sandbox bug)")


MIDDLEWARES = (observe, gatekeeper, inject_faults, px_errors)
