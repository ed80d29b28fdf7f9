"""What sending one row means, per entity and mode: the request(s), fallbacks, and the row's outcome.

`RowSender.send(row)` returns a `RowOutcome` for the journal. It never raises for row problems; a fatal
answer (401/403) or an exhausted quota raises `StopRun` so every worker stops and the run stays resumable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from batchgs.engine import px_requests as rq
from batchgs.engine.pool import StopRun
from batchgs.engine.px_requests import Client, fatal_error
from batchgs.errors import QuotaExhausted
from batchgs.io.rows import ValidatedRow
from batchgs.run.journal import RowOutcome
from batchgs.transport.result import ApiResult, BeforeSend, Outcome


@dataclass
class SendOptions:
    entity: str
    mode: str = "upsert"  # upsert | insert | update | delete (users/accounts)
    strategy: str = "auto"  # put-first | post-first | auto
    hard_delete: bool = False


class RowSender:
    """Sends one validated row. `known_existing(key)` answers True/False/None (unknown) for `auto`."""

    def __init__(
        self,
        client: Client,
        options: SendOptions,
        known_existing: Callable[[str], bool | None] | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.known_existing = known_existing or (lambda _key: None)
        self.writes_done = 0

    async def _call(self, call: rq.Call, before_send: BeforeSend | None = None) -> ApiResult:
        try:
            result = await self.client.request(
                call.method,
                call.path,
                params=call.params or None,
                json=call.json,
                idempotent=call.idempotent,
                before_send=before_send,
            )
        except QuotaExhausted as exc:
            raise StopRun(exc) from None
        if result.outcome is Outcome.FATAL:
            raise StopRun(fatal_error(result, first_write=self.writes_done == 0))
        if result.outcome is Outcome.SUCCESS:
            self.writes_done += 1
        return result

    async def send(self, row: ValidatedRow, before_send: BeforeSend | None = None) -> RowOutcome:
        """`before_send`: the write-ahead mark of a custom event, awaited right before it is written."""
        assert row.payload is not None
        entity = self.options.entity
        if entity in rq.COLLECTIONS:
            result, op = await self._send_collection(rq.COLLECTIONS[entity], row)
        elif entity == "events":
            result = await self._call(rq.custom_event(row.payload), before_send)
            op = "created"
        elif entity == "preferences":
            result = await self._call(rq.preferences_update(str(row.key), row.payload))
            op = "updated"
        else:  # pragma: no cover - the CLI refuses other entities before getting here
            raise ValueError(f"entity {entity!r} has no PX row sender")
        return outcome_for(row, result, op)

    async def _send_collection(self, coll: rq.PxCollection, row: ValidatedRow) -> tuple[ApiResult, str]:
        key = str(row.key)
        payload = row.payload or {}
        mode = self.options.mode
        if mode == "insert":
            return await self._call(coll.create(payload)), "created"
        if mode == "update":
            return await self._call(coll.update(key, payload)), "updated"
        if mode == "delete":
            return await self._call(coll.delete(key, hard=self.options.hard_delete)), "deleted"
        exists = self.known_existing(key)
        strategy = self.options.strategy
        if exists is True or (exists is None and strategy in ("put-first", "auto")):
            result = await self._call(coll.update(key, payload))
            if result.status == 404:
                return await self._call(coll.create(payload)), "created"
            return result, "updated"
        result = await self._call(coll.create(payload))
        if rq.is_possible_duplicate(result.status, result.message):
            return await self._call(coll.update(key, payload)), "updated"
        return result, "created"


def outcome_for(row: ValidatedRow, result: ApiResult, op: str) -> RowOutcome:
    if result.outcome is Outcome.SUCCESS:
        return RowOutcome(
            row=row.row,
            status="succeeded",
            op=op,
            key=row.key,
            code=None,
            message=None,
            http_status=result.status,
            transient=False,
        )
    if result.outcome is Outcome.UNCERTAIN:
        return RowOutcome(
            row=row.row,
            status="uncertain",
            op=None,
            key=row.key,
            code="uncertain",
            message=f"outcome unknown, not re-sent (resume --resend-uncertain): {result.message}",
            http_status=result.status,
            transient=False,
        )
    transient = result.outcome is Outcome.RETRIES_EXHAUSTED
    code = result.code or ("retries-exhausted" if transient else "api-rejected")
    return RowOutcome(
        row=row.row,
        status="failed",
        op=None,
        key=row.key,
        code=code,
        message=result.message,
        http_status=result.status,
        transient=transient,
    )
