"""Compare a row's payload with the record Gainsight holds now, the way the API stores both.

Only fields present in the payload count (an empty cell is left out of the payload: "leave as is").
Both sides are normalised as PX stores them, so a re-import of an export never shows a false change:
- numbers compare by value (`5 == 5.0`, a stored `"5"` equals 5); dates are epoch ms on both sides;
- emails compare as the API keeps their case: exactly once a stored email shows capitals (the API keeps
  case), else ignoring case (the API may fold it: then a case-only difference is no change, never a
  write repeated on every run) — the caller decides, from the records it read (`fold_email`);
- `customAttributes` and `location` compare key by key (PUT merges them key by key);
- `propertyKeys` is unchanged when every product key of the row is already on the record (PX adds
  product keys; it never needs to be told one twice).

Field names are the flat names of the files (`customAttributes.plan`, `location.city`), so changes.csv
reads like the spreadsheet that produced it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "delete", "unchanged"]
NESTED = ("customAttributes", "location")
CASE_FOLDED = frozenset({"email"})
SUBSET_LISTS = frozenset({"propertyKeys"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class RecordDiff:
    """What sending a row would do to one record: `unchanged` rows need no request at all."""

    key: str
    action: Action
    changes: tuple[FieldChange, ...] = field(default=())

    @property
    def changed_fields(self) -> list[str]:
        return [c.field for c in self.changes]


def flatten(record: Mapping[str, Any] | None, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`{"location": {"city": "Paris", "coordinates": {"latitude": 1}}}` → `location.city`,
    `location.coordinates.latitude`; lists and scalars stay as they are."""
    out: dict[str, Any] = {}
    for name, value in (record or {}).items():
        if name in skip:
            continue
        if isinstance(value, Mapping):
            for sub, inner in flatten(value).items():
                out[f"{name}.{sub}"] = inner
        else:
            out[name] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten` (for building a request body from flat field names)."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        parts = name.split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def same_value(name: str, wanted: Any, stored: Any, *, folded: frozenset[str] = CASE_FOLDED) -> bool:
    """True when writing `wanted` into field `name` would leave a record holding `stored` as it is
    (`folded`: the fields whose text the API may store in another case)."""
    if type(wanted) is type(stored) and wanted == stored:  # the common case of a re-import: equal as is
        return True
    if wanted is None:
        return stored is None or stored == ""
    if isinstance(wanted, bool):
        return _boolean(stored) is wanted
    if isinstance(wanted, int | float):
        number = _number(stored)
        return number is not None and (number == float(wanted) or stored == wanted)
    if isinstance(wanted, list):
        if not isinstance(stored, list):
            return False
        if name in SUBSET_LISTS:
            return set(map(str, wanted)) <= set(map(str, stored))
        return sorted(map(str, wanted)) == sorted(map(str, stored))
    if isinstance(wanted, str):
        if isinstance(stored, str):
            if name in folded:
                return wanted.casefold() == stored.casefold()
            return wanted == stored
        if isinstance(stored, bool):
            return _boolean(wanted) is stored
        if isinstance(stored, int | float):
            return _number(wanted) == float(stored)
        return False
    return bool(wanted == stored)


def diff_record(
    key: str,
    payload: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    key_field: str,
    *,
    fold_email: bool = True,
) -> RecordDiff:
    """The diff of one row: `create` when no record exists, else the fields whose value would change."""
    if current is None:
        wanted = flatten(payload, skip=frozenset({key_field}))
        return RecordDiff(key, "create", tuple(FieldChange(n, None, v) for n, v in wanted.items()))
    changes: list[FieldChange] = []
    _compare("", payload, current, changes, CASE_FOLDED if fold_email else frozenset(), skip=key_field)
    return RecordDiff(key, "update" if changes else "unchanged", tuple(changes))


def _compare(
    prefix: str,
    wanted: Mapping[str, Any],
    stored: Any,
    out: list[FieldChange],
    folded: frozenset[str],
    *,
    skip: str = "",
) -> None:
    """Walk only the payload's fields (nested objects key by key) against the stored record."""
    for name, value in wanted.items():
        if name == skip:
            continue
        held = stored.get(name) if isinstance(stored, dict) else None  # dict, not Mapping: an ABC
        if type(value) is type(held) and value == held:  # equal as is: most fields of a re-import
            continue
        if isinstance(value, dict):  # check costs ~10x more, per field of every row
            _compare(f"{prefix}{name}.", value, held, out, folded)
        elif not same_value(f"{prefix}{name}", value, held, folded=folded):
            out.append(FieldChange(f"{prefix}{name}", held, value))


MERGED_KEY_BY_KEY = frozenset({"customAttributes"})  # the API merges these objects on PUT (contract)


def changed_payload(payload: Mapping[str, Any], diff: RecordDiff, key_field: str) -> dict[str, Any]:
    """Only the changed fields (plus the key): the body of a PUT, which merges partial updates.

    Only `customAttributes` is documented to merge key by key; any other object with a changed field
    (`location`) is sent whole, as the row has it, so a service that replaces the object keeps the
    row's other fields of it (exactly what a plain import would send)."""
    body = unflatten({c.field: c.after for c in diff.changes})
    for name in body:
        whole = payload.get(name)
        if name not in MERGED_KEY_BY_KEY and isinstance(whole, dict):
            body[name] = whole
    body[key_field] = payload.get(key_field, diff.key)
    return body


def iter_lines(diff: RecordDiff) -> Iterator[tuple[str, str, str, Any, Any]]:
    """changes.csv lines of one diff: (key, action, field, before, after)."""
    for change in diff.changes:
        yield diff.key, diff.action, change.field, change.before, change.after
