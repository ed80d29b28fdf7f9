"""`batchgs import`: validate, plan, send through the pool, journal every answer, report.

Order of a run: open the file and map headers (file-level errors stop here, exit 2) → count invalid rows
(`--strict` stops here, exit 3) → preflight GET (proves key and region) → for `auto`, learn which keys
already exist → stream valid rows not yet done through the worker pool → journal + reports.
A row is journalled only after the API definitively answered, so a crash at any moment loses nothing
acknowledged and `batchgs resume` sends only what is left.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchgs.engine.existing import LOOKUP_CHUNK, ExistingKeys, discover_existing, filter_safe, lookup_keys
from batchgs.engine.pool import Pool
from batchgs.engine.rowops import RowSender, SendOptions
from batchgs.entities.spec import EntitySpec
from batchgs.errors import FatalApiError, Interrupted, QuotaExhausted, StrictValidationError
from batchgs.io.rows import ValidatedRow
from batchgs.io.validate import ValidateOptions, Validation, prepare
from batchgs.journal import Journal, RowOutcome
from batchgs.reports import ErrorReport, SuccessReport, rebuild_reports, write_summary
from batchgs.transport.result import Outcome

LIST_PATHS = {"users": ("/v1/users", "users", "identifyId"), "accounts": ("/v1/accounts", "accounts", "id")}


@dataclass
class ImportOptions:
    """Everything that decides what a run sends; saved in the journal so `resume` repeats it exactly."""

    entity: str
    mode: str = "upsert"
    strategy: str = "auto"
    hard_delete: bool = False
    strict: bool = False
    dry_run: bool = False
    workers: int = 48
    timezone: str = "UTC"
    date_format: str | None = None
    product_key: str | None = None
    mapping_file: str | None = None
    sheet: str | None = None
    redact: bool = False
    retry_failed: bool = False
    resend_uncertain: bool = False

    def validate_options(self, attributes: Any = None) -> ValidateOptions:
        return ValidateOptions(
            mode=self.mode if self.mode in ("upsert", "insert", "update", "delete") else "upsert",
            timezone=self.timezone,
            date_format=self.date_format,
            product_key=self.product_key,
            mapping_file=Path(self.mapping_file) if self.mapping_file else None,
            sheet=self.sheet,
            attributes=attributes,
        )

    def to_journal(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("retry_failed")
        data.pop("resend_uncertain")
        data.pop("dry_run")
        return data


@dataclass
class Plan:
    """What a run would do: printed by `--dry-run`, used for the quota preflight."""

    rows_total: int = 0
    rows_invalid: int = 0
    rows_to_send: int = 0
    rows_done_before: int = 0
    creates: int | None = None
    updates: int | None = None
    deletes: int | None = None
    requests_estimate: int = 0
    lookup_requests: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class RunTotals:
    requests: int = 0
    responses_429: int = 0
    retries: int = 0


class Importer:
    """One import (or resume of one). The CLI builds it; `run()` is the whole job."""

    def __init__(
        self,
        *,
        spec: EntitySpec,
        input_path: Path,
        options: ImportOptions,
        journal: Journal,
        client_factory: Callable[[], Any],
        attributes: Any = None,
        progress: Any = None,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.input_path = input_path
        self.options = options
        self.journal = journal
        self.client_factory = client_factory
        self.attributes = attributes
        self.progress = progress
        self.stop_event = stop_event or asyncio.Event()
        self.plan = Plan()
        self.started = time.time()

    def validation(self) -> Validation:
        return prepare(self.input_path, self.spec, self.options.validate_options(self.attributes))

    def count_invalid(self, validation: Validation) -> tuple[int, int]:
        """One fast pass: (rows with issues, total rows)."""
        bad = {issue.row for issue in validation.issues_only()}
        total = validation.row_count()
        return len(bad), total

    async def run(self) -> dict[str, Any]:
        validation = self.validation()
        invalid, total = self.count_invalid(validation)
        self.plan.rows_total, self.plan.rows_invalid = total, invalid
        if self.options.strict and invalid:
            self._record_invalid_only(validation)
            self.finish(validation, status="aborted", reason="strict")
            raise StrictValidationError(
                f"{invalid} of {total} rows are invalid; with --strict nothing was sent",
                hint=f"see {self.journal.run_dir / 'errors.csv'}; fix the rows and run again",
            )
        skip = self.journal.done_rows(
            include_failed_transient=not self.options.retry_failed,
            include_uncertain=not self.options.resend_uncertain,
        )
        self.plan.rows_done_before = len(skip)
        self.plan.rows_to_send = max(0, total - invalid - len(skip))
        async with self.client_factory() as client:
            await self._preflight(client)
            existing = await self._existing(client, validation, skip)
            self._estimate(existing)
            if self.options.dry_run:
                return {"plan": asdict(self.plan)}
            sender = RowSender(
                client,
                SendOptions(
                    self.spec.name, self.options.mode, self.options.strategy, self.options.hard_delete
                ),
                known_existing=existing.lookup if existing else None,
            )
            status, reason, stop_error = await self._send_all(client, validation, sender, skip, existing)
            self._absorb_stats(client)
        summary = self.finish(validation, status=status, reason=reason)
        if stop_error is not None:
            raise stop_error
        return summary

    async def _preflight(self, client: Any) -> None:
        """A cheap authenticated GET proves the key and the region before any write."""
        result = await client.request("GET", "/v1/users", params={"pageSize": "1"})
        if result.outcome is Outcome.FATAL:
            raise FatalApiError(
                f"the API refused the key ({result.status}) at {client.base_url}: {result.message}",
                status=result.status,
                hint="check GAINSIGHT_PX_API_KEY and --region/--base-url",
            )

    async def _existing(self, client: Any, validation: Validation, skip: Any) -> ExistingKeys | None:
        if (
            self.spec.name not in LIST_PATHS
            or self.options.mode != "upsert"
            or self.options.strategy != "auto"
        ):
            return None
        path, records_key, key_field = LIST_PATHS[self.spec.name]
        existing = await discover_existing(
            client, path, records_key, key_field, expected_rows=self.plan.rows_to_send
        )
        self.plan.lookup_requests = existing.requests_used
        self.plan.notes.append(existing.describe())
        return existing

    def _estimate(self, existing: ExistingKeys | None) -> None:
        n = self.plan.rows_to_send
        if self.options.mode == "delete":
            self.plan.deletes = n
            self.plan.requests_estimate = n
        elif self.options.mode == "insert" or self.spec.name == "events":
            self.plan.creates = n
            self.plan.requests_estimate = n
        elif self.options.mode == "update" or self.spec.name == "preferences":
            self.plan.updates = n
            self.plan.requests_estimate = n
        elif existing is not None and existing.complete:
            self.plan.requests_estimate = n + existing.per_row_lookup_cost(n)
        else:
            self.plan.requests_estimate = math.ceil(
                n * 1.5
            )  # put-first/post-first: worst case half fall back
        self.plan.requests_estimate += self.plan.lookup_requests

    async def _rows(
        self, validation: Validation, skip: Any, client: Any, existing: ExistingKeys | None
    ) -> AsyncIterator[ValidatedRow]:
        lookup = existing is not None and existing.method == "lookup"
        for batch in validation.batches(LOOKUP_CHUNK if lookup else 2000):
            invalid = [r for r in batch if not r.valid and r.row not in skip]
            if invalid:
                self._record(invalid_outcomes(invalid))
                self._report_invalid(invalid)
            todo = [row for row in batch if row.valid and row.row not in skip]
            if lookup and existing is not None and todo:
                path, records_key, key_field = LIST_PATHS[self.spec.name]
                keys = [str(r.key) for r in todo]
                found, _ = await lookup_keys(client, path, records_key, key_field, keys)
                existing.answers.update({k: k in found for k in keys if filter_safe(k)})
            for row in todo:
                yield row
            await asyncio.sleep(0)

    async def _send_all(
        self, client: Any, validation: Validation, sender: RowSender, skip: Any, existing: ExistingKeys | None
    ) -> tuple[str, str | None, Exception | None]:
        self.journal.set_status("running")
        self._errors = ErrorReport(
            self.journal.run_dir, validation.headers, redact=self.options.redact, append=True
        )
        self._success = SuccessReport(
            self.journal.run_dir, self.spec.key or "key", redact=self.options.redact, append=True
        )
        originals: dict[int, dict[str, str]] = {}

        async def handle(row: ValidatedRow) -> RowOutcome:
            originals[row.row] = row.original
            return await sender.send(row)

        def collect(outcomes: list[RowOutcome]) -> None:
            self._record(outcomes)
            for outcome in outcomes:
                original = originals.pop(outcome.row, {})
                if outcome.status == "succeeded":
                    self._success.add(outcome.row, outcome.key, outcome.op or "")
                else:
                    self._errors.add(
                        outcome.row, original, outcome.code or "", outcome.message or "", outcome.http_status
                    )
            if self.progress is not None:
                self.progress.advance(outcomes)

        pool: Pool[ValidatedRow, RowOutcome] = Pool(handle, collect, workers=self.options.workers)
        watcher = asyncio.create_task(self._watch_stop(pool))
        try:
            await pool.run(self._rows(validation, skip, client, existing))
        except (QuotaExhausted, FatalApiError) as exc:
            pool.request_stop(exc)
        finally:
            watcher.cancel()
            self._errors.close()
            self._success.close()
        cause = pool.stop_cause
        if cause is None:
            return "completed", None, None
        if isinstance(cause, QuotaExhausted):
            return "paused", "quota", cause
        if isinstance(cause, Interrupted):
            return "paused", "interrupted", cause
        if isinstance(cause, FatalApiError):
            return "paused", "fatal-api-error", cause
        return "aborted", type(cause).__name__, cause if isinstance(cause, Exception) else None

    async def _watch_stop(self, pool: Pool[Any, Any]) -> None:
        await self.stop_event.wait()
        pool.request_stop(
            Interrupted("interrupted: in-flight requests were finished and the journal flushed")
        )

    def _record(self, outcomes: Iterable[RowOutcome]) -> None:
        self.journal.record(outcomes)

    def _report_invalid(self, rows: list[ValidatedRow]) -> None:
        for row in rows:
            first = row.issues[0]
            self._errors.add(
                row.row, row.original, first.code, "; ".join(_issue_text(i) for i in row.issues), None
            )

    def _record_invalid_only(self, validation: Validation) -> None:
        for batch in validation.batches():
            self._record(invalid_outcomes([r for r in batch if not r.valid]))

    def _absorb_stats(self, client: Any) -> None:
        stats = client.stats
        self.journal.add_counters(
            requests=stats.requests, responses_429=stats.responses_429, retries=stats.retries
        )

    def finish(self, validation: Validation, *, status: str, reason: str | None) -> dict[str, Any]:
        self.journal.set_status(status, reason=reason)
        rebuild_reports(
            self.journal,
            ((r.row, r.original) for batch in validation.batches() for r in batch),
            validation.headers,
            key_name=self.spec.key or "key",
            redact=self.options.redact,
            xlsx=self.input_path.suffix.lower() == ".xlsx",
        )
        counts = self.journal.counts()
        counters = self.journal.counters()
        rows_total = self.plan.rows_total
        summary: dict[str, Any] = {
            "entity": self.spec.name,
            "input": str(self.input_path),
            "run_dir": str(self.journal.run_dir),
            "status": status,
            "reason": reason,
            "mode": self.options.mode,
            "strategy": self.options.strategy if self.options.mode == "upsert" else None,
            "rows_total": rows_total,
            "rows_invalid": counts.get("invalid", 0),
            "rows_succeeded": counts.get("succeeded", 0),
            "rows_failed": counts.get("failed", 0),
            "rows_uncertain": counts.get("uncertain", 0),
            "rows_pending": max(0, rows_total - sum(counts.values())),
            "operations": self.journal.operation_counts(),
            "requests": counters.get("requests", 0),
            "responses_429": counters.get("responses_429", 0),
            "retries": counters.get("retries", 0),
            "requests_per_row": round(
                counters.get("requests", 0)
                / max(1, counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("uncertain", 0)),
                4,
            ),
            "started_at": self.journal.started_at(),
            "finished_at": _iso(time.time()),
            "duration_seconds": round(time.time() - self.started, 3),
        }
        write_summary(self.journal.run_dir, summary)
        return summary


def invalid_outcomes(rows: Iterable[ValidatedRow]) -> list[RowOutcome]:
    out = []
    for row in rows:
        first = row.issues[0]
        out.append(
            RowOutcome(
                row=row.row,
                status="invalid",
                op=None,
                key=row.key,
                code=first.code,
                message="; ".join(_issue_text(i) for i in row.issues),
                http_status=None,
                transient=False,
            )
        )
    return out


def _issue_text(issue: Any) -> str:
    return f"{issue.column}: {issue.message}" if issue.column else issue.message


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
