"""JSON Lines export: one flat JSON object per line, UTF-8 (never a BOM), `\\n` line endings.

Flat, not nested: the keys are the same dotted column names as in the other formats (`location.city`,
`customAttributes.plan`), every line has every column (null when empty), and `--columns` selects the
same way. Written column-wise by Polars (compact JSON); a page whose date column holds a number that
is no date goes through Python's json instead (`, ` and `: `), keeping that number. Dates are ISO-8601
UTC text, ids are JSON strings, numbers and booleans stay typed; NaN and infinities (not JSON) become
null. No formula neutralising: this is a data format, not a spreadsheet.
Late columns need no fixing: a line simply carries every column known when it was written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TextIO

import polars as pl

from batchgs.io.write.base import RecordWriter, id_text, iso_utc, to_epoch_ms
from batchgs.io.write.cells import json_value


def _value(v: Any) -> Any:
    if type(v) is float and not math.isfinite(v):
        return None
    return v


def _date(v: Any) -> Any:
    ms = to_epoch_ms(v)
    return _value(v) if ms is None else iso_utc(ms)


def _id(v: Any) -> Any:
    return id_text(v)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {"date": _date, "id": _id, "value": _value}


class JsonlWriter(RecordWriter):
    suffix = ".jsonl"

    def _open(self) -> None:
        self._file: TextIO = open(self.tmp_path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._convs = self.converters(_CONVERTERS.__getitem__)
        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def _on_late_columns(self, names: list[str]) -> None:
        self._convs = self.converters(_CONVERTERS.__getitem__)

    def _write_rows(self, rows: list[list[Any]]) -> None:
        convs, columns, encode = self._convs, self.columns, self._encode
        lines = [
            encode({c: None if v is None else f(v) for c, f, v in zip(columns, convs, row, strict=False)})
            for row in rows
        ]
        self._file.write("\n".join(lines) + "\n")

    def _write_frame(self, frame: pl.DataFrame) -> None:
        """The values made column-wise (batchgs.io.write.cells) and written by Polars (compact JSON)."""
        schema = frame.schema  # (built anew by every `frame.schema`)
        values = frame.select(
            [
                json_value(pl.col(name), schema[name], kind).alias(name)
                for name, kind in zip(frame.columns, self.kinds(), strict=True)
            ]
        )
        if values.width and values.null_count().row(0) != frame.null_count().row(0):
            self._write_rows([list(row) for row in frame.iter_rows()])  # a date that is no date: kept as is
            return
        self._file.flush()
        values.write_ndjson(self._file.buffer)

    def _finish(self) -> None:
        self._file.close()

    def _discard(self) -> None:
        self._file.close()
