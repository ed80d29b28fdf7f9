"""The one run loop of every import (PX rows, CS CTAs, CS events): pool, stops, journal, reports.

Each kind of import plans its run its own way (keys that exist, the CTA picklist, ...) and then hands
this loop a stream of checked rows and a `Sender`: how rows group into requests (`units`: a PX row is
one request, CTAs go 50 per call, a CS event is one) and how one request is sent (`send`). The loop
owns the rest, the same for every kind: which rows a resume skips, the worker pool, the write-ahead
marks of non-idempotent requests, stopping (Ctrl-C, quota, a refused key) and what each stop makes of
the run's status, the transport counters, the live and final reports, and summary.json.

A row is journalled only after the API answered definitively, so a crash at any moment loses nothing
acknowledged, and `batchgs resume` sends only what is left.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NoReturn, Protocol, TypeVar

from batchgs.engine.intents import IntentLog
from batchgs.engine.pool import Pool, StopRun
from batchgs.engine.progress import Progress
from batchgs.engine.px_requests import Client
from batchgs.errors import FatalApiError, Interrupted, QuotaExhausted, ResumableStop, StrictValidationError
from batchgs.io.rows import RowIssue, ValidatedRow
from batchgs.io.validate.file import Validation
from batchgs.reports.row_reports import ErrorReport, SuccessReport, rebuild_reports
from batchgs.reports.summary import build_summary, write_summary
from batchgs.run.journal import Journal, RunStatus
from batchgs.run.outcomes import RowOutcome
from batchgs.run.rowset import RowSet
from batchgs.transport.result import BeforeSend
from batchgs.transport.stats import TransportStats

READ_BATCH = 2_000  # rows validated at a time: bounds memory, keeps the queue fed
# Answers reach the journal at least this often. A marked (non-idempotent) row whose answer came but
# was not journalled yet is reported uncertain after a crash: at 190/s, 0.05 s is ~10 such rows
# (0.2 s was ~40), for 20 small commits a second.
ANSWER_FLUSH_S = 0.05
Unit = TypeVar("Unit")


class StopCause(enum.Enum):
    """Why a run stopped before its last row, and so what status it ends in."""

    QUOTA = "quota"
    INTERRUPTED = "interrupted"
    FATAL_API_ERROR = "fatal-api-error"
    READ_FAILED = "read-failed"  # another resumable stop while reading (the API down during reads)
    UNEXPECTED = "unexpected"

    @classmethod
    def of(cls, exc: BaseException) -> StopCause:
        if isinstance(exc, QuotaExhausted):
            return cls.QUOTA
        if isinstance(exc, Interrupted):
            return cls.INTERRUPTED
        if isinstance(exc, FatalApiError):
            return cls.FATAL_API_ERROR
        if isinstance(exc, ResumableStop):
            return cls.READ_FAILED
        return cls.UNEXPECTED

    @property
    def resumable(self) -> bool:
        """Quota, Ctrl-C, a refused key or failed reads pause the run (resume continues it); anything
        else aborts it."""
        return self is not StopCause.UNEXPECTED


@dataclass(frozen=True)
class RunEnd:
    """How the sending ended: the run's status, the reason stored with it, and the stop's error."""

    status: RunStatus
    reason: str | None = None
    stop: BaseException | None = None

    @classmethod
    def after(cls, stop: BaseException | None) -> RunEnd:
        if stop is None:
            return cls("completed")
        cause = StopCause.of(stop)
        if cause.resumable:
            return cls("paused", cause.value, stop)
        return cls("aborted", type(stop).__name__, stop)


@dataclass(frozen=True)
class SendUnit:
    """One request's worth of rows (a PX row, a CTA batch of ≤ 50, one CS event).

    `idempotent=False` (events, creates): the rows are marked in flight in the journal once the request
    has its limiter slot and is about to be written, so a crash leaves them `uncertain` instead of
    re-sending them on resume, and rows still waiting for the limiter stay pending.
    """

    rows: tuple[ValidatedRow, ...]
    op: str = ""
    idempotent: bool = True


class Sender(Protocol):
    """What one kind of import supplies to the loop: how rows group into requests and how one is sent."""

    def units(self, rows: AsyncIterator[ValidatedRow]) -> AsyncIterator[SendUnit]: ...

    async def send(self, unit: SendUnit, before_send: BeforeSend | None) -> list[RowOutcome]:
        """One outcome per row of `unit`; raises StopRun (quota, refused key) when nothing was applied.

        `before_send` (non-idempotent units only) goes to the client's `request`, which awaits it between
        the limiter's grant and the write.
        """
        ...


@dataclass(frozen=True)
class ReportSetup:
    """How the run's row reports look: the key column of success.csv, redaction, errors.xlsx."""

    key_column: str
    redact: bool = False
    xlsx: bool = False

    @classmethod
    def for_input(cls, input_path: Path, key_column: str, *, redact: bool) -> ReportSetup:
        return cls(key_column, redact=redact, xlsx=input_path.suffix.lower() == ".xlsx")


