"""`batchgs optout`: turn preferences off for a list of people, with a receipt that proves it.

A run has three steps, each its own event loop so that the confirmation prompt never blocks one:
`prepare` (read the list, prove the key, resolve emails: reads only) → the caller confirms the plan
and `commit_plan` saves it in the journal → `execute` opts every planned user out through the
worker pool (read before, write what is on, read back; see optout_user) and `finish` writes
receipt.csv, receipt.json, pending.csv and summary.json. `dry_run` replaces the last two steps and
writes nothing anywhere.

Journal rows are plan targets (see optout_plan): a target is recorded once PX definitively
answered; before its first write a user is marked in flight with the before-state, so resume — after
Ctrl-C, a full quota, a refused key or kill -9 — finishes each user exactly as an uninterrupted run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs.engine.intents import IntentLog
from batchgs.engine.optout.actions import OptOutOptions, UserState
from batchgs.engine.optout.input import OptOutInput, read_input
from batchgs.engine.optout.plan import (
    OptOutPlan,
    Target,
    build_plan,
    count_people,
    count_records,
    load_plan,
    save_plan,
)
from batchgs.engine.optout.receipt import people_fields, write_receipt_files
from batchgs.engine.optout.resolve import resolve_emails
from batchgs.engine.optout.user import IN_FLIGHT, OneUser, UserResult, from_outcome, to_outcome
from batchgs.engine.pool import Pool
from batchgs.engine.preflight import preflight
from batchgs.engine.progress import Progress
from batchgs.errors import FatalApiError, Interrupted, QuotaExhausted
from batchgs.reports.summary import build_summary, write_summary
from batchgs.run.journal import Journal, RowOutcome

ENTITY = "optout"
FINAL_FOR_PLAN = {
    "invalid": ("invalid", ""),
    "not-found": ("not-found", "not-found"),
    "unsearchable": ("failed", "unsearchable"),
}


@dataclass
class OptOutControl:
    """Per-segment choices, not part of the run's identity."""

    dry_run: bool = False
    retry_failed: bool = False
    progress: bool = True
    rate: float = 190.0


@dataclass
class DryRunReport:
    plan: OptOutPlan
    results: dict[int, UserResult] = field(default_factory=dict)  # target number -> would-opt-out/...

    def as_dict(self, options: OptOutOptions) -> dict[str, Any]:
        """People per status (as the receipt will count them), rows and PX user records as secondary
        figures."""
        status_of = self._statuses()
        statuses = count_people(self.plan, status_of)
        records = count_records(self.plan, status_of)
        changes = Counter(name for r in self.results.values() for name in r.changed)
        people = [
            {
                "row": t.row,
                "identifyId": t.identify_id,
                "email": t.email,
                "status": r.status,
                "changes": list(r.changed),
            }
            for t in self.plan.of_kind("user")
            if (r := self.results.get(t.number)) is not None
        ]
        return {
            "dry_run": True,
            "rows": self.plan.rows_total,
            "people": sum(statuses.values()),
            "would_change": options.describe(),
            "statuses": dict(statuses),
            "records": dict(records),  # PX user records per status, as in summary.json
            "changes": {
                name: changes.get(name, 0)
                for name in [*options.only, "denylist", "unsubscribe"]
                if changes.get(name) or name in options.only
            },
            "details": people,
        }

    def _statuses(self) -> dict[int, str]:
        """target number -> status: final kinds as the receipt will say, users as the dry run found
        them, a duplicate as its primary."""
        found = {t.number: r.status for t in self.plan.of_kind("user") if (r := self.results.get(t.number))}
        out: dict[int, str] = {}
        for target in self.plan.targets:
            if target.kind in FINAL_FOR_PLAN:
                out[target.number] = FINAL_FOR_PLAN[target.kind][0]
            elif (status := found.get(target.number) or found.get(target.primary)) is not None:
                out[target.number] = status
        return out


