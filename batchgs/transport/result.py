"""What one logical request came to, after retries. Produced by transport, consumed by the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Awaited once by `ApiClient.request` between the limiter's grant and the write: the write-ahead mark of
# a non-idempotent request (engine.intents). If it raises, the request is not sent.
BeforeSend = Callable[[], Awaitable[None]]


class Outcome(StrEnum):
    SUCCESS = "success"
    ROW_ERROR = "row-error"  # 4xx other than 401/403/429: the API refused this row
    FATAL = "fatal"  # 401/403: stop the run, resumable
    UNCERTAIN = "uncertain"  # non-idempotent request that may have reached the server
    RETRIES_EXHAUSTED = "retries-exhausted"  # transient failures until attempts/time ran out


@dataclass(frozen=True)
class ApiResult:
    outcome: Outcome
    status: int | None  # last HTTP status, None when no answer (connection error, timeout)
    body: Any  # parsed JSON when the answer was JSON, else None
    message: str  # the most specific text (subErrors, message, status, raw body cut short)
    attempts: int
    code: str = ""  # row code for reports: api-rejected, not-found, retries-exhausted, uncertain
    hint: str | None = None  # for FATAL: what the user can do (e.g. the key's Write permission)
    empty: bool = False  # CS GSOBJ_1011: the search matched nothing (a success with no records)
    raw: bytes | None = None  # `request(raw=True)`: a success's body as received, not parsed

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS
