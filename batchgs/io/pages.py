"""API list pages read by Polars: the page's bytes in, one flat typed frame of its records out.

An export spends its CPU here, so no record becomes a Python dict on the usual path: the bytes go to
`polars.read_json` with the schema of the pages seen so far (a schema parse is ~2x faster than one that
infers, and Polars' own inference silently turns `true` into 1 and `5` into `[5]` when a field's type
varies). The schema comes from the first page and widens whenever a page does not fit it:

- the fast path reads with the schema, then checks that nothing was dropped or changed: every key of
  the bytes (`":`) must be a non-null value of the frame or a `":null` (a field the schema lacks is
  silently dropped by Polars), every `true`/`false` a boolean (Polars reads a boolean where numbers
  were as 1 or 0) and every `[` a list (it reads a scalar where a list was as a one-element list). A
  parse error (a text where a number was) fails it too (`batchgs.io.page_bytes` counts the bytes:
  ~0.5 ms per 1,000-user page);
- numbers are read as Float64 and become Int64 when every value is whole (JSON has one number type):
  so 5.5 in a field that held integers is never cut to 5; a whole number beyond 2^53, which a float
  cannot hold exactly, fails the fast path;
- the first page's schema is inferred by Polars, then the page is read the fast way (checked);
- the slow path (a first page that failed, and any page that failed) parses with the JSON reader batchgs uses
  everywhere (fastjson: exact integers of any size), flattens in Python (`batchgs.io.flatten`), and
  widens the schema with every field and type the page had, so the next page is fast again.

Known limit of the fast path, where Polars converts instead of failing: a number in a field the schema
knows as text is read as its text (`5` as "5", `5.0` as "5"): the value is kept, its JSON type is not.

Flat columns follow `batchgs.io.flatten`: nested objects become dotted names, a list of scalars one
comma-joined cell (JSON text when commas could not carry it), a null never makes a column.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass

from batchgs import fastjson
from batchgs.io.flatten import flatten

EXACT_FLOAT = 2**53  # whole numbers at or beyond this may have lost digits in a float
_JSON_PREFIX = len('{"v":')


class PageError(ValueError):
    """The bytes are not a page of this list (not JSON, or the records are not a list of objects)."""


@dataclass
class Page:
    """One page: its records as a flat frame, and the rest of the answer (scrollId, totalHits...)."""

    frame: pl.DataFrame
    envelope: dict[str, Any]
    fast: bool  # read by the schema parse (False: the slow path)

    @property
    def count(self) -> int:
        return self.frame.height

    def values(self, name: str) -> list[Any]:
        """One column as Python values (a split's sample, the ids of an ids stage, a page signature)."""
        if name not in self.frame.columns:
            return [None] * self.frame.height
        return self.frame.get_column(name).to_list()


@dataclass
class _Shape:
    """What a schema says about every page read with it, and the Polars expressions that read them:
    built once per schema instead of once per page (on 1,000-record pages, building expressions and
    unnesting level by level cost as much as parsing)."""

    schema: dict[str, pl.DataType]
    envelope: list[str]  # the answer's other fields (scrollId, totalHits...)
    levels: list[list[str]]  # flat names of the nested objects, level by level (unnested in turn)
    leaves: list[tuple[str, pl.DataType]]  # flat names and types of every other field
    deep_lists: set[str]  # list leaves holding lists, objects or booleans
    booleans_anywhere: bool  # some list (a record's or the answer's) holds other than texts
    types: dict[str, pl.DataType] = field(default_factory=dict)
    # each leaf's kind for the page's counts ("null", "boolean", "list" or "other"), and the leaves of
    # numbers and of lists: comparing Polars types per leaf and page was ~0.2 ms of a page's parse
    kinds: list[tuple[str, str]] = field(default_factory=list)
    numbers: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    _stats: dict[tuple[tuple[str, ...], tuple[str, ...]], list[pl.Expr]] = field(default_factory=dict)
    _cells: dict[tuple[tuple[str, ...], frozenset[str], frozenset[str]], list[pl.Expr]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, schema: dict[str, pl.DataType], records_key: str) -> _Shape:
        levels: list[list[str]] = []
        leaves: list[tuple[str, pl.DataType]] = []

        def walk(dtype: pl.Struct, prefix: str, depth: int) -> None:
            for item in dtype.fields:
                name, kind = prefix + item.name, _instance(item.dtype)
                if isinstance(kind, pl.Struct):
                    levels.extend([] for _ in range(depth + 1 - len(levels)))
                    levels[depth].append(name)
                    walk(kind, name + ".", depth + 1)
                else:
                    leaves.append((name, kind))

        records = schema.get(records_key)
        inner = _inner(records) if isinstance(records, pl.List) else None
        if isinstance(inner, pl.Struct) and inner.fields:
            walk(inner, "", 0)
        deep = {name for name, kind in leaves if isinstance(kind, pl.List) and _deep(_inner(kind))}
        envelope = [n for n in schema if n != records_key]
        anywhere = any(_list_of_non_texts(schema[n]) for n in envelope) or any(
            _list_of_non_texts(kind) for _, kind in leaves
        )
        kinds = [(name, _leaf_kind(kind)) for name, kind in leaves]
        numbers = frozenset(n for n, kind in leaves if _numbers_type(kind) == pl.Float64)
        lists = frozenset(n for n, kind in leaves if isinstance(kind, pl.List))
        return cls(schema, envelope, levels, leaves, deep, anywhere, dict(leaves), kinds, numbers, lists)

    def stats(self, floats: list[str], lists: list[str]) -> list[pl.Expr]:
        """Per column of numbers (`floats`: scalar or list; `_flat` passes the lists only, numpy checks
        the scalars) its largest magnitude (`m:` name) and whether it holds a fraction (`f:`); per list
        column whether a row needs JSON text (`a:`)."""
        key = (tuple(floats), tuple(lists))
        exprs = self._stats.get(key)
        if exprs is None:
            exprs = []
            for name in floats:
                numbers = _numbers(pl.col(name), self.types[name])
                exprs += [
                    numbers.abs().max().alias(f"m:{name}"),
                    (numbers != numbers.round()).any().alias(f"f:{name}"),
                ]
            exprs += [_awkward_anywhere(pl.col(c), _inner(self.types[c])).alias(f"a:{c}") for c in lists]
            self._stats[key] = exprs
        return exprs

    def cells(self, filled: tuple[str, ...], whole: frozenset[str], awkward: frozenset[str]) -> list[pl.Expr]:
        """The flat columns of a page: whole-number columns as Int64, lists as one cell each."""
        key = (filled, whole, awkward)
        exprs = self._cells.get(key)
        if exprs is None:
            exprs = []
            for name in filled:
                kind = self.types[name]
                if isinstance(kind, pl.List):
                    column, inner = pl.col(name), _inner(kind)
                    if name in whole:  # its numbers as the integers they were
                        column, inner = column.cast(pl.List(pl.Int64)), pl.Int64()
                    exprs.append(_list_cell(column, inner, awkward=name in awkward).alias(name))
                elif name in whole:
                    exprs.append(pl.col(name).cast(pl.Int64))
                else:
                    exprs.append(pl.col(name))
            self._cells[key] = exprs
        return exprs


@dataclass
class PageReader:
    """Reads the pages of one list (`records_key`: where the records are in the answer)."""

    records_key: str
    schema: dict[str, pl.DataType] = field(default_factory=dict)  # the whole answer's, nested
    integers: set[str] = field(default_factory=set)  # flat paths whose every value so far was whole
    floats: set[str] = field(default_factory=set)  # flat paths that held a fractional number
    slow_pages: int = 0
    _shapes: dict[int, _Shape] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def read(self, data: bytes) -> Page:
        """The page in `data`, from any thread. Pages are parsed in parallel against the schema known
        when they arrive; only what changes the reader's state (a widened schema, the integer and
        float columns) holds the lock, so 16 cursors' pages are not parsed one at a time."""
        with self._lock:
            schema = self.schema
        page = self._fast(data, schema) if schema else None
        if page is None:
            with self._lock:  # another page may have widened the schema meanwhile: try it first
                if self.schema and self.schema is not schema:
                    page = self._fast(data, self.schema)
                if page is None and not self.schema:
                    page = self._first(data)
                if page is None:
                    self.slow_pages += 1
                    page = self._slow(data)
        return page

    # -- the fast path ---------------------------------------------------------------------------
    def _first(self, data: bytes) -> Page | None:
        """The first page: its schema inferred by Polars (numbers as Float64, as the slow path learns
        them), then read the fast way, whose checks catch what inference gets wrong (a field of
        numbers and booleans read as numbers, a scalar among lists read as a list). None: the slow
        path reads it. A Python parse of the first page cost as much as 20 fast pages."""
        try:
            inferred = pl.read_json(io.BytesIO(data), infer_schema_length=None).schema
        except Exception:  # not JSON, not an object, a field of objects and scalars: the slow path says
            return None
        records = inferred.get(self.records_key)
        if not isinstance(records, pl.List) or not isinstance(_instance(records.inner), pl.Struct):
            return None  # no records, or not objects: the slow path says which
        schema = {name: _numbers_as_floats(_instance(dtype)) for name, dtype in inferred.items()}
        page = self._fast(data, schema)
        if page is not None:
            self.schema = schema
        return page

    def _fast(self, data: bytes, schema: dict[str, pl.DataType]) -> Page | None:
        try:
            whole = pl.read_json(io.BytesIO(data), schema=schema)
        except Exception:  # a value the schema cannot hold: the slow path widens it
            return None
        if whole.height != 1:
            return None
        shape = self._shape(schema)
        envelope: dict[str, Any] = {}
        keys = booleans = 0
        lists = 1  # the records' own list
        for name in shape.envelope:
            values = whole.get_column(name)
            value = values.to_list()[0]
            if value is not None:
                envelope[name] = _whole(value)
            keys += _keys(values)
            booleans += _count(values, pl.Boolean)
            lists += _count(values, pl.List)
        records = whole.get_column(self.records_key)
        keys += records.null_count() == 0
        if not shape.leaves:
            length = records.list.len().item() or 0
            if not _all_read(data, keys, booleans, lists, booleans_anywhere=shape.booleans_anywhere):
                return None
            return Page(pl.DataFrame(height=length), envelope, fast=True)
        frame = records.explode().struct.unnest()
        length = frame.height if frame.height > 1 else records.list.len().item() or 0
        if not length:
            if not _all_read(data, keys, booleans, lists, booleans_anywhere=shape.booleans_anywhere):
                return None
            return Page(pl.DataFrame(height=0), envelope, fast=True)
        for level in shape.levels:  # each nested object's key, then its fields as dotted columns
            keys += sum(length - frame.get_column(name).null_count() for name in level)
            frame = frame.unnest(level, separator=".")
        nulls = frame.null_count().row(0, named=True)  # (~40x faster than a null_count per column)
        filled: list[str] = []
        for name, kind in shape.kinds:
            present = length - nulls[name]
            keys += present
            if present and kind != "null":
                filled.append(name)
            if kind == "boolean":
                booleans += present
            elif kind == "list":
                lists += present
                if name in shape.deep_lists:  # lists, objects or booleans inside: counted one by one
                    items = frame.get_column(name).explode()
                    lists += _count(items, pl.List)
                    booleans += _count(items, pl.Boolean)
                    if _holds_objects(shape.types[name]):
                        keys += _inner_keys(items)
        flat = self._flat(frame, filled, shape)
        if flat is None:
            return None
        cells, as_json = flat  # a list written as JSON text shows what a `true` in it was
        if not _all_read(data, keys, booleans, lists, booleans_anywhere=shape.booleans_anywhere or as_json):
            return None
        return Page(cells, envelope, fast=True)

    def _shape(self, schema: dict[str, pl.DataType]) -> _Shape:
        """The schema's `_Shape`, made once per schema (a reader's schema changes only when it widens)."""
        shape = self._shapes.get(id(schema))
        if shape is None or shape.schema is not schema:
            shape = _Shape.of(schema, self.records_key)
            with self._lock:
                self._shapes = {id(schema): shape}  # (only the latest: an older schema is not read again)
        return shape

    def _flat(
        self, columns: pl.DataFrame, filled: list[str], shape: _Shape
    ) -> tuple[pl.DataFrame, bool] | None:
        """The leaves that hold a value, lists as cells; numbers whole throughout as Int64 (None: a
        number may have lost digits in the float); and whether some list cell is JSON text."""
        from batchgs.io.number_stats import fractions_and_magnitudes  # (numpy, as `_all_read`)

        types = shape.types
        floats = [c for c in filled if c in shape.numbers]
        lists = [c for c in filled if c in shape.lists]
        in_lists = [c for c in floats if c in shape.lists]  # (their elements: Polars' list functions)
        stats = columns.select(shape.stats(in_lists, lists)).row(0, named=True) if lists else {}
        scalars = [c for c in floats if c not in shape.lists]
        for name, (fraction, magnitude) in fractions_and_magnitudes(columns, scalars).items():
            stats[f"f:{name}"], stats[f"m:{name}"] = fraction, magnitude
        whole: set[str] = set()
        with self._lock:  # the columns seen fractional so far are shared by every page's thread
            for name in floats:
                if stats[f"f:{name}"]:
                    if not isinstance(types[name], pl.List):  # (a list's cells are per page)
                        self.floats.add(name)
                        self.integers.discard(name)
                elif (stats[f"m:{name}"] or 0) >= EXACT_FLOAT:
                    return None
                elif isinstance(types[name], pl.List) or name in self.integers or name not in self.floats:
                    whole.add(name)
        awkward = frozenset(name for name in lists if stats[f"a:{name}"])
        return columns.select(shape.cells(tuple(filled), frozenset(whole), awkward)), bool(awkward)

    # -- the slow path ---------------------------------------------------------------------------
    def _slow(self, data: bytes) -> Page:
        try:
            body = fastjson.loads(data)
        except ValueError as exc:
            raise PageError(f"the answer is not JSON ({exc})") from None
        if isinstance(body, list):  # a bare array of records
            body = {self.records_key: body}
        if not isinstance(body, Mapping):
            raise PageError("the answer is not a JSON object")
        records = body.get(self.records_key)
        if records is None:
            records = []
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise PageError(f"{self.records_key!r} is not a list of objects")
        self._learn(body, records)
        frame = frame_from_rows([flatten(r) for r in records])
        envelope = {k: v for k, v in body.items() if k != self.records_key and v is not None}
        return Page(frame, envelope, fast=False)

    def _learn(self, body: Mapping[str, Any], records: list[Any]) -> None:
        """Widen the schema by this page's fields and types (the next page reads fast again)."""
        shape: dict[str, pl.DataType] = {k: _dtype(v) for k, v in body.items() if k != self.records_key}
        record_type: pl.DataType = pl.Null()
        for record in records:
            record_type = _merge(record_type, _dtype(record))
        shape[self.records_key] = pl.List(
            record_type if isinstance(record_type, pl.Struct) else pl.Struct([])
        )
        merged = dict(self.schema)
        for name, dtype in shape.items():
            merged[name] = _merge(merged[name], dtype) if name in merged else dtype
        self.schema = merged
        for record in records:
            for name, value in flatten(record).items():
                if type(value) is float:
                    self.floats.add(name)
                    self.integers.discard(name)
                elif type(value) is int and name not in self.floats:
                    self.integers.add(name)


def peek_envelope(data: bytes) -> dict[str, Any] | None:
    """The answer's other fields (scrollId, totalHits...) when they follow its records, read from the
    bytes after the records' closing `]` without parsing the records (~20 µs, where a parse takes
    ms); None when that tail is not a plain object's end (the fields come first, or a `]` in them)."""
    end = data.rfind(b"]")
    tail = data[end + 1 :].strip() if end >= 0 else b""
    if not tail.startswith(b",") or not tail.endswith(b"}"):
        return None
    try:
        fields = fastjson.loads(b"{" + tail[1:])
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _whole(value: Any) -> Any:
    """An answer's own number (totalHits) as the integer JSON had, not the float it was read as."""
    if type(value) is float and value.is_integer() and abs(value) < EXACT_FLOAT:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    return value


# -- nested → flat -----------------------------------------------------------------------------------
def _all_read(data: bytes, keys: int, booleans: int, lists: int, *, booleans_anywhere: bool) -> bool:
    """Whether the frame holds every value of the bytes as what it was: as many keys with a value
    (`":` not followed by null), booleans (Polars reads a `true` where numbers were as 1) and lists
    (it reads a scalar where a list was as a one-element list). Text holding `":`, `true`, `false` or
    `[` makes these differ too: such a page simply goes the slow way. Booleans are counted wherever
    they are when a list could hold one that matters (`_Shape.booleans_anywhere`), else as keys'
    values only (a `true` in a list of texts is read as the text "true": flatten's cell too)."""
    from batchgs.io import page_bytes  # numpy (~70 ms to import) only once a page is read

    counted = page_bytes.count(data, booleans_anywhere=booleans_anywhere)
    return keys == counted.keys and booleans == counted.booleans and lists == counted.lists


def _inner(dtype: pl.DataType) -> pl.DataType | None:
    return _instance(dtype.inner) if isinstance(dtype, pl.List) else None


def _instance(dtype: pl.DataType | DataTypeClass) -> pl.DataType:
    """Polars gives nested types as classes or instances; this code compares instances."""
    return dtype() if isinstance(dtype, DataTypeClass) else dtype


def _deep(inner: pl.DataType | None) -> bool:
    """Whether a list's elements need counting one by one: lists, objects or booleans."""
    return isinstance(inner, pl.List | pl.Struct) or inner == pl.Boolean


def _list_of_non_texts(dtype: pl.DataType) -> bool:
    """Whether `dtype` is or holds a list whose elements are not all texts: a boolean there may
    have been read as a number (or be one of a list of booleans), so booleans are counted anywhere."""
    if isinstance(dtype, pl.Struct):
        return any(_list_of_non_texts(_instance(f.dtype)) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        inner = _inner(dtype)
        return not (inner == pl.String or inner == pl.Null)
    return False


def _holds_objects(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.Struct):
        return True
    return isinstance(dtype, pl.List) and _holds_objects(_instance(dtype.inner))


def _numbers_type(dtype: pl.DataType) -> pl.DataType:
    """The type of a column's numbers: its own, or its elements' for a list of scalars."""
    inner = _inner(dtype)
    return inner if inner is not None else dtype


def _numbers(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A column's numbers: its values, or a list column's elements."""
    return _elements(expr) if isinstance(dtype, pl.List) else expr


def _elements(expr: pl.Expr) -> pl.Expr:
    """The elements of a list column's rows, one after another (an empty or null list: none)."""
    return expr.explode(empty_as_null=False, keep_nulls=False)


def _joined(expr: pl.Expr, inner: pl.DataType | None) -> pl.Expr | None:
    """The comma-joined text of a list of scalars, else None; null where a row needs JSON text
    instead: a null element, or (a list of floats: the page holds fractions) an element that is not
    a whole number below 2^53 (a whole one is JSON's integer; a fraction's text is JSON's own)."""
    if inner == pl.String:
        return expr.list.join(",", ignore_nulls=False)
    if inner is not None and inner.is_float():
        exact = expr.list.eval(
            ((pl.element() == pl.element().round()) & (pl.element().abs() < EXACT_FLOAT)).all()
        )
        whole = (
            expr.cast(pl.List(pl.Int64), strict=False)
            .cast(pl.List(pl.String))
            .list.join(",", ignore_nulls=False)
        )
        return pl.when(exact.list.first()).then(whole)
    if inner == pl.Boolean or (inner is not None and inner.is_numeric()):
        return expr.cast(pl.List(pl.String)).list.join(",", ignore_nulls=False)
    return None


def _list_awkward(expr: pl.Expr, inner: pl.DataType | None) -> pl.Expr:
    """Rows whose list needs JSON text: a null element, objects, texts that commas cannot carry
    (empty, or holding a comma), numbers that are not whole (`_joined`)."""
    filled = expr.list.len() > 0
    joined = _joined(expr, inner)
    if joined is None:
        return filled
    awkward = joined.is_null()
    if inner == pl.String:
        commas = joined.str.count_matches(",", literal=True) != expr.list.len() - 1
        empties = (joined.str.len_bytes() == 0) | joined.str.contains(r"^,|,,|,$")
        awkward = awkward | commas | empties
    return filled & awkward


def _awkward_anywhere(expr: pl.Expr, inner: pl.DataType | None) -> pl.Expr:
    """Whether some row's list needs JSON text (`_list_awkward(...).any()`), decided on the elements:
    joining every row's list to look at it cost ~1 ms per 1,000-row page, a third of its parse."""
    items = _elements(expr)
    if _joined(expr, inner) is None:
        return items.len() > 0  # objects or lists inside: any element at all
    awkward = items.is_null()
    if inner == pl.String:
        awkward = awkward | (items.str.len_bytes() == 0) | items.str.contains(",", literal=True)
    elif inner is not None and inner.is_float():
        awkward = awkward | (items != items.round()) | (items.abs() >= EXACT_FLOAT)
    return awkward.any()


def _leaf_kind(dtype: pl.DataType) -> str:
    if dtype == pl.Null:
        return "null"
    if dtype == pl.Boolean:
        return "boolean"
    return "list" if isinstance(dtype, pl.List) else "other"


def _list_cell(expr: pl.Expr, inner: pl.DataType | None, *, awkward: bool) -> pl.Expr:
    """`batchgs.io.flatten.list_cell` as an expression: comma-joined scalars, else compact JSON text,
    an empty list an empty cell. `awkward`: some row of this page needs the JSON text."""
    empty = expr.list.len() == 0
    joined = _joined(expr, inner)
    if not awkward and joined is not None:
        return pl.when(empty).then(None).otherwise(joined)
    as_json = pl.struct(expr.alias("v")).struct.json_encode().str.slice(_JSON_PREFIX).str.head(-1)
    if joined is None:
        return pl.when(empty).then(None).otherwise(as_json)
    return pl.when(empty).then(None).when(_list_awkward(expr, inner)).then(as_json).otherwise(joined)


def _keys(values: pl.Series) -> int:
    """Keys with a non-null value in `values` (a field's values) and inside them."""
    count = values.len() - values.null_count()
    dtype = values.dtype
    if isinstance(dtype, pl.Struct):
        count += sum(_keys(values.struct.field(f.name)) for f in dtype.fields)
    elif isinstance(dtype, pl.List):
        count += _inner_keys(values.explode())
    return count


def _count(values: pl.Series, kind: type[pl.DataType]) -> int:
    """Non-null values of type `kind` among `values` and inside them (lists and structs)."""
    dtype = values.dtype
    count = values.len() - values.null_count() if isinstance(dtype, kind) else 0
    if isinstance(dtype, pl.Struct):
        count += sum(_count(values.struct.field(f.name), kind) for f in dtype.fields)
    elif isinstance(dtype, pl.List):
        count += _count(values.explode(), kind)
    return count


def _inner_keys(items: pl.Series) -> int:
    """Keys inside list elements (an element itself is not a key)."""
    dtype = items.dtype
    if isinstance(dtype, pl.Struct):
        return sum(_keys(items.struct.field(f.name)) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        return _inner_keys(items.explode())
    return 0


# -- the schema, learned from Python values -------------------------------------------------------------
def _dtype(value: Any) -> pl.DataType:
    if value is None:
        return pl.Null()
    if value is True or value is False:
        return pl.Boolean()
    if isinstance(value, int | float):
        return pl.Float64()
    if isinstance(value, str):
        return pl.String()
    if isinstance(value, Mapping):
        return pl.Struct({str(k): _dtype(v) for k, v in value.items()})
    if isinstance(value, list):
        inner: pl.DataType = pl.Null()
        for item in value:
            inner = _merge(inner, _dtype(item))
        return pl.List(inner)
    return pl.String()


def _numbers_as_floats(dtype: pl.DataType) -> pl.DataType:
    """An inferred type with every number as Float64 (JSON has one number type; `_flat` makes whole
    columns Int64 page by page)."""
    if dtype.is_numeric():
        return pl.Float64()
    if isinstance(dtype, pl.List):
        return pl.List(_numbers_as_floats(_instance(dtype.inner)))
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _numbers_as_floats(_instance(f.dtype)) for f in dtype.fields})
    return dtype


def _merge(a: pl.DataType, b: pl.DataType) -> pl.DataType:
    """The type holding both: structs take every field, scalars that differ become text; an object
    against a scalar stays text (the fast path fails on it and the slow path reads such pages)."""
    if a == pl.Null:
        return b
    if b == pl.Null or a == b:
        return a
    if isinstance(a, pl.Struct) and isinstance(b, pl.Struct):
        fields = {f.name: _instance(f.dtype) for f in a.fields}
        for f in b.fields:
            dtype = _instance(f.dtype)
            fields[f.name] = _merge(fields[f.name], dtype) if f.name in fields else dtype
        return pl.Struct(fields)
    if isinstance(a, pl.List) and isinstance(b, pl.List):
        return pl.List(_merge(_instance(a.inner), _instance(b.inner)))
    return pl.String()


# -- Python rows → a frame (the slow path, per-user exports, CS records) --------------------------------
def frame_from_rows(rows: Sequence[Mapping[str, Any]], id_columns: Iterable[str] = ()) -> pl.DataFrame:
    """A frame of flat rows; a column whose values do not share one type becomes text (an id column's
    numbers as the id text they are: 7.0 → "7")."""
    ids = set(id_columns)
    names: dict[str, None] = {}
    for row in rows:
        for name, value in row.items():
            if value is not None:
                names.setdefault(name, None)
    columns = [_series(name, [row.get(name) for row in rows], name in ids) for name in names]
    return pl.DataFrame(columns, height=len(rows)) if columns else pl.DataFrame(height=len(rows))


def _series(name: str, values: list[Any], is_id: bool = False) -> pl.Series:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int} and all(v is None or -(2**63) <= v < 2**63 for v in values):
        return pl.Series(name, values, dtype=pl.Int64)
    if kinds <= {int, float} and float in kinds:
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if kinds == {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds == {str}:
        return pl.Series(name, values, dtype=pl.String)
    text = _id_text if is_id else _text
    return pl.Series(name, [None if v is None else text(v) for v in values], dtype=pl.String)


def _id_text(value: Any) -> str:
    if type(value) is float and value.is_integer():
        return str(int(value))
    return _text(value)


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


# -- frames in the spool -------------------------------------------------------------------------------
def frame_bytes(frame: pl.DataFrame) -> bytes:
    """A frame as Arrow IPC stream bytes (data only: reading them back never runs code)."""
    sink = io.BytesIO()
    frame.write_ipc_stream(sink, compression="uncompressed")
    return sink.getvalue()


def frame_of(data: bytes) -> pl.DataFrame:
    """The frame `frame_bytes` wrote; PageError when the bytes are not one."""
    try:
        return pl.read_ipc_stream(io.BytesIO(data))
    except Exception as exc:
        raise PageError(f"not a page frame ({type(exc).__name__})") from None
