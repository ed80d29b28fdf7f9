"""The cells of an export as Polars expressions: every writer writes frames, column-wise (`write_batch`
makes one of its records first).

Dates as ISO-8601 UTC text (`2024-03-05T14:07:00.123Z`), ids as text whatever their JSON type,
booleans `true`/`false`, formula-like text neutralised unless `raw` (batchgs.io.write.safe_cells).
A value no expression can place (a date column holding text) goes through the Python function
(`to_epoch_ms`), for that column only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import polars as pl

from batchgs.io.write.base import MAX_MS, MIN_MS, iso_utc, to_epoch_ms
from batchgs.io.write.safe_cells import PLAIN_NUMBER, neutralise

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
FORMULA_START = r"^[=+\-@\t\r]"
DAY_MS = 86_400_000


def neutralised(text: pl.Expr) -> pl.Expr:
    """Formula-like text with a leading `'` (the CSV protection), other text unchanged."""
    risky = text.str.contains(FORMULA_START) & ~text.str.contains(PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + text).otherwise(text)


def epoch_ms(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """Milliseconds of a numeric date column, null where not a plausible date (years 1900..9999)."""
    if dtype.is_integer():
        ms = expr.cast(pl.Int64)
    elif dtype.is_float():
        ms = pl.when(expr.is_finite()).then(expr.round()).cast(pl.Int64, strict=False)
    else:
        return None
    return pl.when(ms.is_between(MIN_MS, MAX_MS)).then(ms)


def iso_text(ms: pl.Expr) -> pl.Expr:
    return pl.from_epoch(ms, time_unit="ms").dt.strftime(ISO_FORMAT)


def iso_text_by_day(ms: pl.Expr, first_day: int, last_day: int) -> pl.Expr:
    """`iso_text` of an Int64 column of milliseconds whose days (`ms // DAY_MS`) all lie in
    [first_day, last_day], put together from small tables of texts: the day's date (formatted once per
    day of that span), the minute of the day, the second, the millisecond. Formatting every value
    with the ISO pattern (chrono) was ~40% of the CSV writer's CPU on user pages (six date columns);
    four look-ups and one concatenation cost about half of it, but the tables and expressions cost
    ~0.1 ms a column whatever its length: it pays on the writers' batches of 10,000 rows and more
    (`worth_days_table`)."""
    days = pl.select(
        pl.from_epoch(pl.int_range(first_day, last_day + 1, dtype=pl.Int64) * DAY_MS, time_unit="ms")
        .dt.strftime("%Y-%m-%d")
        .alias("day")
    ).to_series()
    minutes, seconds, millis = _time_of_day_texts()
    day = ms // DAY_MS  # (floor division: a time before 1970 still has its time of day in [0, DAY_MS))
    time = ms - day * DAY_MS
    return pl.concat_str(
        [
            pl.lit(days).gather(day - first_day),
            pl.lit(minutes).gather(time // 60_000),
            pl.lit(seconds).gather(time // 1000 % 60),
            pl.lit(millis).gather(time % 1000),
        ]
    )


DAYS_TABLE_ROWS = 10_000  # the CSV writer 10% faster at 10,000 rows, 19% at 40,000; slower at 5,000


def worth_days_table(first_day: int, last_day: int, rows: int) -> bool:
    """Whether `iso_text_by_day` pays: a column of many rows, whose days span no more days than it
    has rows (the table of days costs what formatting as many values does)."""
    return rows >= DAYS_TABLE_ROWS and last_day - first_day < rows


@functools.cache
def _time_of_day_texts() -> tuple[pl.Series, pl.Series, pl.Series]:
    """`T%H:%M:` of each minute of a day, `%S.` of each second, `%3fZ` of each millisecond."""
    minutes = pl.select(
        pl.from_epoch(pl.int_range(0, 1440, dtype=pl.Int64) * 60_000, time_unit="ms")
        .dt.strftime("T%H:%M:")
        .alias("minute")
    ).to_series()
    seconds = pl.Series("second", [f"{s:02d}." for s in range(60)])
    millis = pl.Series("milli", [f"{m:03d}Z" for m in range(1000)])
    return minutes, seconds, millis


def cell_text(expr: pl.Expr, dtype: pl.DataType, kind: str, *, raw: bool) -> pl.Expr:
    """A CSV cell for each value of the column."""
    protect = (lambda e: e) if raw else neutralised
    if kind == "date":
        ms = epoch_ms(expr, dtype)
        if ms is not None:
            return pl.when(ms.is_not_null()).then(iso_text(ms)).otherwise(_number_text(expr, dtype))
        if dtype == pl.String:
            return per_value(expr, lambda v: _date_text(v, raw))
    if dtype == pl.String:
        return pl.when(expr != "").then(protect(expr))
    if kind == "id":
        return protect(id_texts(expr, dtype))
    return expr


def json_value(expr: pl.Expr, dtype: pl.DataType, kind: str) -> pl.Expr:
    """A JSON Lines value (dates ISO text, ids text, no NaN; `JsonlWriter._write_rows` is the way for a
    date column holding a number that is no date, kept as that number)."""
    if kind == "date":
        ms = epoch_ms(expr, dtype)
        if ms is not None:  # (a number that is no date is null here: the caller checks)
            return iso_text(ms)
        if dtype == pl.String:
            return per_value(expr, _json_date)
    if kind == "id":
        return id_texts(expr, dtype)
    if dtype.is_float():
        return pl.when(expr.is_finite()).then(expr)
    return expr


def _json_date(value: str) -> str:
    ms = to_epoch_ms(value)
    return value if ms is None else iso_utc(ms)


def id_texts(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Ids as text: integers as digits, whole floats without `.0`, booleans `true`/`false`."""
    if dtype == pl.String:
        return expr
    if dtype.is_float():
        whole = expr.is_finite() & (expr == expr.round()) & (expr.abs() < 2**63)
        return (
            pl.when(whole)
            .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(expr.cast(pl.String))
        )
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(expr.not_()).then(pl.lit("false"))
    return expr.cast(pl.String)


def _number_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A number that is no date, as text (Polars prints floats as Python's repr does, but `1e-7`)."""
    return expr.cast(pl.String)


def _date_text(value: str, raw: bool) -> str:
    ms = to_epoch_ms(value)
    if ms is not None:
        return iso_utc(ms)
    return value if raw else neutralise(value)


def per_value(expr: pl.Expr, convert: Callable[[Any], Any], dtype: pl.DataType | None = None) -> pl.Expr:
    """`convert` on each non-null value: the rare columns no expression can type (dates given as text)."""
    return expr.map_elements(convert, return_dtype=dtype or pl.String(), skip_nulls=True)
