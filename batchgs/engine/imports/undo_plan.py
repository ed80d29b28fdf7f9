"""What `batchgs undo RUN_DIR` would do, record by record, from the run's journal and before-images.

Per record the run changed, one unit:
- `update`: the run updated it → write back the before values of the fields the run changed;
- `delete`: the run created it → delete it;
- `create`: the run deleted it → create it again from its before-image.
Each unit is then judged against the record as it is NOW, field by field: still as the run left it →
send; already back as before → nothing to do (`already-undone`, which also makes a resumed undo exact:
a unit whose request landed before a crash is recognised, not re-sent); anything else → `conflict`,
left alone, with the three values (before the run, written by the run, now) for errors.csv.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from batchgs.engine.imports.diff import MERGED_KEY_BY_KEY, flatten, same_value
from batchgs.entities.spec import EntitySpec
from batchgs.run.before_images import BeforeImages
from batchgs.run.journal import Journal

UndoAction = Literal["update", "delete", "create"]
Verdict = Literal["send", "done", "conflict"]
UNDO_OF = {"updated": "update", "created": "delete", "deleted": "create"}


@dataclass(frozen=True)
class UndoUnit:
    """One record to take back. `row` is the row of the run's input that changed it."""

    row: int
    key: str
    action: UndoAction
    target: dict[str, Any]  # flat fields to write back (update) or the record to re-create (create)
    written: dict[str, Any]  # flat fields as the run wrote them (what "unchanged since" means)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "written": self.written}

    @classmethod
    def from_json(cls, row: int, key: str, data: Mapping[str, Any]) -> UndoUnit:
        return cls(row, key, data["action"], dict(data["target"]), dict(data["written"]))


@dataclass
class Judgement:
    verdict: Verdict
    body: dict[str, Any] = field(default_factory=dict)  # flat fields to send (update/create)
    # flat fields sent along unchanged: the rest of an object (location) a restored field belongs to
    context: dict[str, Any] = field(default_factory=dict)
    conflicts: list[tuple[str, Any, Any, Any]] = field(default_factory=list)  # field, before, written, now


def writable_image(spec: EntitySpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """The flat writable fields of a stored record (read-only and empty ones left out)."""
    roots = {c.name.split(".")[0] for c in spec.writable_columns} | {"customAttributes"}
    return {
        name: value
        for name, value in flatten(record).items()
        if name.split(".")[0] in roots and value is not None and value != [] and value != {}
    }


def plan_units(journal: Journal, store: BeforeImages, spec: EntitySpec) -> Iterator[UndoUnit]:
    """The units of a finished or paused users/accounts run, in row order."""
    key_field = store.key_field
    chunk: list[tuple[int, str, str]] = []
    for outcome in journal.iter_outcomes("succeeded"):
        if outcome.op in UNDO_OF and outcome.key is not None:
            chunk.append((outcome.row, outcome.key, outcome.op))
        if len(chunk) >= 2000:
            yield from _units(chunk, store, spec, key_field)
            chunk = []
    yield from _units(chunk, store, spec, key_field)


def _units(
    chunk: list[tuple[int, str, str]], store: BeforeImages, spec: EntitySpec, key_field: str
) -> Iterator[UndoUnit]:
    if not chunk:
        return
    written = store.written(row for row, _, _ in chunk)
    images = store.images(key for _, key, _ in chunk)
    for row, key, op in chunk:
        payload = flatten(written.get(row, (key, {}))[1], skip=frozenset({key_field}))
        before = images.get(key)
        if op == "created":
            yield UndoUnit(row, key, "delete", {}, payload)
        elif op == "updated" and before is not None:
            stored = flatten(before)
            target = {f: stored.get(f) for f, v in payload.items() if not same_value(f, v, stored.get(f))}
            if target:
                yield UndoUnit(row, key, "update", target, {f: payload[f] for f in target})
        elif op == "deleted" and before is not None:
            yield UndoUnit(row, key, "create", writable_image(spec, before), {})


def judge(unit: UndoUnit, now: Mapping[str, Any] | None) -> Judgement:
    """Send, nothing to do, or conflict — from the record as it is now."""
    if unit.action == "delete":
        if now is None:
            return Judgement("done")
        current = flatten(now)
        changed = [
            (f, None, w, current.get(f))
            for f, w in unit.written.items()
            if not same_value(f, w, current.get(f))
        ]
        return Judgement("conflict", conflicts=changed) if changed else Judgement("send")
    if unit.action == "create":
        if now is None:
            return Judgement("send", body=dict(unit.target))
        current = flatten(now)
        differ = [
            (f, t, None, current.get(f))
            for f, t in unit.target.items()
            if not same_value(f, t, current.get(f))
        ]
        return Judgement("conflict", conflicts=differ) if differ else Judgement("done")
    if now is None:
        return Judgement(
            "conflict", conflicts=[(f, t, unit.written.get(f), None) for f, t in unit.target.items()]
        )
    current = flatten(now)
    body: dict[str, Any] = {}
    conflicts = []
    for name, target in unit.target.items():
        value = current.get(name)
        if same_value(name, target, value):
            continue
        if same_value(name, unit.written.get(name), value):
            body[name] = target
        else:
            conflicts.append((name, target, unit.written.get(name), value))
    if conflicts:
        return Judgement("conflict", conflicts=conflicts)
    return (
        Judgement("send", body=body, context=_rest_of_objects(body, current)) if body else Judgement("done")
    )


def _rest_of_objects(body: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The other fields, as they are now, of each object (other than customAttributes, which the API
    merges key by key) that a restored field belongs to: a service that replaces `location` whole on
    PUT then keeps them, and one that merges gets them unchanged."""
    roots = {name.split(".")[0] for name in body if "." in name} - set(MERGED_KEY_BY_KEY)
    return {
        name: value
        for name, value in current.items()
        if value is not None and name not in body and name.split(".")[0] in roots and "." in name
    }


def change_lines(
    unit: UndoUnit, judgement: Judgement, now: Mapping[str, Any] | None
) -> list[tuple[Any, ...]]:
    """changes.csv lines of a unit that will be sent: (row, key, action, field, before, after)."""
    if unit.action == "delete":
        current = flatten(now) if now is not None else {}
        return [(unit.row, unit.key, "delete", f, current.get(f), None) for f in unit.written]
    current = flatten(now) if now is not None else {}
    return [(unit.row, unit.key, unit.action, f, current.get(f), v) for f, v in judgement.body.items()]
