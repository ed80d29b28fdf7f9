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
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import orjson

Record = dict[str, Any]
INDEXED_FIELDS = frozenset({"createDate"})
MAX_ENCODINGS = 250_000  # ~1 KB each: the JSON of a 100,000-user benchmark tenant, not of a million


class Table(dict[str, Record]):
    """A dict of records by key whose `version` moves on every change of its key → record map.

    It can also keep each record's JSON (`keep_encodings`), so that a list page is the stored bytes
    joined rather than 1,000 records encoded again: only where nothing but the HTTP handlers changes
    the records (the `batchgs sandbox` process), since an edit made in place by other code is not seen.
    A handler that edits a stored record in place calls `changed(key)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self._indexes: dict[str, tuple[int, RangeIndex]] = {}
        self._encoded: dict[int, tuple[Record, bytes]] | None = None  # id(record) -> (record, JSON)
        self._most = 0

    def touch(self) -> None:
        self.version += 1
        self._forget_all()

    def keep_encodings(self, most: int = MAX_ENCODINGS) -> None:
        """From now on, remember the JSON of up to `most` records once encoded (see the class docstring),
        starting with every record stored now: one record at a time costs ~3x what a whole page costs
        per record, so it is paid once, before any request."""
        if self._encoded is None:
            self._encoded = {}
            self._most = most
            self.encoded(list(self.values())[:most])

    def changed(self, key: str) -> None:
        """The record under `key` was edited in place: its remembered JSON is stale."""
        self._forget(self.get(key))

    def encoded(self, records: list[Record]) -> list[bytes] | None:
        """Each record's compact JSON (orjson's, as `fastjson.dumps` writes it), from memory when it was
        encoded before. None when nothing is remembered (encoding the page whole is faster then), or a
        record orjson cannot write: the caller encodes the whole page, so the bytes are always those."""
        memory = self._encoded
        if memory is None:
            return None
        out: list[bytes] = []
        room = len(memory) < self._most
        try:
            for record in records:
                entry = memory.get(id(record))
                if entry is not None and entry[0] is record:
                    out.append(entry[1])
                    continue
                data = orjson.dumps(record)
                if room:
                    # a copy of exact size: orjson's bytes keep its ~8 KB buffer (100,000 users: 784 MiB
                    # remembered instead of 90)
                    data = memoryview(data).tobytes()
                    memory[id(record)] = (record, data)
                out.append(data)
        except TypeError:
            return None
        return out

    def _forget(self, record: Record | None) -> None:
        if self._encoded is not None and record is not None:
            self._encoded.pop(id(record), None)

    def _forget_all(self) -> None:
        if self._encoded:
            self._encoded.clear()

    def __setitem__(self, key: str, value: Record) -> None:
        self._forget(self.get(key))
        self._forget(value)  # a revived record comes back edited
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        self._forget(self.get(key))
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        self._forget(self.get(key))
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Record]:
        self._forget_all()
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        self._forget_all()
        super().clear()
        self.version += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._forget_all()
        super().update(*args, **kwargs)
        self.version += 1

    def setdefault(self, key: str, default: Record | None = None) -> Record:
        self._forget(self.get(key))
        self.version += 1
        return super().setdefault(key, default if default is not None else {})

    def __ior__(self, other: Any) -> Table:  # type: ignore[override,misc]
        self._forget_all()
        super().update(other)
        self.version += 1
        return self

    def index(self, name: str) -> RangeIndex:
        """The index of `name` (one of INDEXED_FIELDS) as of this version of the table."""
        built = self._indexes.get(name)
        if built is None or built[0] != self.version:
            built = (self.version, RangeIndex(name, self))
            self._indexes[name] = built
        return built[1]


class RangeIndex:
    """The keys of records whose `name` is a number, sorted by it; the others kept aside.

    Also what a scroll start needs without sorting the table again: the records in key order (a list's
    own order), each numbered key's rank in it (a slice's records are put back in key order by sorting
    small integers, not strings), and the whole list ordered by `name` either way (an exporter's
    one-record probes). These are built once per version of the table and never changed, so a scroll
    may keep them as its snapshot."""

    def __init__(self, name: str, table: Mapping[str, Record]) -> None:
        numbered: list[tuple[float, str]] = []
        self.others: list[str] = []  # a value that is not a number: left to the filter to judge
        self.name = name
        for key, record in table.items():
            value: Any = record.get(name)
            kind = type(value)
            if kind is int or kind is float:
                numbered.append((float(value), key))
            elif value is not None:
                self.others.append(key)
        numbered.sort()
        self.values = [value for value, _ in numbered]
        self.keys = [key for _, key in numbered]
        self.key_order = sorted(table)
        self.in_key_order = [table[k] for k in self.key_order]
        self.rank_of = {key: rank for rank, key in enumerate(self.key_order)}
        self.ranks = [self.rank_of[k] for k in self.keys]

    def between(self, low: float | None, high: float | None) -> list[str]:
        """Keys whose value v has low <= v <= high (None: unbounded), plus the non-numbers."""
        start = 0 if low is None else bisect.bisect_left(self.values, low)
        end = len(self.values) if high is None else bisect.bisect_right(self.values, high)
        return [*self.keys[start:end], *self.others]

    def in_key_order_of(self, keys: list[str], start: int, end: int) -> list[Record]:
        """The records of the numbered keys [start, end) and of `keys` (others), in key order."""
        ranks = self.ranks[start:end]
        if keys:
            rank_of = self.rank_of
            ranks += [rank_of[k] for k in keys]
        ranks.sort()
        records = self.in_key_order
        return [records[r] for r in ranks]

    @cached_property
    def ascending(self) -> list[Record]:
        """Every record by value (ties in key order), those without the field last in key order (only
        meaningful when there are no `others`)."""
        records, rank_of = self.in_key_order, self.rank_of
        out = [records[rank_of[k]] for k in self.keys]
        return out + self._missing()

    @cached_property
    def descending(self) -> list[Record]:
        """Every record by value, largest first (ties still in key order: a stable sort's answer), those
        without the field last in key order."""
        numbered = self.ascending[: len(self.keys)]
        order = sorted(range(len(numbered)), key=self.values.__getitem__, reverse=True)
        return [numbered[i] for i in order] + self._missing()

    def _missing(self) -> list[Record]:
        if len(self.keys) == len(self.key_order):
            return []
        name = self.name
        return [r for r in self.in_key_order if r.get(name) is None]
