"""`batchgs import ctas|cs-events`: the CS import, on the same journal, pool and reports as PX.

Order of a run: validate the file (file-level problems were refused by the CLI) → CTAs: read the
tenant's picklist (this also proves the access key) → check each valid row's names against it →
`--strict` stops on any invalid row (exit 3) → CTAs go 50 per call (creates and updates apart),
events one per call → journal + reports + summary.json.

Sending, stopping, the journal and the reports are the shared run loop's (engine.imports.run_loop);
this module plans the run and says how CS rows are sent (`CsSender`). Non-idempotent requests (events,
CTA creates) are marked in flight before they leave: a crash leaves them `uncertain`, never re-sent
unless `--resend-uncertain`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchgs.engine.cs.ctas import CREATE, MAX_RECORDS_PER_CALL, CtaBatch, CtaSender, operation_for
from batchgs.engine.cs.events_sender import EVENT_KEY_COLUMN, EventSender, EventTarget
from batchgs.engine.cs.picklists import CtaPicklist, fetch_picklist
from batchgs.engine.imports.run_loop import ImportLoop, ReportSetup, SendUnit
from batchgs.engine.px_requests import Client
from batchgs.entities import registry
from batchgs.io.rows import RowIssue, ValidatedRow
from batchgs.io.validate.file import ValidateOptions, Validation, prepare
from batchgs.run.journal import Journal
from batchgs.run.outcomes import RowOutcome
from batchgs.run.rowset import RowSet
from batchgs.transport.result import BeforeSend

CS_IMPORT_ENTITIES = ("ctas", "cs-events")
SEND_BATCH = 2_000  # rows validated at a time
MAX_CS_WORKERS = 4  # 100 calls a minute: more requests in flight only hold more rows `uncertain`
EVENTS_OP = "publish"


@dataclass
class CsImportOptions:
    """What decides what a CS run sends; saved in the journal so `resume` repeats it exactly."""

    entity: str
    mode: str = "upsert"
    strict: bool = False
    strict_warnings: bool = False  # warnings (guesses such as lost leading zeros) refuse the row
    workers: int = MAX_CS_WORKERS
    timezone: str = "UTC"
    date_format: str | None = None
    mapping_file: str | None = None
    sheet: str | None = None
    redact: bool = False
    base_url: str | None = None  # the CS tenant: a resume goes to the same place
    topic: str | None = None  # cs-events headers (the shared secret is never stored)
    event_name: str | None = None
    event_version: str | None = None
    tenant_id: str | None = None

    def validate_options(self) -> ValidateOptions:
        return ValidateOptions(
            mode=self.mode,
            timezone=self.timezone,
            date_format=self.date_format,
            mapping_file=Path(self.mapping_file) if self.mapping_file else None,
            sheet=self.sheet,
            strict_warnings=self.strict_warnings,
        )

    def event_target(self) -> EventTarget:
        return EventTarget.from_options(asdict(self))

    def to_journal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_journal(cls, data: dict[str, Any]) -> CsImportOptions:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class CsRunControl:
    """Per-segment choices that may differ on resume."""

    dry_run: bool = False
    retry_failed: bool = False
    resend_uncertain: bool = False
    progress: bool = True
    per_minute: int = 100  # for the plan's time estimate
    quota_left: int | None = None


@dataclass
class CsPlan:
    """What a run would do (printed by --dry-run)."""

    rows_total: int = 0
    rows_invalid: int | None = None
    rows_done_before: int = 0
    rows_to_send: int = 0
    creates: int = 0
    updates: int = 0
    events: int = 0
    requests_estimate: int = 0
    quota_left: int | None = None
    eta_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RowChecker:
    """The CS checks on top of validation: CTA names against the picklist, the key per mode."""

    def __init__(self, validation: Validation, mode: str, picklist: CtaPicklist | None) -> None:
        self.mode = mode
        self.picklist = picklist
        mapping = validation.mapping
        self.headers = {
            name: target.header
            for name in ("type", "reason", "priority", "status")
            if (target := mapping.target(name)) is not None
        }
        self.key_header = target.header if (target := mapping.target("Gsid")) is not None else "Gsid"

    def check(self, row: ValidatedRow) -> ValidatedRow:
        """The row ready to send (names in the tenant's spelling), or the row with its issues."""
        if not row.valid or self.picklist is None:
            return row
        issues: list[RowIssue] = []
        if self.mode == "insert" and row.key:
            issues.append(
                RowIssue(
                    row.row,
                    self.key_header,
                    "unexpected-key",
                    "a Gsid names an existing CTA; --mode insert only creates (use upsert or update)",
                )
            )
        payload, name_issues = self.picklist.check(row.row, row.payload or {}, self.headers)
        issues += name_issues
        if issues:
            return ValidatedRow(row.row, row.original, None, key=row.key, issues=issues)
        return ValidatedRow(row.row, row.original, payload, key=row.key)


class CsImporter:
    """One CS import (or one resumed segment of it). The CLI builds it; `run()` is the whole job."""

    def __init__(
        self,
        *,
        input_path: Path,
        options: CsImportOptions,
        journal: Journal | None,
        client_factory: Callable[[], AbstractAsyncContextManager[Client]],
        control: CsRunControl | None = None,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        if options.entity not in CS_IMPORT_ENTITIES:
            raise ValueError(f"{options.entity!r} is not a CS import entity")
        self.spec = registry.get(options.entity)
        self.input_path = input_path
        self.options = options
        self.client_factory = client_factory
        self.control = control or CsRunControl()
        self.plan = CsPlan()
        self.is_ctas = options.entity == "ctas"
        self.target = None if self.is_ctas else options.event_target()
        key_column = "Gsid" if self.is_ctas else EVENT_KEY_COLUMN
        self.loop = ImportLoop(
            journal,
            ReportSetup.for_input(input_path, key_column, redact=options.redact),
            stop_event=stop_event,
            progress=self.control.progress,
        )

    # ------------------------------------------------------------------------------------- the job
    async def run(self) -> dict[str, Any]:
        """Send the file; returns summary.json's content (or `{"plan": ...}` for a dry run)."""
        with prepare(self.input_path, self.spec, self.options.validate_options()) as validation:
            skip = self.loop.rows_to_skip(
                retry_failed=self.control.retry_failed, resend_uncertain=self.control.resend_uncertain
            )
            self.plan.rows_total = validation.row_count()
            self.plan.rows_done_before = len(skip)
            self.loop.set_rows_total(self.plan.rows_total)
            if self.control.dry_run and not self.is_ctas:  # events: an offline plan, no secret needed
                self._count(validation, RowChecker(validation, self.options.mode, None), skip)
                return {"plan": self.plan.as_dict()}
            async with self.client_factory() as client:
                picklist = await fetch_picklist(client) if self.is_ctas else None
                checker = RowChecker(validation, self.options.mode, picklist)
                if self.options.strict or self.control.dry_run:
                    self._count(validation, checker, skip)
                    if self.options.strict and self.plan.rows_invalid and not self.control.dry_run:
                        self.loop.abort_strict(
                            validation,
                            (row for row in self._checked(validation, checker, skip) if not row.valid),
                            invalid=self.plan.rows_invalid,
                            rows_total=self.plan.rows_total,
                        )
                if self.control.dry_run:
                    return {"plan": self.plan.as_dict()}
                end = await self.loop.send(
                    client,
                    validation,
                    self._batches(validation, checker, skip),
                    CsSender(client, self.options.mode, self.target),
                    workers=max(1, min(self.options.workers, MAX_CS_WORKERS)),
                    rows_left=max(0, self.plan.rows_total - self.plan.rows_done_before),
                )
            extra: dict[str, Any] = {"mode": self.options.mode}
            if self.target is None:
                extra["records_per_call"] = MAX_RECORDS_PER_CALL
            else:
                extra.update(topic=self.target.topic, event_name=self.target.event_name)
            return self.loop.finish(validation, end, rows_total=self.plan.rows_total, extra=extra)

    def _checked(self, validation: Validation, checker: RowChecker, skip: RowSet) -> Iterator[ValidatedRow]:
        for batch in validation.batches(SEND_BATCH):
            for row in batch:
                if row.row not in skip:
                    yield checker.check(row)

    async def _batches(
        self, validation: Validation, checker: RowChecker, skip: RowSet
    ) -> AsyncIterator[list[ValidatedRow]]:
        for batch in validation.batches(SEND_BATCH):
            yield [checker.check(row) for row in batch if row.row not in skip]

    def _count(self, validation: Validation, checker: RowChecker, skip: RowSet) -> None:
        """The plan: invalid rows, creates/updates/events, requests and time at the CS rate."""
        plan, invalid = self.plan, 0
        for row in self._checked(validation, checker, skip):
            if not row.valid:
                invalid += 1
            elif not self.is_ctas:
                plan.events += 1
            elif operation_for(row, self.options.mode) == CREATE:
                plan.creates += 1
            else:
                plan.updates += 1
        plan.rows_invalid = invalid
        plan.rows_to_send = plan.creates + plan.updates + plan.events
        calls = math.ceil(plan.creates / MAX_RECORDS_PER_CALL) + math.ceil(
            plan.updates / MAX_RECORDS_PER_CALL
        )
        plan.requests_estimate = calls + 1 if self.is_ctas else plan.events
        plan.quota_left = self.control.quota_left
        plan.eta_seconds = round(plan.requests_estimate / max(1, self.control.per_minute) * 60, 1)
        if plan.quota_left is not None and plan.requests_estimate > plan.quota_left:
            plan.notes.append(
                f"about {plan.requests_estimate:,} requests needed but {plan.quota_left:,} left in the "
                "rolling 24 hours: the run will pause when they run out (or wait, with --wait-for-quota)"
            )


class CsSender:
    """The CS kinds of the run loop: CTAs gathered 50 per call (creates and updates apart), events one
    per call. CTA creates and events are not idempotent."""

    def __init__(self, client: Client, mode: str, target: EventTarget | None) -> None:
        self.mode = mode
        self.ctas = CtaSender(client) if target is None else None
        self.events = EventSender(client, target) if target is not None else None

    async def units(self, rows: AsyncIterator[ValidatedRow]) -> AsyncIterator[SendUnit]:
        """Calls to make, in file order: events one by one, CTAs gathered 50 per call and per op."""
        if self.events is not None:
            async for row in rows:
                yield SendUnit((row,), EVENTS_OP, idempotent=False)
            return
        pending: dict[str, list[ValidatedRow]] = {}
        async for row in rows:
            op = operation_for(row, self.mode)
            batch = pending.setdefault(op, [])
            batch.append(row)
            if len(batch) == MAX_RECORDS_PER_CALL:
                yield SendUnit(tuple(batch), op, idempotent=op != CREATE)
                pending[op] = []
        for op, batch in pending.items():
            if batch:
                yield SendUnit(tuple(batch), op, idempotent=op != CREATE)

    async def send(self, unit: SendUnit, before_send: BeforeSend | None) -> list[RowOutcome]:
        if self.events is not None:
            return [await self.events.send(unit.rows[0], before_send)]
        assert self.ctas is not None
        return await self.ctas.send(CtaBatch(unit.op, unit.rows), before_send)


__all__ = [
    "CS_IMPORT_ENTITIES",
    "CsImportOptions",
    "CsImporter",
    "CsPlan",
    "CsRunControl",
    "CsSender",
    "RowChecker",
]
