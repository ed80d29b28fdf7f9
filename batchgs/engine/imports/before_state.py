"""The state of the records a users/accounts run is about to touch, read before touching them.

One reading serves three needs: the before-images `batchgs undo` restores, the `--changed-only` diff
(rows that would change nothing are answered `unchanged` without a request), and the `auto` upsert's
knowledge of which keys exist (so it is never paid twice).

Per batch of rows, before any of them is sent, `admit` reads what is missing (lookup mode) and stores
in ONE transaction the images, the payloads the rows will send and their diff lines: a crash at any
moment leaves every acknowledged write with its before-image on disk. A resumed run keeps the images
of its first reading (they are the true "before"), so rows already written are never diffed against
their own writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from batchgs.engine.imports.current_records import (
    COLLECTIONS,
    ReadPlan,
    Record,
    lookup,
    plan_reads,
    read_all,
    read_preferences,
)
from batchgs.engine.imports.diff import changed_payload, diff_record, iter_lines
from batchgs.engine.threads import to_thread
from batchgs.entities.spec import ColumnType, EntitySpec
from batchgs.io.rows import ValidatedRow
from batchgs.io.validate.attributes import AttributeCatalog
from batchgs.run.before_images import BeforeImages, ChangeLine
from batchgs.run.journal import RowOutcome

BACKUP_MODES = ("upsert", "update", "delete")  # modes that change or remove existing records
CHANGED_ONLY_MODES = ("upsert", "update")
EMAIL_CASE = "email_case"  # meta: "kept" once a stored email with capitals was read


@dataclass
class Admitted:
    """A batch after the before-state check: rows to send, and rows already as the file says."""

    to_send: list[ValidatedRow] = field(default_factory=list)
    unchanged: list[RowOutcome] = field(default_factory=list)
    reads: int = 0


class BeforeState:
    """Reads and keeps the before-state of a run's records. `read` False: only the payloads are kept
    (inserts: what undo deletes needs no image)."""

    def __init__(
        self, entity: str, store: BeforeImages, *, mode: str, changed_only: bool, read: bool = True
    ) -> None:
        self.collection = COLLECTIONS.get(entity)  # None: preferences, read user by user
        self.opted_in_by_default = entity == "preferences"  # an unset preference (null) is true
        self.store = store
        self.mode = mode
        self.changed_only = changed_only
        self.read = read or changed_only
        self.plan: ReadPlan | None = None
        self._exists: dict[str, bool] = {}
        self.email_case_kept = store.meta(EMAIL_CASE) == "kept"

    def _keep(self, images: list[tuple[str, Record | None]]) -> None:
        """Store images as read; learn from them whether the API keeps the case of emails."""
        self._learn_email_case(images)
        self.store.add_images(images, synced=False)  # made durable by the batch that sends (add_batch)

    def _learn_email_case(self, images: list[tuple[str, Record | None]]) -> None:
        if not self.email_case_kept and any(_has_capitals(r) for _, r in images):
            self.email_case_kept = True
            self.store.set_meta(EMAIL_CASE, "kept")

    @property
    def key_field(self) -> str:
        return self.collection.key_field if self.collection is not None else "identifyId"

    async def prepare(self, client: Any, key_count: int) -> ReadPlan | None:
        """Choose how to read `key_count` keys (the plan shows it)."""
        if not self.read or self.store.complete:
            return None  # inserts read nothing; a resumed run may have read everything already
        if self.collection is None:
            self.plan = ReadPlan("get", key_count, 0, key_count)
            return self.plan
        self.plan = await plan_reads(client, self.collection, key_count)
        return self.plan

    async def read_everything(self, client: Any, keys: Iterable[str]) -> int:
        """Scroll mode: list the whole collection once and keep the file's records. Returns pages."""
        if (
            self.plan is None
            or self.plan.method != "scroll"
            or self.collection is None
            or self.store.complete
        ):
            return 0
        wanted = set(keys)
        stored: list[Future[int]] = []
        with ThreadPoolExecutor(1, thread_name_prefix="before-images") as writer:

            def keep(images: list[tuple[str, Record | None]]) -> None:
                """Pages are stored by one thread while the cursors read on (SQLite lets go of the GIL)."""
                self._learn_email_case(images)
                stored.append(writer.submit(self.store.add_images, images, synced=False))

            pages = await read_all(
                client,
                self.collection,
                wanted,
                keep,
                cursors=self.plan.cursors,
                expected=self.plan.total_hits,
            )
            await asyncio.gather(*(asyncio.wrap_future(f) for f in stored))
        self.store.set_meta("complete", "1")
        return pages

    def extra_requests(self) -> int:
        """Requests spent on reading beyond what the run would spend anyway (for the plan)."""
        return self.plan.requests if self.plan is not None else 0

    async def admit(self, client: Any, rows: list[ValidatedRow]) -> Admitted:
        """Store images, payloads and diff lines of `rows` (one transaction); split off unchanged rows.

        The CPU work (loading images, the diff, the transaction) runs in a worker thread: on the event
        loop it would stall the requests of the rows already admitted (a 100,000-row re-import spent as
        long waiting for its 1,500 writes as diffing)."""
        admitted = Admitted()
        if not rows:
            return admitted
        keys = [str(r.key) for r in rows]
        images = await to_thread(self.store.images, keys) if self.read else {}
        missing = [k for k in dict.fromkeys(keys) if k not in images] if self.read else []
        if missing:
            if self.collection is None:
                fresh, admitted.reads = await read_preferences(client, missing)
            else:
                fresh, admitted.reads = await lookup(client, self.collection, missing)
            self._keep(list(fresh.items()))
            images.update(self.store.images(missing))
        await to_thread(self._sort_out, rows, keys, images, admitted)
        return admitted

    def _sort_out(
        self, rows: list[ValidatedRow], keys: list[str], images: dict[str, Record | None], admitted: Admitted
    ) -> None:
        """Diff each row with its image; keep what the rows to send will write (one transaction)."""
        written: list[tuple[int, str, dict[str, Any]]] = []
        changes: list[ChangeLine] = []
        for row, key in zip(rows, keys, strict=True):
            payload = row.payload or {}
            image = images.get(key)
            if image is not None and self.opted_in_by_default:
                image = {name: True if value is None else value for name, value in image.items()}
            if self.read:
                self._exists[key] = image is not None
            if self.changed_only:
                diff = diff_record(key, payload, image, self.key_field, fold_email=not self.email_case_kept)
                if diff.action == "unchanged":
                    admitted.unchanged.append(unchanged_outcome(row))
                    continue
                if not (diff.action == "create" and self.mode == "update"):  # that row fails: not found
                    changes.extend((row.row, *line) for line in iter_lines(diff))
                if diff.action == "update":
                    row.payload = payload = changed_payload(payload, diff, self.key_field)
            written.append((row.row, key, payload))
            admitted.to_send.append(row)
        self.store.add_batch(written=written, changes=changes)

    async def count_changes(self, client: Any, batches: Iterable[list[ValidatedRow]]) -> tuple[int, int, int]:
        """The plan of a `--changed-only` dry run: (creates, updates, unchanged) over every row."""
        creates = updates = unchanged = 0
        for rows in batches:
            admitted = await self.admit(client, rows)
            unchanged += len(admitted.unchanged)
            for row in admitted.to_send:
                if self.exists(str(row.key)):
                    updates += 1
                else:
                    creates += 1
        return creates, updates, unchanged

    def exists(self, key: str) -> bool | None:
        """For `auto`: did the record exist when read (None: not read)."""
        return self._exists.pop(key, None)


def _has_capitals(record: Record | None) -> bool:
    """A stored email with capitals: this API keeps the case of emails as written."""
    email = record.get("email") if record is not None else None
    return isinstance(email, str) and email != email.lower()


def unchanged_outcome(row: ValidatedRow) -> RowOutcome:
    return RowOutcome(row=row.row, status="succeeded", op="unchanged", key=row.key)


def wants_before_state(entity: str, options: Any) -> bool:
    """Users/accounts runs read and keep the before-state, unless --no-backup (and not --changed-only);
    preferences runs only with --changed-only."""
    if entity == "preferences":
        return bool(options.changed_only)
    return entity in COLLECTIONS and bool(options.changed_only or options.backup)


def date_fields(spec: EntitySpec, attributes: AttributeCatalog | None) -> frozenset[str]:
    """Flat names of the fields holding epoch ms (changes.csv shows them as ISO dates)."""
    names = {c.name for c in spec.columns if c.type == ColumnType.DATETIME}
    if attributes is not None:
        names |= {f"customAttributes.{a.api_name}" for a in attributes.attributes if a.type == "DATE_TIME"}
    return frozenset(names)
