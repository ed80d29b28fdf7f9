"""`batchgs undo RUN_DIR`: take back a users/accounts import from the before-images it kept.

An undo is a run of its own (kind `undo`, its own folder, journal and reports) and resumable like an
import. Its units (see undo_plan) are stored in its folder's `before_images.sqlite3` when it starts, so
a resume repeats the same plan; every segment reads the records as they are NOW (one list pass, or
filtered lookups when few) and judges each unit again, so a unit whose request landed just before a
crash is recognised as done and never sent twice, and an edit made meanwhile is a conflict.
Requests: about one per record to take back, plus the reads; nothing per row beyond that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from batchgs.engine.imports.current_records import COLLECTIONS, Collection, lookup, plan_reads, read_all
from batchgs.engine.imports.diff import unflatten
from batchgs.engine.imports.row_sender import RowSender, SendOptions
from batchgs.engine.imports.run_loop import Drive, RunEnd
from batchgs.engine.imports.undo_plan import Judgement, UndoUnit, change_lines, judge, plan_units
from batchgs.engine.preflight import preflight
from batchgs.engine.progress import Progress
from batchgs.engine.px_requests import Client
from batchgs.entities.spec import EntitySpec
from batchgs.errors import UsageError
from batchgs.io.rows import ValidatedRow
from batchgs.reports.changes import write_changes, write_plan_summary
from batchgs.reports.row_reports import rebuild_reports
from batchgs.reports.summary import build_summary, write_summary
from batchgs.run.before_images import BeforeImages
from batchgs.run.journal import Journal, RowOutcome

UNDOABLE = ("users", "accounts")
REPORT_COLUMNS = ("key", "field", "before_run", "written_by_run", "now")
SEND_OP = {"update": "update", "delete": "delete", "create": "insert"}
Record = dict[str, Any]
Confirm = Callable[[int], None]


@dataclass
class UndoOptions:
    """What decides an undo; saved in its journal so a resume repeats it."""

    source_run: str
    entity: str
    workers: int = 32
    base_url: str | None = None

    def to_journal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_journal(cls, data: dict[str, Any]) -> UndoOptions:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def refuse_unless_undoable(run_dir: Path, kind: str, entity: str, store: BeforeImages | None) -> None:
    """Exit 2, with the reason, for what cannot be undone."""
    if kind == "optout":
        raise UsageError(
            f"{run_dir}: opt-outs are not undone, by design (turning preferences back on needs consent)"
        )
    if kind == "undo":
        raise UsageError(
            f"{run_dir}: is an undo run", hint="to redo the changes, import the original file again"
        )
    if kind != "import":
        raise UsageError(f"{run_dir}: a {kind} run changed nothing in Gainsight: nothing to undo")
    if entity in ("events", "cs-events"):
        raise UsageError(f"{run_dir}: {entity} are permanent in Gainsight: an events import cannot be undone")
    if entity not in UNDOABLE:
        raise UsageError(f"{run_dir}: undo takes back users and accounts imports only, not {entity}")
    if store is None:
        raise UsageError(
            f"{run_dir}: the run kept no before-images (it ran with --no-backup or before batchgs kept them)",
            hint="nothing can be restored from this run folder",
        )


class Undo:
    """One undo (or one resumed segment of it). `journal` None: the dry run (plan + changes.csv)."""

    def __init__(
        self,
        *,
        spec: EntitySpec,
        options: UndoOptions,
        store: BeforeImages,
        journal: Journal | None,
        client_factory: Callable[[], AbstractAsyncContextManager[Client]],
        plan_dir: Path,
        date_fields: frozenset[str] = frozenset(),
        progress: bool = True,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.options = options
        self.store = store
        self.journal = journal
        self.client_factory = client_factory
        self.plan_dir = plan_dir
        self.date_fields = date_fields
        self.progress = progress
        self.stop_event = stop_event or asyncio.Event()
        self.collection: Collection = COLLECTIONS[spec.name]
        self.counts: dict[str, int] = {"send": 0, "done": 0, "conflict": 0}

    # ------------------------------------------------------------------------------------- plan
    @staticmethod
    def store_plan(source: Journal, source_store: BeforeImages, spec: EntitySpec, store: BeforeImages) -> int:
        """Write the units into the undo's own store (once, when the undo starts). Returns their count."""
        count = 0
        batch: list[tuple[int, str, dict[str, Any]]] = []
        for unit in plan_units(source, source_store, spec):
            batch.append((unit.row, unit.key, unit.to_json()))
            count += 1
            if len(batch) >= 2000:
                store.add_batch(written=batch)
                batch = []
        store.add_batch(written=batch)
        store.set_meta("planned", "1")
        return count

    def units(self, skip: set[int]) -> Iterator[UndoUnit]:
        for row, key, data in self.store.iter_written():
            if row not in skip:
                yield UndoUnit.from_json(row, key, data)

    async def read_now(self, client: Client, keys: list[str]) -> dict[str, Record | None]:
        """The records as they are now, by the cheaper of a list pass and filtered lookups."""
        plan = await plan_reads(client, self.collection, len(keys))
        if plan.method == "lookup":
            found, _ = await lookup(client, self.collection, keys)
            return found
        now: dict[str, Record | None] = {}
        await read_all(
            client,
            self.collection,
            set(keys),
            lambda items: now.update(items),
            cursors=plan.cursors,
            expected=plan.total_hits,
        )
        return now

    # ------------------------------------------------------------------------------------- the job
    async def run(self, confirm: Confirm | None = None) -> dict[str, Any]:
        skip = set(self.journal.done_rows()) if self.journal is not None else set()
        units = list(self.units(skip))
        async with self.client_factory() as client:
            await preflight(client)
            now = await self.read_now(client, [u.key for u in units])
            self.store.add_images(now.items())  # the undo's own before-images
            judged = [(unit, judge(unit, now.get(unit.key))) for unit in units]
            self._store_changes(judged, now)
            for _, judgement in judged:
                self.counts[judgement.verdict] += 1
            if self.journal is None:
                planned = {"records": len(units), **self.counts, **self._write_changes()}
                write_plan_summary(self.plan_dir, command="undo", entity=self.spec.name, plan=planned)
                return {"plan": planned, "run_dir": str(self.plan_dir)}
            if confirm is not None:
                confirm(self.counts["send"])
            self._settle_without_requests(judged)
            to_send = [(u, j) for u, j in judged if j.verdict == "send"]
            end = await self._send(client, to_send)
        return self._finish(end)

    def _store_changes(self, judged: list[tuple[UndoUnit, Judgement]], now: dict[str, Record | None]) -> None:
        lines = [
            line
            for unit, judgement in judged
            if judgement.verdict == "send"
            for line in change_lines(unit, judgement, now.get(unit.key))
        ]
        details = [
            (unit.row, {"conflicts": judgement.conflicts})
            for unit, judgement in judged
            if judgement.conflicts
        ]
        self.store.add_batch(changes=lines)
        self.store.add_details(details)

    def _settle_without_requests(self, judged: list[tuple[UndoUnit, Judgement]]) -> None:
        """Units already undone, and conflicts: answered now, no request."""
        journal = self._journal()
        outcomes = []
        for unit, judgement in judged:
            if judgement.verdict == "done":
                outcomes.append(RowOutcome(unit.row, "succeeded", op="already-undone", key=unit.key))
            elif judgement.verdict == "conflict":
                outcomes.append(
                    RowOutcome(
                        unit.row,
                        "failed",
                        key=unit.key,
                        code="conflict",
                        message="changed since the run, left alone: " + conflict_text(judgement.conflicts),
                    )
                )
        journal.record(outcomes)

    async def _send(self, client: Client, to_send: list[tuple[UndoUnit, Judgement]]) -> RunEnd:
        journal = self._journal()
        journal.set_status("running")
        senders = {
            action: RowSender(client, SendOptions(self.spec.name, mode)) for action, mode in SEND_OP.items()
        }
        progress = Progress(len(to_send), enabled=self.progress, stats=client.stats)
        units = {unit.row: (unit, judgement) for unit, judgement in to_send}

        async def handle(unit: UndoUnit) -> list[RowOutcome]:
            return [await undo_one(unit)]

        async def undo_one(unit: UndoUnit) -> RowOutcome:
            judgement = units[unit.row][1]
            body = judgement.body
            sendable = {f: v for f, v in body.items() if not (v is None and f in self.date_fields)}
            uncleared = sorted(set(body) - set(sendable))
            if unit.action == "update" and not sendable:
                return cannot_clear(unit, uncleared)
            row = ValidatedRow(unit.row, {}, unflatten({**judgement.context, **sendable}), key=unit.key)
            outcome = await senders[unit.action].send(row)
            return cannot_clear(unit, uncleared) if uncleared and outcome.status == "succeeded" else outcome

        def record(outcomes: list[RowOutcome], counters: dict[str, int]) -> None:
            journal.record(outcomes, counters=counters)
            progress.advance(outcomes)

        async def items() -> AsyncIterator[UndoUnit]:
            for unit, _ in to_send:
                if self.stop_event.is_set():
                    return
                yield unit

        try:
            return await Drive[UndoUnit](self.stop_event, client.stats).run(
                items(), handle, record, workers=self.options.workers
            )
        finally:
            progress.close()

    # ------------------------------------------------------------------------------------- ending
    def _write_changes(self) -> dict[str, Any]:
        return write_changes(self.plan_dir, self.store.iter_changes(), date_fields=self.date_fields).as_dict()

    def _finish(self, end: RunEnd) -> dict[str, Any]:
        journal = self._journal()
        journal.set_status(end.status, reason=end.reason)
        details = self.store.details()
        rebuild_reports(
            journal,
            ((row, report_cells(key, details.get(row))) for row, key, _ in self.store.iter_written()),
            REPORT_COLUMNS,
            key_column=self.store.key_field or "key",
        )
        tally = self._write_changes()
        total = sum(1 for _ in self.store.iter_written())
        extra = {"source_run": self.options.source_run, "conflicts": journal_conflicts(journal), **tally}
        summary = build_summary(journal, rows_total=total, extra=extra)
        write_summary(journal.run_dir, summary)
        if end.stop is not None:
            summary["stop"] = end.stop
        return summary

    def _journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("this step needs the undo's run folder")
        return self.journal


def cannot_clear(unit: UndoUnit, fields: list[str]) -> RowOutcome:
    return RowOutcome(
        unit.row,
        "failed",
        key=unit.key,
        code="cannot-clear",
        message=f"{', '.join(fields)} was empty before the run; the API cannot empty a date: clear it in "
        "Gainsight (the other fields were restored)",
    )


def conflict_text(conflicts: list[tuple[str, Any, Any, Any]]) -> str:
    return "; ".join(
        f"{name}: before the run {_show(before)}, written by the run {_show(written)}, now {_show(now)}"
        for name, before, written, now in conflicts
    )


def report_cells(key: str, detail: dict[str, Any] | None) -> dict[str, str | None]:
    """errors.csv cells of an undo unit: the key, and for a conflict the three values per field."""
    cells: dict[str, str | None] = {"key": key}
    conflicts = (detail or {}).get("conflicts") or []
    for column, index in (("field", 0), ("before_run", 1), ("written_by_run", 2), ("now", 3)):
        cells[column] = " | ".join(_show(c[index]) if index else str(c[0]) for c in conflicts)
    return cells


def journal_conflicts(journal: Journal) -> int:
    return sum(1 for o in journal.iter_outcomes("failed") if o.code == "conflict")


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
