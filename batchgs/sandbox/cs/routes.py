"""The Gainsight CS routes of the sandbox (gainsight-api.md §2): Cockpit CTAs, the picklist and the
Events Framework, all answering with the CS envelope `{result, errorCode, errorDesc, requestId, data}`.

`add_cs_routes(app, state)` adds them to any aiohttp application; the PX side lives elsewhere and
shares nothing with this module but the app (and, if it likes, the clock inside `CsState`).

DECIDED details the contract leaves open:
- a refused call (401 or 429) does not count against the limits; 429 uses errorCode GS_APIG_2429,
  errorDesc "Rate limit exceeded ..." or "Daily request limit exceeded ...", and a Retry-After header;
- create/update answer 200 with `result: true` whenever the request itself is readable, even if every
  record failed: record problems are only in `data.errors` (matched by referenceId);
- an update naming an unknown Gsid gets the record error GSOBJ_1011;
- the Events Framework answers 401 GS_APIG_2401 for a missing or wrong sharedSecret or tenantId and
  400 GS_EVENT_4001 for a missing header or a body that is not a JSON object.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from batchgs.sandbox.cs.ctas import (
    INVALID_CTA,
    KEY_FIELD,
    NO_MATCH,
    TAG_FIELD,
    RecordError,
    check_record,
)
from batchgs.sandbox.cs.data import PublishedEvent
from batchgs.sandbox.cs.query import QueryError, parse_list_query
from batchgs.sandbox.cs.state import Bucket, CsState

__all__ = ["CS_PATH_PREFIXES", "CsState", "add_cs_routes", "is_cs_path"]

log = logging.getLogger(__name__)

UNAUTHORIZED = "GS_APIG_2401"
RATE_LIMITED = "GS_APIG_2429"
EVENT_BAD_REQUEST = "GS_EVENT_4001"
SERVER_ERROR = "GS_APIG_2500"
MAX_RECORDS_PER_CALL = 50

CTA_PATH = "/v2/cockpit/cta"
CTA_LIST_PATH = "/v2/cockpit/cta/list"
CTA_DELETED_LIST_PATH = "/v2/cockpit/cta/deleted/list"
PICKLIST_PATH = "/v2/cockpit/admin/picklist/lite"
EVENT_PATH = "/v1.0/api/eventManager/event"
CS_PATH_PREFIXES = ("/v2/cockpit/", "/v1.0/api/eventManager/")

EVENT_REQUIRED_HEADERS = ("topicName", "eventName", "eventVersion", "tenantId")
EVENT_SECRET_HEADER = "sharedSecret"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def is_cs_path(path: str) -> bool:
    """True for paths these routes own (so PX auth middleware can leave them alone)."""
    return path.startswith(CS_PATH_PREFIXES)


class EnvelopeError(Exception):
    """A whole-request failure, answered as `result: false` with this status and error code."""

    def __init__(self, status: int, code: str, desc: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(desc)
        self.status = status
        self.code = code
        self.desc = desc
        self.headers = headers


def envelope(
    data: Any = None,
    *,
    status: int = 200,
    code: str | None = None,
    desc: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {
        "result": code is None,
        "errorCode": code,
        "errorDesc": desc,
        "requestId": str(uuid.uuid4()),
        "data": data,
    }
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def add_cs_routes(app: web.Application, state: CsState) -> None:
    """Register the CS endpoints on `app`, all serving `state`."""
    cockpit = _Cockpit(state)
    routes: list[tuple[str, str, Handler, Bucket]] = [
        ("POST", CTA_PATH, cockpit.create, "api"),
        ("PUT", CTA_PATH, cockpit.update, "api"),
        ("POST", CTA_LIST_PATH, cockpit.list_live, "api"),
        ("POST", CTA_DELETED_LIST_PATH, cockpit.list_deleted, "api"),
        ("GET", PICKLIST_PATH, cockpit.picklist, "api"),
        ("POST", EVENT_PATH, _Events(state).publish, "events"),
    ]
    for method, path, handler, bucket in routes:
        app.router.add_route(method, path, _guarded(state, handler, bucket))


def _guarded(state: CsState, handler: Handler, bucket: Bucket) -> Handler:
    """Auth, then limits, then the handler; every outcome becomes an envelope and a call-log entry."""

    async def route(request: web.Request) -> web.Response:
        try:
            _authenticate(state, request, bucket)
            refusal = state.take_call(bucket)
            if refusal is not None:
                headers = {"Retry-After": str(refusal.retry_after_s)} if state.retry_after else None
                raise EnvelopeError(429, RATE_LIMITED, refusal.message, headers)
            response = await handler(request)
        except EnvelopeError as error:
            response = envelope(status=error.status, code=error.code, desc=error.desc, headers=error.headers)
        except Exception:
            log.exception("CS sandbox route %s %s failed", request.method, request.path)
            response = envelope(status=500, code=SERVER_ERROR, desc="internal sandbox error")
        state.record_call(request.method, request.path, response.status)
        return response

    return route


def _authenticate(state: CsState, request: web.Request, bucket: Bucket) -> None:
    if bucket == "events":
        given = request.headers.get(EVENT_SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), state.shared_secret.encode()):
            raise EnvelopeError(401, UNAUTHORIZED, "missing or invalid sharedSecret")
        return
    key = request.headers.get("accesskey")
    if key is None or not hmac.compare_digest(key.encode(), state.access_key.encode()):
        raise EnvelopeError(401, UNAUTHORIZED, "Unauthorized: missing or invalid accesskey")


async def _json_body(request: web.Request, bad_code: str) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as error:
        raise EnvelopeError(400, bad_code, f"the request body is not valid JSON ({error})") from None


class _Cockpit:
    def __init__(self, state: CsState) -> None:
        self.state = state

    async def picklist(self, request: web.Request) -> web.Response:
        with self.state.lock:
            return envelope(self.state.picklist.as_json())

    async def create(self, request: web.Request) -> web.Response:
        return await self._write(request, for_update=False)

    async def update(self, request: web.Request) -> web.Response:
        return await self._write(request, for_update=True)

    async def _write(self, request: web.Request, *, for_update: bool) -> web.Response:
        body = await _json_body(request, INVALID_CTA)
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise EnvelopeError(400, INVALID_CTA, 'the body must be {"requests": [{"record": {...}}, ...]}')
        if len(requests) > MAX_RECORDS_PER_CALL:
            raise EnvelopeError(
                400,
                INVALID_CTA,
                f"at most {MAX_RECORDS_PER_CALL} records per call, got {len(requests)}",
            )
        success: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in requests:
            record = item.get("record") if isinstance(item, dict) else None
            reference = record.get(TAG_FIELD) if isinstance(record, dict) else None
            try:
                gsid = self._write_one(record, for_update=for_update)
            except RecordError as error:
                errors.append({"referenceId": reference, "errorCode": error.code, "errorDesc": error.desc})
            else:
                success.append({"referenceId": reference, "Gsid": gsid})
        return envelope({"success": success, "errors": errors})

    def _write_one(self, record: Any, *, for_update: bool) -> str:
        state = self.state
        with state.lock:  # check and apply as one step: the picklist or companies cannot change between
            if not isinstance(record, dict):
                raise RecordError(INVALID_CTA, "each request needs a 'record' object")
            gsid = record.get(KEY_FIELD)
            if for_update:
                if not isinstance(gsid, str) or not gsid:
                    raise RecordError(INVALID_CTA, "Gsid is required to update a CTA")
                if gsid not in state.ctas:
                    raise RecordError(NO_MATCH, f"no CTA has Gsid '{gsid}'")
            changes = check_record(
                record,
                for_update=for_update,
                picklist=state.picklist,
                companies=state.companies,
                users=state.users,
            )
            if not for_update:
                return state.insert_cta(changes)
            state.update_cta(str(gsid), changes)
            return str(gsid)

    async def list_live(self, request: web.Request) -> web.Response:
        return await self._list(request, deleted=False)

    async def list_deleted(self, request: web.Request) -> web.Response:
        return await self._list(request, deleted=True)

    async def _list(self, request: web.Request, *, deleted: bool) -> web.Response:
        body = await _json_body(request, INVALID_CTA)
        state = self.state
        try:
            query = parse_list_query(
                {} if body is None else body, lambda name: state.is_list_field(name, deleted=deleted)
            )
        except QueryError as error:
            raise EnvelopeError(400, INVALID_CTA, str(error)) from None
        records = state.flat_deleted_ctas() if deleted else state.flat_ctas()
        page = query.page(records)
        if not page:  # the documented quirk: an empty result is an error answer, not an empty list
            raise EnvelopeError(400, NO_MATCH, "No records found matching the criteria")
        return envelope({"records": page, "count": len(page)})


class _Events:
    def __init__(self, state: CsState) -> None:
        self.state = state

    async def publish(self, request: web.Request) -> web.Response:
        headers = request.headers
        missing = [name for name in EVENT_REQUIRED_HEADERS if not headers.get(name)]
        if missing:
            raise EnvelopeError(400, EVENT_BAD_REQUEST, f"missing header(s): {', '.join(missing)}")
        if headers["tenantId"] != self.state.tenant_id:
            raise EnvelopeError(401, UNAUTHORIZED, "unknown tenantId for this sharedSecret")
        body = await _json_body(request, EVENT_BAD_REQUEST)
        if not isinstance(body, dict):
            raise EnvelopeError(400, EVENT_BAD_REQUEST, "the event body must be a JSON object")
        event_id = self.state.next_event_id()
        kept = {k: v for k, v in headers.items() if k.lower() != EVENT_SECRET_HEADER.lower()}
        self.state.add_event(
            PublishedEvent(
                event_id=event_id,
                received_at_ms=self.state.now_ms(),
                topic_name=headers["topicName"],
                event_name=headers["eventName"],
                event_version=headers["eventVersion"],
                tenant_id=headers["tenantId"],
                contract_id=headers.get("contractId"),
                body=body,
                secret_matched=True,
                headers=kept,
            )
        )
        return envelope({"eventId": event_id})
