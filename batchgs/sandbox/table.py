"""A record table that knows when it changed, and a createDate index over it.

Sliced exporters start dozens of scrolls, each filtered to one `createDate` range (and often an
identifyId range): scanning every record for each start made the sandbox, not the client, the
bottleneck of an export benchmark. The index answers "which records may match" by bisection; the
real filter then runs on those candidates only, so the answer is the scan's answer.

Only fields that never change once a record exists are indexed (`createDate` is set by the server
at creation and refused in writes). The index is rebuilt after any insert, replacement or removal
in the table (`Table.version`); a test that edits a stored record's createDate in place must call
`Table.touch()`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

Record = dict[str, Any]
INDEXED_FIELDS = frozenset({"createDate"})


class Table(dict[str, Record]):
    """A dict of records by key whose `version` moves on every change of its key → record map."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self._indexes: dict[str, tuple[int, RangeIndex]] = {}

    def touch(self) -> None:
        self.version += 1

    def __setitem__(self, key: str, value: Record) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Record]:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self.version += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.version += 1

    def setdefault(self, key: str, default: Record | None = None) -> Record:
        self.version += 1
        return super().setdefault(key, default if default is not None else {})

    def __ior__(self, other: Any) -> Table:  # type: ignore[override,misc]
        super().update(other)
        self.version += 1
        return self

    def index(self, name: str) -> RangeIndex:
        """The index of `name` (one of INDEXED_FIELDS) as of this version of the table."""
        built = self._indexes.get(name)
        if built is None or built[0] != self.version:
            built = (self.version, RangeIndex(name, self.items()))
            self._indexes[name] = built
        return built[1]


class RangeIndex:
    """The keys of records whose `name` is a number, sorted by it; the others kept aside."""

    def __init__(self, name: str, items: Iterable[tuple[str, Record]]) -> None:
        numbered: list[tuple[float, str]] = []
        self.others: list[str] = []  # a value that is not a number: left to the filter to judge
        for key, record in items:
            value: Any = record.get(name)
            kind = type(value)
            if kind is int or kind is float:
                numbered.append((float(value), key))
            elif value is not None:
                self.others.append(key)
        numbered.sort()
        self.values = [value for value, _ in numbered]
        self.keys = [key for _, key in numbered]
        self.value_of = {key: value for value, key in numbered}

    def between(self, low: float | None, high: float | None) -> list[str]:
        """Keys whose value v has low <= v <= high (None: unbounded), plus the non-numbers."""
        start = 0 if low is None else bisect.bisect_left(self.values, low)
        end = len(self.values) if high is None else bisect.bisect_right(self.values, high)
        return [*self.keys[start:end], *self.others]