class Drive(Generic[Unit]):
    """The pool under every import-like run (imports, undo): workers, Ctrl-C, transport counters.

    `run` sends every unit through `handle` and hands the answers to `record` (the only writer of the
    journal) with the transport counters they cost; it returns how the run ended.
    """

    def __init__(self, stop_event: asyncio.Event, stats: TransportStats) -> None:
        self.stop_event = stop_event
        self.stats = stats
        self._counted: dict[str, int] = {}

    async def run(
        self,
        units: AsyncIterator[Unit],
        handle: Callable[[Unit], Awaitable[list[RowOutcome]]],
        record: Callable[[list[RowOutcome], dict[str, int]], None],
        *,
        workers: int,
    ) -> RunEnd:
        def collect(results: list[list[RowOutcome]]) -> None:
            record([outcome for result in results for outcome in result], self.counter_delta())

        pool: Pool[Unit, list[RowOutcome]] = Pool(
            handle, collect, workers=workers, flush_seconds=ANSWER_FLUSH_S
        )
        watcher = asyncio.create_task(self._watch_stop(pool))
        try:
            await pool.run(units)
        except ResumableStop as exc:  # raised while producing units (reads: quota, key refused, API down)
            pool.request_stop(exc)
        finally:
            watcher.cancel()
            record([], self.counter_delta())
        return RunEnd.after(pool.stop_cause)

    async def _watch_stop(self, pool: Pool[Any, Any]) -> None:
        await self.stop_event.wait()
        pool.request_stop(Interrupted("interrupted: requests in flight were finished and the journal saved"))

    def counter_delta(self) -> dict[str, int]:
        """Transport counters since the last call, stored with the outcomes they produced."""
        stats = self.stats
        now = {"requests": stats.requests, "responses_429": stats.responses_429, "retries": stats.retries}
        delta = {k: v - self._counted.get(k, 0) for k, v in now.items()}
        self._counted = now
        return {k: v for k, v in delta.items() if v}


