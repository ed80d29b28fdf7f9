"""`batchgs import` for PX entities: plan, send through the pool, journal every answer, report.

Order of a run: validate the file (file-level problems were already refused by the CLI) → `--strict`
stops on any invalid row (exit 3) → a cheap authenticated GET proves key and region → for `auto`, learn
which keys exist → the plan (confirmation for deletes, `--dry-run` stops here) → stream the valid rows
not yet done through the worker pool → journal + reports + summary.json.

Sending, stopping, the journal and the reports are the shared run loop's (engine.imports.run_loop);
this module plans the run and says how a PX row is sent (`PxRowSender`: one row, one request).
"""

from __future__ import annotations

import asyncio
import math
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchgs.engine.imports.before_state import BACKUP_MODES, BeforeState, date_fields, wants_before_state
from batchgs.engine.imports.current_records import COLLECTIONS, plan_reads
from batchgs.engine.imports.existing_keys import (
    LOOKUP_CHUNK,
    ExistingKeys,
    discover_existing,
    lookup_keys,
)
from batchgs.engine.imports.row_sender import RowSender, SendOptions
from batchgs.engine.imports.run_loop import ImportLoop, ReportSetup, RunEnd, SendUnit
from batchgs.engine.preflight import preflight
from batchgs.engine.px_requests import Client, filter_safe
from batchgs.engine.threads import to_thread
from batchgs.entities.spec import EntitySpec
from batchgs.io.rows import ValidatedRow
from batchgs.io.validate.attributes import AttributeCatalog
from batchgs.io.validate.file import ValidateOptions, Validation, prepare
from batchgs.reports.changes import write_changes, write_plan_summary
from batchgs.run.before_images import BeforeImages
from batchgs.run.journal import Journal
from batchgs.run.outcomes import RowOutcome
from batchgs.run.rowset import RowSet
from batchgs.transport.result import BeforeSend

LIST_PATHS = {"users": ("/v1/users", "users", "identifyId"), "accounts": ("/v1/accounts", "accounts", "id")}
PX_IMPORT_ENTITIES = ("users", "accounts", "events", "preferences")
SEND_BATCH = 2_000  # rows validated at a time while sending: bounds memory, keeps the queue fed
RATE_EFFICIENCY = 0.95  # share of --rate a run achieves in practice (for the ETA only)


@dataclass
class ImportOptions:
    """Everything that decides what a run sends; saved in the journal so `resume` repeats it exactly."""

    entity: str
    mode: str = "upsert"
    strategy: str = "auto"
    hard_delete: bool = False
    strict: bool = False
    strict_warnings: bool = False  # warnings (guesses such as lost leading zeros) refuse the row
    workers: int = 64
    timezone: str = "UTC"
    date_format: str | None = None
    product_key: str | None = None
    mapping_file: str | None = None
    extra_columns: str = "refuse"  # events: "attributes" sends unknown columns as event attributes
    sheet: str | None = None
    redact: bool = False
    base_url: str | None = None  # where the run sends: a resume goes to the same place
    changed_only: bool = False  # users/accounts: send only rows that create or change a field
    backup: bool = True  # users/accounts: keep before-images for `batchgs undo`

    def validate_options(self, attributes: AttributeCatalog | None = None) -> ValidateOptions:
        return ValidateOptions(
            mode=self.mode,
            timezone=self.timezone,
            date_format=self.date_format,
            product_key=self.product_key,
            mapping_file=Path(self.mapping_file) if self.mapping_file else None,
            extra_columns=self.extra_columns,
            sheet=self.sheet,
            strict_warnings=self.strict_warnings,
            attributes=attributes,
        )

    def to_journal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_journal(cls, data: dict[str, Any]) -> ImportOptions:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunControl:
    """Per-segment choices that are not part of the run's identity (they may differ on resume)."""

    dry_run: bool = False
    retry_failed: bool = False  # resume: re-send rows that failed for transient reasons
    resend_uncertain: bool = False  # resume: re-send non-idempotent rows whose outcome is unknown
    progress: bool = True
    quota_left: int | None = None  # from the ledger, for the plan's quota share
    daily_limit: int | None = None
    rate: float = 190.0


