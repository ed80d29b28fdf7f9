"""Parquet export: pyarrow's ParquetWriter, one row group per `row_group_size` rows (memory is bounded
by one row group), zstd-compressed.

Types: dates (`date_columns`) are timestamp[ms, UTC]; ids are strings; other columns take the type
given in `column_types` (`string`, `integer`, `number`, `boolean`, `datetime`), else the type of the
first row group's values (booleans, int64, float64 when any value is fractional, string), and a column
with no value yet is string.

The schema of a Parquet file is fixed, so when a later row group does not fit it (a late column, or
a value that needs a wider type: int64 → float64 → string), the writer closes the current part and
starts a new one with the wider schema; `close()` then merges the parts once, streaming row group by
row group, casting each to the final schema. The usual export (columns known up front, consistent
types) writes one part and never merges.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from batchgs.io.write.base import RecordWriter, id_text, iso_utc, plain_text, to_epoch_ms
from batchgs.io.write.cells import epoch_ms, id_texts, iso_text, per_value

TIMESTAMP = pa.timestamp("ms", tz="UTC")
ROW_GROUP_SIZE = 32_768
_INT64 = (-(2**63), 2**63 - 1)
_NAMED_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": TIMESTAMP,
}


class _DoesNotFit(Exception):
    pass


def _join(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type holding values of both (int64+float64 → float64; otherwise string)."""
    if a == b:
        return a
    if {a, b} == {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def _infer(values: list[Any]) -> pa.DataType | None:
    kind: pa.DataType | None = None
    for v in values:
        if v is None:
            continue
        t = type(v)
        if t is bool:
            this = pa.bool_()
        elif t is int and _INT64[0] <= v <= _INT64[1]:
            this = pa.int64()
        elif t is float:
            this = pa.float64()
        else:
            return pa.string()
        kind = this if kind is None else _join(kind, this)
        if kind == pa.string():
            return kind
    return kind


class ParquetWriter(RecordWriter):
    suffix = ".parquet"

    def __init__(self, *args: Any, row_group_size: int = ROW_GROUP_SIZE, **kwargs: Any) -> None:
        self.row_group_size = row_group_size
        super().__init__(*args, **kwargs)

    def _open(self) -> None:
        self._buffer: list[list[Any]] = []
        self._tables: list[pa.Table] = []  # converted frames waiting for a full row group
        self._table_rows = 0
        self._pending_schema = False  # a column got its type since the current part began
        self._types: dict[str, pa.DataType] = {}
        self._parts: list[tuple[Path, pa.Schema]] = []
        self._writer: pq.ParquetWriter | None = None
        self.tmp_path.touch(exist_ok=False)  # claim the name now

    def _write_rows(self, rows: list[list[Any]]) -> None:
        self._flush_tables()
        self._buffer.extend(rows)
        if len(self._buffer) >= self.row_group_size:
            self._flush()

    def _write_frame(self, frame: pl.DataFrame) -> None:
        """Column-wise: each column converted to its Parquet type by Polars expressions. A frame that
        does not fit the types so far (a column that must widen) goes the row way, which widens."""
        self._flush()
        kinds = dict(zip(self.columns, self.kinds(), strict=True))
        schema = frame.schema  # (built anew by every `frame.schema`)
        for name in self.columns:
            if name not in self._types:
                declared = self._declared(name, kinds[name])
                self._types[name] = declared or _FRAME_TYPES.get(schema[name], pa.string())
                self._pending_schema = True
        exprs = []
        for name in self.columns:
            expr = arrow_ready(pl.col(name), schema[name], kinds[name], self._types[name])
            if expr is None:
                self._flush_tables()
                self._write_rows([list(row) for row in frame.iter_rows()])
                return
            exprs.append(expr.alias(name))
        converted = frame.select(exprs)
        if converted.width and converted.null_count().row(0) != frame.select(self.columns).null_count().row(
            0
        ):
            self._flush_tables()  # a date that is no date: the row way widens the column to text
            self._write_rows([list(row) for row in frame.iter_rows()])
            return
        # Polars' own string views, cast once to the file's strings: `to_arrow()` first copied every
        # text into a large string and the cast copied it again (~35% less CPU for this line)
        table = converted.to_arrow(compat_level=pl.CompatLevel.newest()).cast(self._schema())
        self._tables.append(table)
        self._table_rows += table.num_rows
        if self._table_rows >= self.row_group_size:
            self._flush_tables()

    def _flush_tables(self) -> None:
        if not self._tables:
            return
        tables, self._tables, self._table_rows = self._tables, [], 0
        if self._pending_schema or self._writer is None:
            self._new_part()
            self._pending_schema = False
        assert self._writer is not None
        self._writer.write_table(pa.concat_tables(tables), row_group_size=self.row_group_size)

    def _finish(self) -> None:
        self._flush_tables()
        self._flush()
        if self._writer is None:  # no rows at all: an empty file with the planned schema
            self._new_part()
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        if len(self._parts) == 1:
            self._parts[0][0].replace(self.tmp_path)
        else:
            self._merge_parts()

    def _discard(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()

    def _temp_paths(self) -> list[Any]:
        parts = [path for path, _ in getattr(self, "_parts", [])]
        return [self.tmp_path, self.tmp_path.with_name(self.tmp_path.name + ".fix"), *parts]

    # -- row groups ---------------------------------------------------------------------------------

    def _declared(self, name: str, kind: str) -> pa.DataType | None:
        if kind == "date":
            return TIMESTAMP
        if kind == "id":
            return pa.string()
        named = (self.column_types or {}).get(name)
        return _NAMED_TYPES.get(named.lower()) if named else None

    def _flush(self) -> None:
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        columns = [[row[i] if i < len(row) else None for row in rows] for i in range(len(self.columns))]
        changed = False
        for name, kind, values in zip(self.columns, self.kinds(), columns, strict=True):
            if name not in self._types:
                self._types[name] = self._declared(name, kind) or _infer(values) or pa.string()
                changed = True
        arrays = []
        for name, kind, values in zip(self.columns, self.kinds(), columns, strict=True):
            try:
                arrays.append(self._array(values, self._types[name], kind))
            except _DoesNotFit:
                wider = _join(self._types[name], _infer(values) or pa.string())
                self._types[name] = wider
                arrays.append(self._array(values, wider, kind))
                changed = True
        if changed or self._writer is None:
            self._new_part()
        assert self._writer is not None
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema()))

    def _schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, self._types.get(name, pa.string())) for name in self.columns])

    def _new_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
        for name, kind in zip(self.columns, self.kinds(), strict=True):
            self._types.setdefault(name, self._declared(name, kind) or pa.string())
        schema = self._schema()
        path = self.tmp_path.with_name(f"{self.tmp_path.name}.{len(self._parts)}")
        self._parts.append((path, schema))
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def _array(self, values: list[Any], kind_type: pa.DataType, kind: str) -> pa.Array:
        if kind_type == TIMESTAMP:
            stamps = []
            for v in values:
                ms = None if v is None else to_epoch_ms(v)
                if ms is None and v is not None:
                    raise _DoesNotFit
                stamps.append(ms)
            return pa.array(stamps, type=pa.int64()).cast(TIMESTAMP)
        if kind_type == pa.string():
            if kind == "date":
                return pa.array([None if v is None else _date_text(v) for v in values], pa.string())
            text = id_text if kind == "id" else plain_text
            return pa.array([v if v is None or type(v) is str else text(v) for v in values], pa.string())
        if kind_type == pa.float64():
            if any(v is not None and type(v) not in (int, float) for v in values):
                raise _DoesNotFit
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        if kind_type == pa.int64():
            if any(v is not None and (type(v) is not int or not _INT64[0] <= v <= _INT64[1]) for v in values):
                raise _DoesNotFit
            return pa.array(values, pa.int64())
        if kind_type == pa.bool_():
            if any(v is not None and type(v) is not bool for v in values):
                raise _DoesNotFit
            return pa.array(values, pa.bool_())
        raise _DoesNotFit

    def _merge_parts(self) -> None:
        """Write every part into one file with the widest schema, row group by row group."""
        final = self._schema()
        fixed = self.tmp_path.with_name(self.tmp_path.name + ".fix")
        with pq.ParquetWriter(fixed, final, compression="zstd") as out:
            for path, _ in self._parts:
                source = pq.ParquetFile(path)
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    arrays = [
                        _cast(table.column(f.name), f.type)
                        if f.name in table.column_names
                        else pa.nulls(table.num_rows, f.type)
                        for f in final
                    ]
                    out.write_table(pa.Table.from_arrays(arrays, schema=final))
                source.close()
        fixed.replace(self.tmp_path)
        for path, _ in self._parts:
            path.unlink(missing_ok=True)


