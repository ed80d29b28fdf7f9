"""`batchgs import ctas|cs-events`: the CS import, on the same journal, pool and reports as PX.

Order of a run: validate the file (file-level problems were refused by the CLI) → CTAs: read the
tenant's picklist (this also proves the access key) → check each valid row's names against it →
`--strict` stops on any invalid row (exit 3) → CTAs go 50 per call (creates and updates apart),
events one per call → journal + reports + summary.json.

Non-idempotent requests (events, CTA creates) are marked in flight in the journal before they leave
(engine.intents): a crash leaves them `uncertain`, never re-sent unless `--resend-uncertain`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchgs.engine.cs.ctas import CREATE, MAX_RECORDS_PER_CALL, CtaBatch, CtaSender, operation_for
from batchgs.engine.cs.events_sender import EVENT_KEY_COLUMN, EventSender, EventTarget
from batchgs.engine.cs.picklists import CtaPicklist, fetch_picklist
from batchgs.engine.imports.importer import invalid_outcomes
from batchgs.engine.intents import IntentLog
from batchgs.engine.pool import Pool, StopRun
from batchgs.engine.progress import Progress
from batchgs.entities import registry
from batchgs.errors import FatalApiError, Interrupted, QuotaExhausted, StrictValidationError
from batchgs.io.rows import RowIssue, ValidatedRow
from batchgs.io.validate.file import ValidateOptions, Validation, prepare
from batchgs.reports.row_reports import rebuild_reports
from batchgs.reports.summary import build_summary, write_summary
from batchgs.run.journal import Journal, RowOutcome
from batchgs.run.rowset import RowSet

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


@dataclass(frozen=True)
class _Work:
    """One call's worth of rows: a CTA batch (create/update, ≤ 50) or one event."""

    op: str
    rows: tuple[ValidatedRow, ...]

    @property
    def idempotent(self) -> bool:
        return self.op not in (CREATE, EVENTS_OP)


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
        client_factory: Callable[[], Any],
        control: CsRunControl | None = None,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        if options.entity not in CS_IMPORT_ENTITIES:
            raise ValueError(f"{options.entity!r} is not a CS import entity")
        self.spec = registry.get(options.entity)
        self.input_path = input_path
        self.options = options
        self.journal = journal
        self.client_factory = client_factory
        self.control = control or CsRunControl()
        self.stop_event = stop_event or asyncio.Event()
        self.plan = CsPlan()
        self.is_ctas = options.entity == "ctas"
        self.target = None if self.is_ctas else options.event_target()
        self._counted: dict[str, int] = {}

    # ------------------------------------------------------------------------------------- the job
    async def run(self) -> dict[str, Any]:
        """Send the file; returns summary.json's content (or `{"plan": ...}` for a dry run)."""
        with prepare(self.input_path, self.spec, self.options.validate_options()) as validation:
            skip = self._rows_to_skip()
            self.plan.rows_total = validation.row_count()
            self.plan.rows_done_before = len(skip)
            if self.journal is not None:
                self.journal.set_progress("rows_total", self.plan.rows_total)
            if self.control.dry_run and not self.is_ctas:  # events: an offline plan, no secret needed
                self._count(validation, RowChecker(validation, self.options.mode, None), skip)
                return {"plan": self.plan.as_dict()}
            async with self.client_factory() as client:
                picklist = await fetch_picklist(client) if self.is_ctas else None
                checker = RowChecker(validation, self.options.mode, picklist)
                if self.options.strict or self.control.dry_run:
                    self._count(validation, checker, skip)
                    if self.options.strict and self.plan.rows_invalid and not self.control.dry_run:
                        self._abort_strict(validation, checker, skip)
                if self.control.dry_run:
                    return {"plan": self.plan.as_dict()}
                status, reason, stop = await self._send_all(client, validation, checker, skip)
            return self._finish(validation, status, reason, stop)

    def _rows_to_skip(self) -> RowSet:
        if self.journal is None:
            return RowSet()
        skip = self.journal.done_rows()
        if not self.control.retry_failed:
            skip |= self.journal.rows_to_retry()
        if self.control.resend_uncertain:
            skip -= self.journal.uncertain_rows()
        return RowSet(skip)

    def _checked(self, validation: Validation, checker: RowChecker, skip: RowSet) -> Iterator[ValidatedRow]:
        for batch in validation.batches(SEND_BATCH):
            for row in batch:
                if row.row not in skip:
                    yield checker.check(row)

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

    def _abort_strict(self, validation: Validation, checker: RowChecker, skip: RowSet) -> None:
        journal = self._require_journal()
        bad = (row for row in self._checked(validation, checker, skip) if not row.valid)
        for chunk in _chunks(bad, 1_000):
            journal.record(invalid_outcomes(chunk))
        journal.set_status("aborted", reason="strict")
        self._reports(validation)
        write_summary(journal.run_dir, build_summary(journal, rows_total=self.plan.rows_total))
        raise StrictValidationError(
            f"{self.plan.rows_invalid:,} of {self.plan.rows_total:,} rows are invalid; with --strict "
            "nothing was sent",
            hint=f"see {journal.run_dir / 'errors.csv'}; fix the rows and run again",
        )

    # ------------------------------------------------------------------------------------- sending
    async def _send_all(
        self, client: Any, validation: Validation, checker: RowChecker, skip: RowSet
    ) -> tuple[str, str | None, BaseException | None]:
        journal = self._require_journal()
        journal.set_status("running")
        progress = Progress(
            max(0, self.plan.rows_total - self.plan.rows_done_before),
            enabled=self.control.progress,
            stats=client.stats,
        )
        ctas = CtaSender(client) if self.is_ctas else None
        events = EventSender(client, self.target) if self.target is not None else None
        intents = IntentLog(journal)

        async def handle(work: _Work) -> list[RowOutcome]:
            if not work.idempotent:  # a crash from here on leaves these rows `uncertain`
                await asyncio.gather(*(intents.mark(row) for row in work.rows))
            try:
                if events is not None:
                    return [await events.send(work.rows[0])]
                assert ctas is not None
                return await ctas.send(CtaBatch(work.op, work.rows))
            except StopRun:  # quota or a refused key: this request was not applied
                if not work.idempotent:
                    journal.forget([row.row for row in work.rows])
                raise

        def collect(results: list[list[RowOutcome]]) -> None:
            outcomes = [outcome for result in results for outcome in result]
            journal.record(outcomes, counters=self._counter_delta(client.stats))
            progress.advance(outcomes)

        def record_invalid(rows: list[ValidatedRow]) -> None:
            outcomes = invalid_outcomes(rows)
            journal.record(outcomes)
            progress.advance(outcomes)

        pool: Pool[_Work, list[RowOutcome]] = Pool(
            handle, collect, workers=max(1, min(self.options.workers, MAX_CS_WORKERS))
        )
        watcher = asyncio.create_task(self._watch_stop(pool))
        try:
            await pool.run(self._work(validation, checker, skip, record_invalid))
        finally:
            watcher.cancel()
            progress.close()
            journal.record([], counters=self._counter_delta(client.stats))
        cause = pool.stop_cause
        if cause is None:
            return "completed", None, None
        if isinstance(cause, QuotaExhausted):
            return "paused", "quota", cause
        if isinstance(cause, Interrupted):
            return "paused", "interrupted", cause
        if isinstance(cause, FatalApiError):
            return "paused", "fatal-api-error", cause
        return "aborted", type(cause).__name__, cause

    async def _work(
        self,
        validation: Validation,
        checker: RowChecker,
        skip: RowSet,
        record_invalid: Callable[[list[ValidatedRow]], None],
    ) -> AsyncIterator[_Work]:
        """Calls to make, in file order: events one by one, CTAs gathered 50 per call and per op."""
        pending: dict[str, list[ValidatedRow]] = {}
        for batch in validation.batches(SEND_BATCH):
            if self.stop_event.is_set():
                return
            checked = [checker.check(row) for row in batch if row.row not in skip]
            invalid = [row for row in checked if not row.valid]
            if invalid:
                record_invalid(invalid)
            for row in checked:
                if not row.valid:
                    continue
                if not self.is_ctas:
                    yield _Work(EVENTS_OP, (row,))
                    continue
                op = operation_for(row, self.options.mode)
                rows = pending.setdefault(op, [])
                rows.append(row)
                if len(rows) == MAX_RECORDS_PER_CALL:
                    yield _Work(op, tuple(rows))
                    pending[op] = []
            await asyncio.sleep(0)
        for op, rows in pending.items():
            if rows and not self.stop_event.is_set():
                yield _Work(op, tuple(rows))

    async def _watch_stop(self, pool: Pool[Any, Any]) -> None:
        await self.stop_event.wait()
        pool.request_stop(Interrupted("interrupted: requests in flight were finished and the journal saved"))

    def _counter_delta(self, stats: Any) -> dict[str, int]:
        now = {"requests": stats.requests, "responses_429": stats.responses_429, "retries": stats.retries}
        delta = {k: v - self._counted.get(k, 0) for k, v in now.items()}
        self._counted = now
        return {k: v for k, v in delta.items() if v}

    # ------------------------------------------------------------------------------------- ending
    def _finish(
        self, validation: Validation, status: str, reason: str | None, stop: BaseException | None
    ) -> dict[str, Any]:
        journal = self._require_journal()
        journal.set_status(status, reason=reason)  # type: ignore[arg-type]
        self._reports(validation)
        extra: dict[str, Any] = {"mode": self.options.mode}
        if self.is_ctas:
            extra["records_per_call"] = MAX_RECORDS_PER_CALL
        else:
            assert self.target is not None
            extra.update(topic=self.target.topic, event_name=self.target.event_name)
        summary = build_summary(journal, rows_total=self.plan.rows_total, extra=extra)
        write_summary(journal.run_dir, summary)
        if stop is not None:
            summary["stop"] = stop
        return summary

    def _reports(self, validation: Validation) -> None:
        """errors.csv/.xlsx and success.csv rebuilt from the journal: sorted, complete across resumes."""
        rebuild_reports(
            self._require_journal(),
            ((r.row, r.original) for batch in validation.batches(SEND_BATCH) for r in batch),
            validation.headers,
            key_column="Gsid" if self.is_ctas else EVENT_KEY_COLUMN,
            redact=self.options.redact,
            xlsx=self.input_path.suffix.lower() == ".xlsx",
        )

    def _require_journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("this step needs a run folder (only --dry-run runs without one)")
        return self.journal


def _chunks(items: Iterable[ValidatedRow], size: int) -> Iterator[list[ValidatedRow]]:
    chunk: list[ValidatedRow] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


__all__ = ["CS_IMPORT_ENTITIES", "CsImportOptions", "CsImporter", "CsPlan", "CsRunControl", "RowChecker"]
