"""Publishing one Events Framework event per row (gainsight-api.md §2.3).

`POST /v1.0/api/eventManager/event` with the headers `topicName`, `eventName`, `eventVersion`,
`tenantId` (and optionally `contractId`); the `sharedSecret` header is the client's own (it is a
secret and never passes through here). The body is the row, nested by dots. Events are not
idempotent: an answer lost after sending makes the row `uncertain`, never silently re-sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batchgs.engine.pool import StopRun
from batchgs.engine.px_requests import Client
from batchgs.errors import FatalApiError, QuotaExhausted, UsageError
from batchgs.io.rows import ValidatedRow
from batchgs.run.journal import RowOutcome
from batchgs.transport.result import ApiResult, BeforeSend, Outcome

EVENT_PATH = "/v1.0/api/eventManager/event"
EVENT_KEY_COLUMN = "requestId"  # success.csv: the envelope's requestId, the receipt of a publish


@dataclass(frozen=True)
class EventTarget:
    """Where every event of a run goes: the headers that name the topic, event and tenant."""

    topic: str
    event_name: str
    event_version: str
    tenant_id: str
    contract_id: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EventTarget:
        """From the import options; every missing one is named in a single usage error."""
        names = {
            "topic": "--topic",
            "event_name": "--event-name",
            "event_version": "--event-version",
            "tenant_id": "--tenant-id",
        }
        missing = [flag for name, flag in names.items() if not str(options.get(name) or "").strip()]
        if missing:
            raise UsageError(
                f"cs-events needs {', '.join(missing)}",
                hint="e.g. --topic Usage --event-name Login --event-version v01 --tenant-id <tenant id>",
            )
        return cls(
            topic=str(options["topic"]).strip(),
            event_name=str(options["event_name"]).strip(),
            event_version=str(options["event_version"]).strip(),
            tenant_id=str(options["tenant_id"]).strip(),
            contract_id=str(options["contract_id"]).strip() if options.get("contract_id") else None,
        )

    def headers(self) -> dict[str, str]:
        headers = {
            "topicName": self.topic,
            "eventName": self.event_name,
            "eventVersion": self.event_version,
            "tenantId": self.tenant_id,
        }
        if self.contract_id:
            headers["contractId"] = self.contract_id
        return headers


class EventSender:
    """Publishes one row as one event; a refused secret or an exhausted quota stops every worker."""

    def __init__(self, client: Client, target: EventTarget) -> None:
        self.client = client
        self.headers = target.headers()

    async def send(self, row: ValidatedRow, before_send: BeforeSend | None = None) -> RowOutcome:
        """`before_send`: the write-ahead mark, awaited after the limiter's grant, right before writing."""
        try:
            result = await self.client.request(
                "POST",
                EVENT_PATH,
                json=row.payload or {},
                idempotent=False,
                headers=self.headers,
                before_send=before_send,
            )
        except QuotaExhausted as exc:
            raise StopRun(exc) from None
        if result.outcome is Outcome.FATAL:
            raise StopRun(
                FatalApiError(
                    f"the Events Framework refused the shared secret or tenant ({result.status}): "
                    f"{result.message}",
                    status=result.status,
                    hint="check GAINSIGHT_CS_SHARED_SECRET and --tenant-id",
                )
            )
        return event_outcome(row, result)


def event_outcome(row: ValidatedRow, result: ApiResult) -> RowOutcome:
    if result.outcome is Outcome.SUCCESS:
        request_id = result.body.get("requestId") if isinstance(result.body, Mapping) else None
        return RowOutcome(
            row.row,
            "succeeded",
            op="published",
            key=str(request_id) if request_id else None,
            http_status=result.status,
        )
    if result.outcome is Outcome.UNCERTAIN:
        return RowOutcome(
            row.row,
            "uncertain",
            code="uncertain",
            message=f"outcome unknown, not re-sent (resume --resend-uncertain): {result.message}",
            http_status=result.status,
        )
    transient = result.outcome is Outcome.RETRIES_EXHAUSTED
    return RowOutcome(
        row.row,
        "failed",
        code=result.code or ("retries-exhausted" if transient else "api-rejected"),
        message=result.message,
        http_status=result.status,
        transient=transient,
    )