class ImportLoop:
    """The shared half of an import segment; the importer of each kind builds one and drives it."""

    def __init__(
        self,
        journal: Journal | None,
        reports: ReportSetup,
        *,
        stop_event: asyncio.Event | None = None,
        progress: bool = True,
    ) -> None:
        self._journal = journal
        self.reports = reports
        self.stop_event = stop_event or asyncio.Event()
        self.progress = progress
        self._settle: Callable[[list[RowOutcome]], None] | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("this step needs a run folder (only --dry-run runs without one)")
        return self._journal

    def rows_to_skip(self, *, retry_failed: bool, resend_uncertain: bool) -> RowSet:
        """Rows this segment does not send: done ones, lasting failures, uncertain ones unless asked."""
        if self._journal is None:
            return RowSet()
        skip = self._journal.done_rows()
        if not retry_failed:
            skip |= self._journal.rows_to_retry()
        if resend_uncertain:
            skip -= self._journal.uncertain_rows()
        return RowSet(skip)

    def set_rows_total(self, rows_total: int) -> None:
        """For `batchgs status` while the run goes on."""
        if self._journal is not None:
            self._journal.set_progress("rows_total", rows_total)

    # ------------------------------------------------------------------------------------- --strict
    def abort_strict(
        self, validation: Validation, invalid_rows: Iterable[ValidatedRow], *, invalid: int, rows_total: int
    ) -> NoReturn:
        """Journal the invalid rows, write the reports and refuse the run (exit 3): nothing was sent."""
        journal = self.journal
        for chunk in chunks(invalid_rows, 1_000):
            journal.record(invalid_outcomes(chunk))
        journal.set_status("aborted", reason="strict")
        self.rebuild_reports(validation)
        write_summary(journal.run_dir, build_summary(journal, rows_total=rows_total))
        raise StrictValidationError(
            f"{invalid:,} of {rows_total:,} rows are invalid; with --strict nothing was sent",
            hint=f"see {journal.run_dir / 'errors.csv'}; fix the rows and run again",
        )

    # ------------------------------------------------------------------------------------- sending
    async def send(
        self,
        client: Client,
        validation: Validation,
        batches: AsyncIterator[list[ValidatedRow]],
        sender: Sender,
        *,
        workers: int,
        rows_left: int,
    ) -> RunEnd:
        """Send every valid row of `batches` (checked rows not to skip); journal and report each answer.

        Invalid rows are journalled and reported on the way. Returns once every started request was
        answered: at the end of the file, or after a stop (the rows not started stay pending).
        """
        journal = self.journal
        journal.set_status("running")
        errors = ErrorReport(journal.run_dir, validation.headers, redact=self.reports.redact)
        success = SuccessReport(journal.run_dir, self.reports.key_column, redact=self.reports.redact)
        progress = Progress(rows_left, enabled=self.progress, stats=client.stats)
        intents = IntentLog(journal)
        originals: dict[int, Mapping[str, str]] = {}

        def report(outcomes: list[RowOutcome], counters: Mapping[str, int] | None = None) -> None:
            journal.record(outcomes, counters=counters)
            for outcome in outcomes:
                original = originals.pop(outcome.row, {})
                if outcome.status == "succeeded":
                    success.add(outcome.row, outcome.key, outcome.op)
                else:
                    errors.add_outcome(outcome, original)
            errors.flush()
            success.flush()
            progress.advance(outcomes)

        async def valid_rows() -> AsyncIterator[ValidatedRow]:
            async for batch in batches:
                if self.stop_event.is_set():
                    return
                invalid = [row for row in batch if not row.valid]
                for row in invalid:
                    originals[row.row] = row.original
                if invalid:
                    report(invalid_outcomes(invalid))
                for row in batch:
                    if row.valid:
                        originals[row.row] = row.original
                        yield row
                await asyncio.sleep(0)

        async def handle(unit: SendUnit) -> list[RowOutcome]:
            if unit.idempotent:
                return await sender.send(unit, None)
            marked = False

            async def mark() -> None:  # from here on a crash leaves these rows `uncertain`, never re-sent
                nonlocal marked
                if not marked:
                    await intents.mark_rows(unit.rows)
                    marked = True

            try:
                return await sender.send(unit, mark)
            except StopRun:  # quota or a refused key: this request was not applied
                if marked:
                    journal.forget([row.row for row in unit.rows])
                raise

        self._settle = report
        try:
            return await Drive[SendUnit](self.stop_event, client.stats).run(
                sender.units(valid_rows()), handle, report, workers=workers
            )
        finally:
            self._settle = None
            progress.close()
            errors.close()
            success.close()

    def settle(self, outcomes: list[RowOutcome]) -> None:
        """Record rows answered without a request (`--changed-only`: nothing to change), while sending."""
        if self._settle is None:
            raise RuntimeError("settle() is for rows produced while the loop sends")
        self._settle(outcomes)

    # ------------------------------------------------------------------------------------- ending
    def finish(
        self, validation: Validation, end: RunEnd, *, rows_total: int, extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Status, final reports and summary.json; returns the summary (with the stop's error, if any)."""
        journal = self.journal
        journal.set_status(end.status, reason=end.reason)
        self.rebuild_reports(validation)
        summary = build_summary(journal, rows_total=rows_total, extra=extra)
        write_summary(journal.run_dir, summary)
        if end.stop is not None:
            summary["stop"] = end.stop
        return summary

    def rebuild_reports(self, validation: Validation) -> None:
        """errors.csv/.xlsx and success.csv rebuilt from the journal: sorted, complete across resumes."""
        rebuild_reports(
            self.journal,
            ((r.row, r.original) for batch in validation.batches(READ_BATCH) for r in batch),
            validation.headers,
            key_column=self.reports.key_column,
            redact=self.reports.redact,
            xlsx=self.reports.xlsx,
        )


def invalid_outcomes(rows: Iterable[ValidatedRow]) -> list[RowOutcome]:
    return [
        RowOutcome(
            row=row.row,
            status="invalid",
            key=row.key,
            code=row.issues[0].code,
            message="; ".join(issue_text(i) for i in row.issues),
        )
        for row in rows
    ]


def issue_text(issue: RowIssue) -> str:
    return f"{issue.column}: {issue.message}" if issue.column else issue.message


def chunks(items: Iterable[ValidatedRow], size: int) -> Iterator[list[ValidatedRow]]:
    chunk: list[ValidatedRow] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
