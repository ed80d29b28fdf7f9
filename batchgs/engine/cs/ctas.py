"""Sending CTA rows: up to 50 records per call, each tagged with a `referenceId` naming its row.

`POST /v2/cockpit/cta` creates, `PUT /v2/cockpit/cta` updates (each record carries its `Gsid`); both
answer `data: {"success": [{referenceId, Gsid}], "errors": [{referenceId, errorCode, errorDesc}]}`
and one bad record does not fail the others (gainsight-api.md §2.2). So a call gives one outcome per
row: the envelope decides whether the call itself worked, the lists decide each record.

A create is not idempotent: a POST whose answer was lost may have created the CTAs, and sending it
again would create them twice. Such a batch is `uncertain` (never re-sent without being asked), like
events. An update (PUT with Gsid) is safe to repeat, so it is retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batchgs.engine.pool import StopRun
from batchgs.engine.px_requests import Client
from batchgs.errors import FatalApiError, QuotaExhausted
from batchgs.io.rows import ValidatedRow
from batchgs.run.journal import RowOutcome
from batchgs.transport.result import ApiResult, BeforeSend, Outcome

CTA_PATH = "/v2/cockpit/cta"
MAX_RECORDS_PER_CALL = 50
KEY_FIELD = "Gsid"
TAG_FIELD = "referenceId"
CREATE, UPDATE = "create", "update"


@dataclass(frozen=True)
class CtaBatch:
    """Rows sent in one call: all creates or all updates, at most 50."""

    op: str  # create | update
    rows: tuple[ValidatedRow, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.rows) <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"a CTA call carries 1..{MAX_RECORDS_PER_CALL} records, not {len(self.rows)}")

    @property
    def idempotent(self) -> bool:
        return self.op == UPDATE


def reference_id(row: int) -> str:
    """The tag echoed back for one record: its spreadsheet row."""
    return f"row-{row}"


def operation_for(row: ValidatedRow, mode: str) -> str:
    """upsert: a Gsid updates that CTA, none creates one; insert/update: as the mode says."""
    if mode == "update":
        return UPDATE
    if mode == "insert":
        return CREATE
    return UPDATE if row.key else CREATE


def record_for(row: ValidatedRow, op: str) -> dict[str, Any]:
    """The record of one row: its payload, the referenceId, and the Gsid only on updates."""
    record = {k: v for k, v in (row.payload or {}).items() if k != KEY_FIELD}
    if op == UPDATE:
        record[KEY_FIELD] = row.key
    record[TAG_FIELD] = reference_id(row.row)
    return record


def request_body(batch: CtaBatch) -> dict[str, Any]:
    return {"requests": [{"record": record_for(row, batch.op)} for row in batch.rows]}


class CtaSender:
    """Sends one batch through the CS client and turns the answer into one outcome per row."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def send(self, batch: CtaBatch, before_send: BeforeSend | None = None) -> list[RowOutcome]:
        """`before_send`: the write-ahead mark of a create, awaited right before the call is written."""
        method = "POST" if batch.op == CREATE else "PUT"
        try:
            result = await self.client.request(
                method,
                CTA_PATH,
                json=request_body(batch),
                idempotent=batch.idempotent,
                before_send=before_send,
            )
        except QuotaExhausted as exc:
            raise StopRun(exc) from None
        if result.outcome is Outcome.FATAL:
            raise StopRun(
                FatalApiError(
                    f"the CS API refused the access key ({result.status}): {result.message}",
                    status=result.status,
                    hint=result.hint or "check GAINSIGHT_CS_ACCESS_KEY and the base URL",
                )
            )
        return outcomes_for(batch, result)


def outcomes_for(batch: CtaBatch, result: ApiResult) -> list[RowOutcome]:
    """Per row: success/errors entries when the call worked, else the call's fate for every row."""
    done = "created" if batch.op == CREATE else "updated"
    if result.outcome is not Outcome.SUCCESS or result.empty:
        return [_call_failed(row, result) for row in batch.rows]
    data = result.body.get("data") if isinstance(result.body, Mapping) else None
    successes = _by_reference(data, "success")
    errors = _by_reference(data, "errors")
    outcomes = []
    for row in batch.rows:
        tag = reference_id(row.row)
        if tag in errors:
            error = errors[tag]
            code, desc = error.get("errorCode"), error.get("errorDesc")
            message = f"{code}: {desc}" if code and desc else str(desc or code or "refused")
            outcomes.append(
                RowOutcome(
                    row.row,
                    "failed",
                    key=row.key,
                    code="api-rejected",
                    message=message,
                    http_status=result.status,
                )
            )
        elif tag in successes:
            gsid = successes[tag].get(KEY_FIELD) or row.key
            outcomes.append(
                RowOutcome(
                    row.row,
                    "succeeded",
                    op=done,
                    key=None if gsid is None else str(gsid),
                    http_status=result.status,
                )
            )
        else:
            outcomes.append(_not_mentioned(row, batch, result))
    return outcomes


def _by_reference(data: Any, name: str) -> dict[str, Mapping[str, Any]]:
    items = data.get(name) if isinstance(data, Mapping) else None
    found: dict[str, Mapping[str, Any]] = {}
    for item in items if isinstance(items, Sequence) and not isinstance(items, str) else ():
        if isinstance(item, Mapping) and item.get(TAG_FIELD) is not None:
            found[str(item[TAG_FIELD])] = item
    return found


def _call_failed(row: ValidatedRow, result: ApiResult) -> RowOutcome:
    if result.outcome is Outcome.UNCERTAIN:
        return RowOutcome(
            row.row,
            "uncertain",
            key=row.key,
            code="uncertain",
            message=f"outcome unknown, not re-sent (resume --resend-uncertain): {result.message}",
            http_status=result.status,
        )
    if result.empty:  # GSOBJ_1011 on a write: the call matched nothing, for every record in it
        return RowOutcome(
            row.row,
            "failed",
            key=row.key,
            code="not-found",
            message=result.message,
            http_status=result.status,
        )
    transient = result.outcome is Outcome.RETRIES_EXHAUSTED
    return RowOutcome(
        row.row,
        "failed",
        key=row.key,
        code=result.code or ("retries-exhausted" if transient else "api-rejected"),
        message=result.message,
        http_status=result.status,
        transient=transient,
    )


def _not_mentioned(row: ValidatedRow, batch: CtaBatch, result: ApiResult) -> RowOutcome:
    """The call worked but the answer names neither a success nor an error for this record."""
    message = "the answer did not mention this record"
    if batch.op == CREATE:  # it may exist now: never create it twice silently
        return RowOutcome(
            row.row,
            "uncertain",
            key=row.key,
            code="uncertain",
            message=f"{message}; it may have been created (resume --resend-uncertain sends it again)",
            http_status=result.status,
        )
    return RowOutcome(
        row.row,
        "failed",
        key=row.key,
        code="api-no-answer",
        message=message,
        http_status=result.status,
        transient=True,
    )