class MarkLog(IntentLog):
    """In-flight marks of users about to be written; concurrent marks share one journal commit."""

    async def mark_user(self, target: Target, before: UserState) -> None:
        result = UserResult(
            IN_FLIGHT, before, code=IN_FLIGHT, message="stopped while this user was being written"
        )
        await self.mark_outcome(to_outcome(target.number, target.identify_id, result))


class OptOutEngine:
    """One opt-out run (or one resumed segment of it). `client_factory()` gives an `async with` client."""

    def __init__(
        self,
        *,
        input_path: Path,
        options: OptOutOptions,
        journal: Journal | None,
        client_factory: Callable[[], Any],
        control: OptOutControl | None = None,
    ) -> None:
        self.input_path = input_path
        self.options = options
        self.journal = journal
        self.client_factory = client_factory
        self.control = control or OptOutControl()
        self.input: OptOutInput | None = None
        self._counted: dict[str, int] = {}
        self._stats: Any = None

    # ------------------------------------------------------------------------------ step 1: plan
    async def prepare(self, stop: asyncio.Event | None = None) -> OptOutPlan:
        """The saved plan of a resumed run, or a new one (reads only: key check, email lookups)."""
        async with self.client_factory() as client:
            self._watch(client.stats)
            try:
                await preflight(client)
                saved = load_plan(self.journal) if self.journal is not None else None
                if saved is not None:
                    return saved
                if self.input is None:
                    self.input = read_input(self.input_path, sheet=self.options.sheet)
                emails = [r.email for r in self.input.rows if r.valid and not r.identify_id]
                resolution = await resolve_emails(client, emails, stop_event=stop)
                return build_plan(self.input.rows, resolution, blank_rows=self.input.blank_rows)
            finally:
                self._count_requests()

    def commit_plan(self, plan: OptOutPlan) -> None:
        """Save a confirmed plan; targets that need no request (invalid, not found) are final now."""
        journal = self._journal()
        save_plan(journal, plan)
        outcomes = []
        for target in plan.targets:
            if target.kind in FINAL_FOR_PLAN:
                status, code = FINAL_FOR_PLAN[target.kind]
                result = UserResult(status, code=target.code or code, message=target.note)
                outcomes.append(to_outcome(target.number, target.identify_id, result))
        journal.record(outcomes)

    # ------------------------------------------------------------------------------ dry run
    async def dry_run(self, plan: OptOutPlan, stop: asyncio.Event | None = None) -> DryRunReport:
        report = DryRunReport(plan)
        async with self.client_factory() as client:
            worker = OneUser(client, self.options, dry_run=True)

            async def handle(target: Target) -> tuple[Target, UserResult]:
                return target, await worker.opt_out(target.identify_id, saved_before=None, mark=None)

            def collect(done: list[tuple[Target, UserResult]]) -> None:
                report.results.update((t.number, r) for t, r in done)

            await self._pool(handle, collect, plan.of_kind("user"), stop)
        return report

    # ------------------------------------------------------------------------------ step 2: send
    async def execute(self, plan: OptOutPlan, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """Opt every user not yet done out; returns summary.json's content (plus `stop` when paused)."""
        journal = self._journal()
        journal.set_status("running")
        todo = self._todo(plan)
        async with self.client_factory() as client:
            self._watch(client.stats)
            worker = OneUser(client, self.options)
            marks = MarkLog(journal)
            progress = Progress(len(todo), enabled=self.control.progress, stats=client.stats, unit="user")
            saved = dict(todo)

            async def handle(target: Target) -> RowOutcome:
                async def mark(before: UserState) -> None:
                    await marks.mark_user(target, before)

                result = await worker.opt_out(target.identify_id, saved_before=saved[target], mark=mark)
                return to_outcome(target.number, target.identify_id, result)

            def collect(outcomes: list[RowOutcome]) -> None:
                journal.record(outcomes, counters=self._counter_delta())
                progress.advance(outcomes)

            try:
                cause = await self._pool(handle, collect, [t for t, _ in todo], stop)
            finally:
                progress.close()
                journal.record([], counters=self._counter_delta())
        self._record_duplicates(plan)
        if cause is None:
            return self.finish(plan, "completed", None)
        reason = {QuotaExhausted: "quota", Interrupted: "interrupted", FatalApiError: "fatal-api-error"}
        summary = self.finish(plan, "paused", reason.get(type(cause), type(cause).__name__))
        summary["stop"] = cause
        return summary

    def _todo(self, plan: OptOutPlan) -> list[tuple[Target, UserState | None]]:
        """Users without a final answer: never seen, marked in flight, or (asked) failed transiently."""
        journal = self._journal()
        outcomes = {o.row: o for o in journal.iter_outcomes()}
        todo: list[tuple[Target, UserState | None]] = []
        for target in plan.of_kind("user"):
            outcome = outcomes.get(target.number)
            if outcome is None:
                todo.append((target, None))
            elif outcome.op == IN_FLIGHT or (
                outcome.status == "failed" and outcome.transient and self.control.retry_failed
            ):
                todo.append((target, from_outcome(outcome).before))
        return todo

    async def _pool(
        self, handle: Any, collect: Any, items: list[Target], stop: asyncio.Event | None
    ) -> BaseException | None:
        pool: Pool[Target, Any] = Pool(handle, collect, workers=self.options.workers)

        async def feed() -> Any:
            for item in items:
                yield item

        async def watch() -> None:
            assert stop is not None
            await stop.wait()
            pool.request_stop(
                Interrupted("interrupted: requests in flight were finished and the journal saved")
            )

        watcher = asyncio.create_task(watch()) if stop is not None else None
        try:
            await pool.run(feed())
        finally:
            if watcher is not None:
                watcher.cancel()
        return pool.stop_cause

    def _record_duplicates(self, plan: OptOutPlan) -> None:
        """A duplicate copies its primary's final result (with its own note)."""
        journal = self._journal()
        copies = []
        for target in plan.of_kind("duplicate"):
            primary = journal.get_outcome(target.primary)
            if primary is None or primary.op == IN_FLIGHT:
                continue
            if primary.status == "failed" and primary.transient:
                continue  # not final yet: resume --retry-failed may still change it
            result = from_outcome(primary)
            copies.append(to_outcome(target.number, target.identify_id, result))
        if copies:
            journal.record(copies)

    # ------------------------------------------------------------------------------ ending
    def finish(self, plan: OptOutPlan, status: str, reason: str | None) -> dict[str, Any]:
        journal = self._journal()
        journal.set_status(status, reason=reason)  # type: ignore[arg-type]
        receipt = write_receipt_files(journal, plan, self.options)
        summary = build_summary(journal, rows_total=len(plan.targets))
        summary.update(people_fields(receipt.tally, summary))
        summary.update(
            {
                "receipt_csv": str(receipt.receipt_csv),
                "pending_csv": str(receipt.pending_csv) if receipt.pending_csv else None,
                "changes": self.options.describe(),
            }
        )
        write_summary(journal.run_dir, summary)
        return summary

    def _journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("this step needs a run folder (only --dry-run runs without one)")
        return self.journal

    def _watch(self, stats: Any) -> None:
        """Count this client's requests from here on (each segment step may bring a new client)."""
        if stats is not self._stats:
            self._stats, self._counted = stats, {}

    def _count_requests(self) -> None:
        if self.journal is not None:
            delta = self._counter_delta()
            if delta:
                self.journal.add_counters(**delta)

    def _counter_delta(self) -> dict[str, int]:
        stats = self._stats
        if stats is None:
            return {}
        now = {"requests": stats.requests, "responses_429": stats.responses_429, "retries": stats.retries}
        delta = {k: v - self._counted.get(k, 0) for k, v in now.items()}
        self._counted = now
        return {k: v for k, v in delta.items() if v}
