"""Opting out one user: read before, write what is still on, read back, retry a mismatch once.

Every request goes through `OneUser._call`, the send boundary: it runs `check_safe_write` on the
request (so no code path can send a `true` preference), refuses writes in a dry run, and turns an
exhausted quota or a refused key into `StopRun` so that every worker stops and the run can resume.

Before the first write the user's before-state is handed to `mark` (the engine journals it as an
in-flight mark). A resume of a marked user keeps that before-state, reads the user again and writes
only what is still on — so a run killed at any moment ends with the same receipt as one never
interrupted, and a write the server already applied is not sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from batchgs.engine import px_requests as rq
from batchgs.engine.optout.actions import (
    Changes,
    OptOutOptions,
    UserState,
    changed_between,
    check_safe_write,
    denylist_on,
    needed,
    parse_preferences,
    preferences_off,
    unsubscribe_on,
)
from batchgs.engine.pool import StopRun
from batchgs.engine.px_requests import Client, fatal_error, filter_safe
from batchgs.errors import QuotaExhausted
from batchgs.run.journal import RowOutcome
from batchgs.transport.client import needs_id_in_body
from batchgs.transport.result import ApiResult, Outcome

MAX_WRITES = 2  # the write, and one retry after a read-back mismatch
IN_FLIGHT = "in-flight"
Mark = Callable[[UserState], Awaitable[None]]


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class UserResult:
    """What one target came to: opted-out, already-opted-out, not-found, failed, would-opt-out (dry
    run) or in-flight (a write-ahead mark)."""

    status: str
    before: UserState | None = None
    after: UserState | None = None
    changed: tuple[str, ...] = ()
    message: str = ""
    code: str = ""
    http_status: int | None = None
    transient: bool = False
    time: str = field(default_factory=now_text)

    def detail(self) -> dict[str, Any]:
        return {
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
            "changed": list(self.changed),
            "message": self.message,
            "time": self.time,
        }


def to_outcome(number: int, identify_id: str, result: UserResult) -> RowOutcome:
    """The journal row of a result: receipt status as `op`, details as JSON in `message`."""
    status: Any
    if result.status in ("opted-out", "already-opted-out"):
        status = "succeeded"
    elif result.status == IN_FLIGHT:
        status = "uncertain"
    elif result.status == "invalid":
        status = "invalid"
    else:
        status = "failed"
    return RowOutcome(
        row=number,
        status=status,
        op=result.status,
        key=identify_id or None,
        code=result.code or (None if status == "succeeded" else result.status),
        message=json.dumps(result.detail(), separators=(",", ":"), ensure_ascii=False),
        http_status=result.http_status,
        transient=result.transient,
    )


def from_outcome(outcome: RowOutcome) -> UserResult:
    detail = json.loads(outcome.message or "{}")
    before, after = detail.get("before"), detail.get("after")
    return UserResult(
        status=outcome.op or outcome.status,
        before=UserState.from_json(before) if before else None,
        after=UserState.from_json(after) if after else None,
        changed=tuple(detail.get("changed") or ()),
        message=str(detail.get("message") or ""),
        code=outcome.code or "",
        http_status=outcome.http_status,
        transient=outcome.transient,
        time=str(detail.get("time") or ""),
    )


def _failure(result: ApiResult, what: str, before: UserState | None = None) -> UserResult:
    if result.status == 404:
        return UserResult(
            "not-found", before, code="not-found", message="no user has this identifyId", http_status=404
        )
    transient = result.outcome is Outcome.RETRIES_EXHAUSTED
    return UserResult(
        "failed",
        before,
        code=result.code or ("retries-exhausted" if transient else "api-rejected"),
        message=f"{what}: {result.message}",
        http_status=result.status,
        transient=transient,
    )


class OneUser:
    """Opts users out one at a time (workers share one instance: it holds no per-user state)."""

    def __init__(self, client: Client, options: OptOutOptions, *, dry_run: bool = False) -> None:
        self.client = client
        self.options = options
        self.dry_run = dry_run
        self.writes_done = 0

    async def _call(self, call: rq.Call) -> ApiResult:
        check_safe_write(call)  # the send boundary: raises before anything unsafe leaves
        if self.dry_run and call.method != "GET" and not (call.method == "POST" and call.op == "read"):
            raise RuntimeError(f"dry run: refusing to send {call.method} {call.path}")
        try:
            result = await self.client.request(
                call.method, call.path, params=call.params or None, json=call.json
            )
        except QuotaExhausted as exc:
            raise StopRun(exc) from None
        if result.outcome is Outcome.FATAL:
            raise StopRun(fatal_error(result, first_write=self.writes_done == 0))
        if result.ok and call.method == "PUT":
            self.writes_done += 1
        return result

    async def read(self, identify_id: str) -> UserState | UserResult:
        """The user's levers as PX has them now, or the failure (not-found, failed)."""
        answer = await self._call(rq.preferences_get(identify_id))
        if not answer.ok:
            return _failure(answer, "reading preferences")
        prefs = parse_preferences(answer.body)
        denied = unsubscribed = None
        if self.options.denylist:
            try:
                call = rq.denylist_get(identify_id)
            except rq.IdNotInPath as exc:  # before any write: the person is reported, nothing half-done
                return UserResult("failed", code="unsupported-id", message=str(exc))
            answer = await self._call(call)
            if not answer.ok:
                return _failure(answer, "reading the denylist flag")
            denied = isinstance(answer.body, dict) and answer.body.get("denied") is True
        if self.options.unsubscribe:
            found = await self._read_unsubscribed(identify_id)
            if isinstance(found, UserResult):
                return found
            unsubscribed = found
        return UserState(prefs, denied, unsubscribed)

    async def _read_unsubscribed(self, identify_id: str) -> bool | UserResult:
        """`globalUnsubscribe` from the user record; an id a path would mangle is asked by filter."""
        if not needs_id_in_body(identify_id):
            answer = await self._call(rq.USERS.get(identify_id))
            if not answer.ok:
                return _failure(answer, "reading the user")
            record = answer.body if isinstance(answer.body, dict) else {}
        elif filter_safe(identify_id):
            call = rq.Call(
                "GET", "/v1/users", "read", params={"filter": f"identifyId=={identify_id}", "pageSize": "2"}
            )
            answer = await self._call(call)
            if not answer.ok:
                return _failure(answer, "reading the user")
            users = answer.body.get("users") if isinstance(answer.body, dict) else None
            matches = [u for u in users or [] if isinstance(u, dict) and u.get("identifyId") == identify_id]
            if not matches:
                return UserResult("not-found", code="not-found", message="no user has this identifyId")
            record = matches[0]
        else:
            return UserResult(
                "failed", code="unsupported-id", message="this identifyId cannot be carried by the users API"
            )
        return record.get("globalUnsubscribe") is True

    async def _write(self, identify_id: str, changes: Changes) -> ApiResult | None:
        """Send what is still on; the first failed answer, or None when every write succeeded."""
        calls = []
        if changes.prefs:
            calls.append(preferences_off(identify_id, changes.prefs))
        if changes.denylist:
            calls.append(denylist_on(identify_id))
        if changes.unsubscribe:
            calls.append(unsubscribe_on(identify_id))
        for call in calls:
            answer = await self._call(call)
            if not answer.ok:
                return answer
        return None

    async def opt_out(
        self, identify_id: str, *, saved_before: UserState | None, mark: Mark | None
    ) -> UserResult:
        """The whole job for one user. `saved_before`: the before-state of an earlier in-flight mark."""
        current = await self.read(identify_id)
        if isinstance(current, UserResult):
            return current if saved_before is None else _with_before(current, saved_before)
        before = saved_before or current
        if needed(before, self.options).empty:
            return UserResult("already-opted-out", before, before)
        if self.dry_run:
            return UserResult("would-opt-out", before, changed=tuple(needed(before, self.options).names()))
        if saved_before is None and mark is not None:
            await mark(before)
        writes = 0
        todo = needed(current, self.options)
        while not todo.empty:
            if writes >= MAX_WRITES:
                still = ", ".join(todo.names())
                return UserResult(
                    "failed",
                    before,
                    current,
                    tuple(changed_between(before, current, self.options)),
                    code="read-back-mismatch",
                    message=f"after the write and one retry PX still shows {still} on",
                )
            failed = await self._write(identify_id, todo)
            writes += 1
            if failed is not None:
                return _with_before(_failure(failed, "writing"), before)
            read_back = await self.read(identify_id)
            if isinstance(read_back, UserResult):
                return _with_before(read_back, before)
            current = read_back
            todo = needed(current, self.options)
        return UserResult("opted-out", before, current, tuple(changed_between(before, current, self.options)))


def _with_before(result: UserResult, before: UserState) -> UserResult:
    """A failure after the before-state was known keeps it (the receipt shows it)."""
    if result.status == "not-found":  # it was there a moment ago
        return UserResult(
            "failed", before, code="not-found", message="the user disappeared during the run", http_status=404
        )
    return replace(result, before=before)