@dataclass
class ImportPlan:
    """What a run would do: printed by `--dry-run`, used for confirmations and the quota preflight."""

    rows_total: int = 0
    rows_invalid: int | None = None  # None: not counted before sending (only --strict/--dry-run/delete)
    rows_done_before: int = 0
    rows_to_send: int = 0
    creates: int | None = None
    updates: int | None = None
    deletes: int | None = None
    unchanged: int | None = None  # --changed-only: rows already as the file says (no request)
    read_method: str | None = None  # how current records are read: lookup | scroll
    requests_estimate: int = 0
    lookup_requests: int = 0
    quota_left: int | None = None
    eta_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Confirm = Callable[[ImportPlan], None]


class Importer:
    """One import (or one resumed segment of it). The CLI builds it; `run()` is the whole job."""

    def __init__(
        self,
        *,
        spec: EntitySpec,
        input_path: Path,
        options: ImportOptions,
        journal: Journal | None,
        client_factory: Callable[[], AbstractAsyncContextManager[Client]],
        control: RunControl | None = None,
        attributes: AttributeCatalog | None = None,
        stop_event: asyncio.Event | None = None,
        plan_dir: Path | None = None,
    ) -> None:
        if spec.name not in PX_IMPORT_ENTITIES:
            raise ValueError(f"{spec.name!r} is not a PX import entity")
        self.spec = spec
        self.input_path = input_path
        self.options = options
        self.journal = journal
        self.client_factory = client_factory
        self.control = control or RunControl()
        self.attributes = attributes
        self.plan = ImportPlan()
        self.plan_dir = plan_dir  # a --changed-only dry run leaves changes.csv here
        self._state_store: BeforeImages | None = None
        self.loop = ImportLoop(
            journal,
            ReportSetup.for_input(input_path, spec.key or "key", redact=options.redact),
            stop_event=stop_event,
            progress=self.control.progress,
        )

    # ------------------------------------------------------------------------------------- the job
    async def run(self, confirm: Confirm | None = None) -> dict[str, Any]:
        """Send the file; returns summary.json's content (or `{"plan": ...}` for a dry run)."""
        with prepare(
            self.input_path, self.spec, self.options.validate_options(self.attributes)
        ) as validation:
            skip = self.loop.rows_to_skip(
                retry_failed=self.control.retry_failed, resend_uncertain=self.control.resend_uncertain
            )
            self.plan.rows_total = validation.row_count()
            self.loop.set_rows_total(self.plan.rows_total)
            self.plan.rows_done_before = len(skip)
            if self.options.strict or self.control.dry_run or self.options.mode == "delete":
                invalid = self._count_invalid(validation, skip)
                self.plan.rows_invalid = invalid
                if self.options.strict and invalid and not self.control.dry_run:
                    self.loop.abort_strict(
                        validation,
                        validation.invalid_rows(),
                        invalid=invalid,
                        rows_total=self.plan.rows_total,
                    )
            self.plan.rows_to_send = max(0, self.plan.rows_total - len(skip) - (self.plan.rows_invalid or 0))
            async with self.client_factory() as client:
                await preflight(client)
                state = self._open_before_state()
                if state is not None:
                    return await self._run_with_state(client, validation, skip, state, confirm)
                if self.control.dry_run:
                    await self._note_backup_reads(client)
                existing = await self._existing(client)
                if self.control.dry_run and existing is not None and existing.method == "lookup":
                    await self._lookup_all(client, validation, skip, existing)
                self._estimate(existing, validation, skip)
                if self.control.dry_run:
                    return {"plan": self.plan.as_dict()}
                if confirm is not None:
                    confirm(self.plan)
                end = await self._send_all(client, validation, skip, existing)
            return self._finish(validation, end)

    # ------------------------------------------------------------------------- before-state runs
    def _open_before_state(self) -> BeforeState | None:
        """Users/accounts runs that keep before-images or compare with Gainsight (--changed-only)."""
        if not wants_before_state(self.spec.name, self.options):
            return None
        if self.journal is None and not self.options.changed_only:  # a plain dry run: estimate only
            return None
        if self.journal is not None:
            folder = self.journal.run_dir
        elif self.plan_dir is not None:  # a dry run's reads go to a scratch store; changes.csv is left
            folder = self.plan_dir / ".plan-images"
        else:
            raise RuntimeError("a --changed-only dry run needs a folder for changes.csv")
        store = BeforeImages.create(folder, entity=self.spec.name, key_field=self.spec.key or "")
        self._state_store = store
        return BeforeState(
            self.spec.name,
            store,
            mode=self.options.mode,
            changed_only=self.options.changed_only,
            read=self.options.mode in BACKUP_MODES,
        )

    async def _note_backup_reads(self, client: Client) -> None:
        """A plain dry run that a real run would back up: what the before-images cost, read the cheaper
        way (the probe the run itself would make)."""
        mode, strategy = self.options.mode, self.options.strategy
        collection = COLLECTIONS.get(self.spec.name)
        if (
            collection is None
            or not self.options.backup
            or mode not in BACKUP_MODES
            or (mode, strategy) == ("upsert", "auto")  # auto reads the records anyway
        ):
            return
        reads = await plan_reads(client, collection, self.plan.rows_to_send)
        self.plan.lookup_requests += reads.requests
        self.plan.notes.append(
            f"before-images for undo: {reads.describe(self.spec.name)} (--no-backup skips them)"
        )

    async def _run_with_state(
        self,
        client: Client,
        validation: Validation,
        skip: RowSet,
        state: BeforeState,
        confirm: Confirm | None,
    ) -> dict[str, Any]:
        try:
            read_plan = await state.prepare(client, self.plan.rows_to_send)
            if read_plan is not None:
                self.plan.read_method = read_plan.method
                self.plan.lookup_requests = read_plan.requests
                self.plan.notes.append(read_plan.describe(self.spec.name))
                if read_plan.method == "scroll":
                    await state.read_everything(client, self._valid_keys(validation, skip))
            if self.control.dry_run:
                return await self._plan_changes(client, validation, skip, state)
            self._estimate_with_state(state)
            if confirm is not None:
                confirm(self.plan)
            end = await self._send_all(client, validation, skip, None, state)
            return self._finish(validation, end)
        finally:
            self._close_state()

    def _close_state(self) -> None:
        store, self._state_store = self._state_store, None
        if store is None:
            return
        store.close()
        if self.journal is None:  # the dry run's scratch store is no backup of anything
            shutil.rmtree(store.path.parent, ignore_errors=True)

    def _write_changes(self, run_dir: Path, store: BeforeImages) -> dict[str, Any]:
        """changes.csv (+ .xlsx for a workbook input) from the stored diff; the tally for the summary."""
        tally = write_changes(
            run_dir,
            store.iter_changes(),
            date_fields=date_fields(self.spec, self.attributes),
            xlsx=self.input_path.suffix.lower() == ".xlsx",
            redact=self.options.redact,
        )
        return tally.as_dict()

    def _valid_keys(self, validation: Validation, skip: RowSet) -> list[str]:
        return [key for row, key in validation.valid_keys() if row not in skip]

    async def _plan_changes(
        self, client: Client, validation: Validation, skip: RowSet, state: BeforeState
    ) -> dict[str, Any]:
        """`--changed-only --dry-run`: read and diff every row, write changes.csv, send nothing."""
        plan = self.plan
        rows = (
            [r for r in batch if r.valid and r.row not in skip] for batch in validation.batches(SEND_BATCH)
        )
        plan.creates, plan.updates, plan.unchanged = await state.count_changes(client, rows)
        plan.rows_to_send = plan.creates + plan.updates
        self._estimate_with_state(state)
        assert self.plan_dir is not None
        tally = self._write_changes(self.plan_dir, state.store)
        planned = {**plan.as_dict(), **tally}
        write_plan_summary(self.plan_dir, command="import", entity=self.spec.name, plan=planned)
        return {"plan": planned, "run_dir": str(self.plan_dir)}

    def _count_invalid(self, validation: Validation, skip: RowSet) -> int:
        return sum(1 for row in validation.invalid_rows() if row.row not in skip)

    async def _existing(self, client: Client) -> ExistingKeys | None:
        """The `auto` strategy's knowledge of which keys exist (None when not upserting with auto)."""
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

    async def _lookup_all(
        self, client: Client, validation: Validation, skip: RowSet, existing: ExistingKeys
    ) -> None:
        """Dry run of a lookup-mode upsert: ask every key, so the plan can say creates vs updates."""
        path, records_key, key_field = LIST_PATHS[self.spec.name]
        for batch in validation.batches(SEND_BATCH):
            keys = [str(r.key) for r in batch if r.valid and r.row not in skip]
            found, used = await lookup_keys(client, path, records_key, key_field, keys)
            existing.keys.update(found)
            existing.requests_used += used
        existing.complete = True

    def _estimate(self, existing: ExistingKeys | None, validation: Validation, skip: RowSet) -> None:
        plan, mode, n = self.plan, self.options.mode, self.plan.rows_to_send
        if mode == "delete":
            plan.deletes, plan.requests_estimate = n, n
        elif mode == "insert" or self.spec.name == "events":
            plan.creates, plan.requests_estimate = n, n
        elif mode == "update" or self.spec.name == "preferences":
            plan.updates, plan.requests_estimate = n, n
        elif existing is not None and existing.complete:
            if self.control.dry_run:
                keys = (
                    str(r.key)
                    for b in validation.batches(SEND_BATCH)
                    for r in b
                    if r.valid and r.row not in skip
                )
                plan.updates = sum(1 for k in keys if k in existing.keys)
                plan.creates = n - plan.updates
            plan.requests_estimate = n
        elif existing is not None:
            plan.requests_estimate = n + existing.per_row_lookup_cost(n)
        else:
            plan.requests_estimate = math.ceil(n * 1.5)  # put-first/post-first: up to half fall back
            plan.notes.append(f"{self.options.strategy}: a row costs 1 request, or 2 when it falls back")
        self._close_estimate()

    def _estimate_with_state(self, state: BeforeState) -> None:
        """The plan of a run that reads the before-state: writes, plus the reads it costs."""
        plan, mode = self.plan, self.options.mode
        n = plan.rows_to_send
        if plan.unchanged is not None:  # a --changed-only dry run counted creates and updates
            plan.requests_estimate = n
        elif mode == "delete":
            plan.deletes, plan.requests_estimate = n, n
        elif mode == "insert":
            plan.creates, plan.requests_estimate = n, n
        elif mode == "update":
            plan.updates, plan.requests_estimate = n, n
        elif self.options.strategy == "auto":
            plan.requests_estimate = n
        else:
            plan.requests_estimate = math.ceil(n * 1.5)
        if self.options.changed_only and plan.unchanged is None:
            plan.notes.append("--changed-only: rows that change nothing will cost no request")
        elif (
            not self.options.changed_only
            and state.plan is not None
            and (mode != "upsert" or self.options.strategy != "auto")
        ):
            plan.notes.append(
                f"before-images for undo: {state.plan.requests:,} extra read requests "
                "(--no-backup skips them)"
            )
        self._close_estimate()

    def _close_estimate(self) -> None:
        plan = self.plan
        plan.requests_estimate += 1 + plan.lookup_requests
        plan.quota_left = self.control.quota_left
        plan.eta_seconds = round(plan.requests_estimate / (self.control.rate * RATE_EFFICIENCY), 1)
        if plan.quota_left is not None and plan.requests_estimate > plan.quota_left:
            plan.notes.append(
                f"about {plan.requests_estimate:,} requests needed but {plan.quota_left:,} left in the "
                "rolling 24 hours: the run will pause when they run out (or wait, with --wait-for-quota)"
            )

    # ------------------------------------------------------------------------------------- sending
    async def _send_all(
        self,
        client: Client,
        validation: Validation,
        skip: RowSet,
        existing: ExistingKeys | None,
        state: BeforeState | None = None,
    ) -> RunEnd:
        if existing is not None:
            known_existing = existing.lookup
        elif state is not None and self.options.strategy == "auto":
            known_existing = state.exists
        else:
            known_existing = None
        o = self.options
        rows = RowSender(
            client,
            SendOptions(self.spec.name, o.mode, o.strategy, o.hard_delete),
            known_existing=known_existing,
        )
        return await self.loop.send(
            client,
            validation,
            self._rows(validation, skip, client, existing, state),
            PxRowSender(rows, idempotent=self.spec.idempotent),
            workers=self.options.workers,
            rows_left=max(0, self.plan.rows_total - self.plan.rows_done_before),
        )

    async def _rows(
        self,
        validation: Validation,
        skip: RowSet,
        client: Client,
        existing: ExistingKeys | None,
        state: BeforeState | None,
    ) -> AsyncIterator[list[ValidatedRow]]:
        """Rows not yet done, in file order; with lookup, the batch's keys are asked first; with a
        before-state, rows that change nothing are settled without a request (`--changed-only`)."""
        lookup = existing is not None and existing.method == "lookup"
        batches = validation.batches(LOOKUP_CHUNK if lookup else SEND_BATCH)
        while not self.loop.stop_event.is_set():
            # validating a batch is CPU work: in a worker thread, the event loop keeps the requests of
            # the rows already queued moving meanwhile
            batch = await to_thread(next, batches, None)
            if batch is None:
                return
            invalid = [row for row in batch if not row.valid and row.row not in skip]
            todo = [row for row in batch if row.valid and row.row not in skip]
            if lookup and existing is not None and todo:
                path, records_key, key_field = LIST_PATHS[self.spec.name]
                keys = [str(r.key) for r in todo]
                found, _ = await lookup_keys(client, path, records_key, key_field, keys)
                existing.answers.update({k: k in found for k in keys if filter_safe(k)})
            if state is not None and todo:
                admitted = await state.admit(client, todo)
                todo = admitted.to_send
                if admitted.unchanged:
                    self.loop.settle(admitted.unchanged)  # answered without a request: as the file says
            yield invalid + todo

    # ------------------------------------------------------------------------------------- ending
    def _finish(self, validation: Validation, end: RunEnd) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "mode": self.options.mode,
            "strategy": self.options.strategy if self.options.mode == "upsert" else None,
            "notes": self.plan.notes,
        }
        if self._state_store is not None:
            extra["before_images"] = True
            if self.options.changed_only:
                extra["changed_only"] = True
                extra["rows_unchanged"] = self.loop.journal.operation_counts().get("unchanged", 0)
                extra.update(self._write_changes(self.loop.journal.run_dir, self._state_store))
        return self.loop.finish(validation, end, rows_total=self.plan.rows_total, extra=extra)


class PxRowSender:
    """The PX kind of the run loop: every row is one request (plus a fallback, for upserts)."""

    def __init__(self, rows: RowSender, *, idempotent: bool) -> None:
        self.rows = rows
        self.idempotent = idempotent

    async def units(self, rows: AsyncIterator[ValidatedRow]) -> AsyncIterator[SendUnit]:
        async for row in rows:
            yield SendUnit((row,), idempotent=self.idempotent)

    async def send(self, unit: SendUnit, before_send: BeforeSend | None) -> list[RowOutcome]:
        return [await self.rows.send(unit.rows[0], before_send)]