_FRAME_TYPES: dict[pl.DataType, pa.DataType] = {
    pl.Int64(): pa.int64(),
    pl.Float64(): pa.float64(),
    pl.Boolean(): pa.bool_(),
    pl.String(): pa.string(),
}


def arrow_ready(expr: pl.Expr, dtype: pl.DataType, kind: str, target: pa.DataType) -> pl.Expr | None:
    """`expr` (of Polars type `dtype`) as values of the Parquet type `target`, or None when they do
    not fit it without widening (the row way then widens the column)."""
    if dtype == pl.Null:
        return expr
    if target == TIMESTAMP:
        return epoch_ms(expr, dtype) if dtype.is_numeric() else None
    if target == pa.string():
        if kind == "id":
            return id_texts(expr, dtype)
        if kind == "date" and dtype.is_integer():  # a date column widened to text: dates as ISO text
            ms = epoch_ms(expr, dtype)
            assert ms is not None
            return pl.when(ms.is_not_null()).then(iso_text(ms)).otherwise(expr.cast(pl.String))
        if kind == "date" and dtype == pl.String:
            return per_value(expr, _date_text)
        if kind == "date":
            return None
        if dtype.is_float():  # Polars' shortest text of the float (Python's repr but for `1e-7`, `NaN`)
            return expr.cast(pl.String)
        return id_texts(expr, dtype)  # integers as digits, booleans true/false
    if target == pa.float64():
        return expr.cast(pl.Float64) if dtype.is_numeric() else None
    if target == pa.int64():
        return expr if dtype == pl.Int64 else None
    if target == pa.bool_():
        return expr if dtype == pl.Boolean else None
    return None


def _date_text(value: Any) -> str:
    ms = to_epoch_ms(value)
    if ms is not None:
        return iso_utc(ms)
    return value if isinstance(value, str) else plain_text(value)


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if target == pa.string() and column.type == pa.bool_():
        return pa.chunked_array(
            [pa.array([None if v is None else ("true" if v else "false") for v in column.to_pylist()])],
            pa.string(),
        )
    if target == pa.string() and column.type == pa.float64():
        return pa.chunked_array(
            [pa.array([None if v is None else plain_text(v) for v in column.to_pylist()], pa.string())]
        )
    if target == pa.string() and column.type == TIMESTAMP:
        millis = column.cast(pa.int64()).to_pylist()
        return pa.chunked_array([pa.array([None if v is None else iso_utc(v) for v in millis], pa.string())])
    return column.cast(target)
