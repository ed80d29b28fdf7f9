"""ISO date cells put together from tables of texts (`iso_text_by_day`) are those of the ISO pattern."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batchgs.io.write.base import MAX_MS, MIN_MS, iso_utc
from batchgs.io.write.cells import DAY_MS, DAYS_TABLE_ROWS, iso_text, iso_text_by_day, worth_days_table
from batchgs.io.write.formats import open_writer

_MS = st.one_of(st.none(), st.integers(MIN_MS, MAX_MS))


@settings(max_examples=80, deadline=None)
@given(st.lists(_MS, min_size=1, max_size=40))
@example([MIN_MS, MAX_MS, -1, 0, 1, DAY_MS - 1, DAY_MS, None])
def test_texts_by_day_are_those_of_the_pattern(values: list[int | None]) -> None:
    """Any plausible date, before 1970 too (floor division keeps the time of day in the day), and nulls."""
    frame = pl.DataFrame({"ms": values}, schema={"ms": pl.Int64})
    present = [v for v in values if v is not None]
    if not present:
        return
    first, last = min(present) // DAY_MS, max(present) // DAY_MS
    if last - first > 50_000:  # (a table of that many days is built only for columns as long)
        first = last = 0
        frame = frame.with_columns(pl.col("ms") % DAY_MS)
    got = frame.select(iso_text_by_day(pl.col("ms"), first, last).alias("t")).get_column("t").to_list()
    want = frame.select(iso_text(pl.col("ms")).alias("t")).get_column("t").to_list()
    assert got == want
    stored = frame.get_column("ms").to_list()
    assert all(t is None or t == iso_utc(v) for t, v in zip(got, stored, strict=True))


def test_the_tables_are_used_only_where_they_pay() -> None:
    assert worth_days_table(0, 700, DAYS_TABLE_ROWS)
    assert not worth_days_table(0, 700, DAYS_TABLE_ROWS - 1)  # a short frame: the pattern is cheaper
    assert not worth_days_table(0, 2 * DAYS_TABLE_ROWS, DAYS_TABLE_ROWS)  # more days than rows


def test_a_long_csv_frame_writes_the_dates_of_a_short_one(tmp_path: Path) -> None:
    """A frame long enough for the tables and the same rows in frames too short for them: one file."""
    rng = random.Random(7)
    rows = DAYS_TABLE_ROWS + 500
    start = 1_600_000_000_000
    dates = [None if rng.random() < 0.1 else start + rng.randrange(0, 700 * DAY_MS) for _ in range(rows)]
    old = [rng.randrange(MIN_MS, 0) for _ in range(rows)]  # 1900-1970: spans more days than rows
    frame = pl.DataFrame(
        {"id": [f"u{i}" for i in range(rows)], "createDate": dates, "born": old},
        schema={"id": pl.String, "createDate": pl.Int64, "born": pl.Int64},
    )
    files = []
    for name, step in (("long", rows), ("short", 1_000)):
        path = tmp_path / f"{name}.csv"
        writer = open_writer(path, frame.columns, date_columns={"createDate", "born"}, id_columns={"id"})
        for offset in range(0, rows, step):
            writer.write_frame(frame.slice(offset, step))
        writer.close()
        files.append(path.read_bytes())
    assert files[0] == files[1]
    with (tmp_path / "long.csv").open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [r["createDate"] for r in written] == ["" if d is None else iso_utc(d) for d in dates]
    assert [r["born"] for r in written] == [iso_utc(b) for b in old]
