"""CSV export: UTF-8 (optionally with a BOM so Excel detects the encoding), RFC 4180 quoting and CRLF
line endings (RFC 4180's, and what Excel writes; every CSV reader accepts them).

Dates become ISO-8601 UTC text (`2024-03-05T14:07:00.123Z`), ids stay exactly as the API gave them,
booleans are `true`/`false`, nulls are empty cells. Text a spreadsheet would run as a formula gets a
leading `'` unless `raw`. Late columns are appended to the rows as they come; `close()` then rewrites
the file once, streaming, with the full header and every earlier row padded.
"""

from __future__ import annotations

import csv
import os
from typing import Any, TextIO

import polars as pl

from batchgs.io.write.base import MAX_MS, MIN_MS, RecordWriter
from batchgs.io.write.cells import (
    DAY_MS,
    FORMULA_START,
    ISO_FORMAT,
    cell_text,
    iso_text_by_day,
    neutralised,
    worth_days_table,
)
from batchgs.io.write.safe_cells import FORMULA_TRIGGERS, neutralise

LINE_END = "\r\n"
AFTER_TRIGGERS = chr(ord(max(FORMULA_TRIGGERS)) + 1)  # "A": a text from here on starts with no trigger


class CsvWriter(RecordWriter):
    suffix = ".csv"
    cells_per_value = True  # (`batching.batched`: each page's cells as its own frame would write them)

    def _open(self) -> None:
        self._encoding = "utf-8-sig" if self.bom else "utf-8"
        self._file: TextIO = open(self.tmp_path, "x", encoding=self._encoding, newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file, lineterminator=LINE_END)
        self._csv.writerow([self._text(c) for c in self.columns])
        self._kinds = self.kinds()

    def _text(self, text: str) -> str:
        return text if self.raw else neutralise(text)

    def _on_late_columns(self, names: list[str]) -> None:
        self._kinds = self.kinds()

    def _write_frame(self, frame: pl.DataFrame) -> None:
        """The cells made by Polars expressions (batchgs.io.write.cells) and written by `write_csv`.

        A first pass takes each text column's lowest text and asks which date columns hold a number
        that is no date: only those columns get per-cell work; dates are written by `write_csv` itself
        (`datetime_format`). The lowest text tells whether the column holds an empty text, and whether
        any text may start with a formula trigger (all sort before `AFTER_TRIGGERS`): only a column with
        such a text is searched (`_formula_columns`), where searching every text column was ~15% of
        the writer's CPU."""
        schema = frame.schema
        texts = [n for n in frame.columns if schema[n] == pl.String]
        dates = [
            n
            for n, k in zip(frame.columns, self._kinds, strict=True)
            if k == "date" and schema[n].is_integer()
        ]
        checks = [
            *(pl.col(n).min().alias(f"l:{n}") for n in texts),
            *((~pl.col(n).is_between(MIN_MS, MAX_MS)).any().alias(f"d:{n}") for n in dates),
            *(pl.col(n).min().alias(f"<:{n}") for n in dates),
            *(pl.col(n).max().alias(f">:{n}") for n in dates),
        ]
        flags = frame.select(checks).row(0, named=True) if checks else {}
        formulas = set() if self.raw else _formula_columns(frame, texts, flags)
        cells = []
        for name, kind in zip(frame.columns, self._kinds, strict=True):
            dtype, expr = schema[name], pl.col(name)
            if dtype == pl.String and kind != "date":
                if flags[f"l:{name}"] == "":
                    expr = pl.when(expr != "").then(expr)
                if name in formulas:
                    expr = neutralised(expr)
            elif name in dates and not flags[f"d:{name}"]:
                expr = _date_cells(expr, flags[f"<:{name}"], flags[f">:{name}"], frame.height)
            else:
                expr = cell_text(expr, dtype, kind, raw=self.raw)
            cells.append(expr.alias(name))
        self._file.flush()
        frame.select(cells).write_csv(
            self._file.buffer,
            include_header=False,
            line_terminator=LINE_END,
            null_value="",
            quote_style="necessary",
            datetime_format=ISO_FORMAT,
        )

    def _finish(self) -> None:
        self._file.close()
        if self.late_columns:
            self._rewrite_header()

    def _rewrite_header(self) -> None:
        """Put the full header in place and pad the rows written before a late column appeared."""
        width = len(self.columns)
        fixed = self.tmp_path.with_name(self.tmp_path.name + ".fix")
        self._fix_path = fixed
        with (
            open(self.tmp_path, encoding="utf-8-sig", newline="") as src,
            open(fixed, "x", encoding=self._encoding, newline="") as dst,
        ):
            reader = csv.reader(src)
            writer = csv.writer(dst, lineterminator=LINE_END)
            next(reader, None)
            writer.writerow([self._text(c) for c in self.columns])
            for row in reader:
                if len(row) < width:
                    row.extend([""] * (width - len(row)))
                writer.writerow(row)
        os.replace(fixed, self.tmp_path)

    def _discard(self) -> None:
        self._file.close()

    def _temp_paths(self) -> list[Any]:
        return [self.tmp_path, self.tmp_path.with_name(self.tmp_path.name + ".fix")]


def _date_cells(ms: pl.Expr, low: int | None, high: int | None, rows: int) -> pl.Expr:
    """A column of dates (milliseconds, all plausible) as `write_csv` writes it: ISO text from the
    tables of `iso_text_by_day` when its days span few enough, else the datetimes themselves
    (`datetime_format`). Either way the same text."""
    if low is None or high is None:  # (no value at all)
        return pl.from_epoch(ms, time_unit="ms")
    first_day, last_day = low // DAY_MS, high // DAY_MS
    if not worth_days_table(first_day, last_day, rows):
        return pl.from_epoch(ms, time_unit="ms")
    return iso_text_by_day(ms.cast(pl.Int64), first_day, last_day)


def _formula_columns(frame: pl.DataFrame, texts: list[str], flags: dict[str, object]) -> set[str]:
    """The text columns with a formula-like cell. A column whose lowest text (`l:` in `flags`) sorts at
    or after `AFTER_TRIGGERS` has none: every text of it starts with a later character (Polars and
    Python order texts by code point). The others are searched."""
    low = [n for n in texts if isinstance(lowest := flags[f"l:{n}"], str) and lowest < AFTER_TRIGGERS]
    if not low:
        return set()
    found = frame.select(pl.col(n).str.contains(FORMULA_START).any().alias(n) for n in low).row(0, named=True)
    return {n for n in low if found[n]}
