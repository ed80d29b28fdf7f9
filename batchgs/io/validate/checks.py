"""File-wide facts gathered in one pre-pass before rows are checked.

Some problems are only visible against the whole file: a key repeated in a later row, an id column
whose values are zero-padded to a fixed width except where Excel dropped the zeros, a date column that
mixes day-first and month-first values. The pre-pass reads only the columns concerned and keeps small
aggregates plus one 64-bit hash per key, so memory stays small for any file size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from batchgs.io.validate.dates import SlashEvidence, slash_parts

PLAIN_NUMBER_PATTERN = r"^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?$"  # sent as a JSON number ("007" stays text)

_ROW = "__batchgs_row"
MIN_PADDED_SHARE = 0.5
DUPLICATE_PARTITIONS = 16  # the fixed width must cover at least half the all-digit values


@dataclass
class IdLengths:
    """Lengths of all-digit values of one id column, and how many of each start with a zero."""

    by_length: Counter[int] = field(default_factory=Counter)
    zero_led: Counter[int] = field(default_factory=Counter)

    def padded_width(self) -> int | None:
        """The width the column is zero-padded to, when the column clearly is zero-padded."""
        if not self.by_length:
            return None
        width, count = max(self.by_length.items(), key=lambda item: (item[1], item[0]))
        total = sum(self.by_length.values())
        if width >= 2 and self.zero_led[width] > 0 and count >= MIN_PADDED_SHARE * total:
            return width
        return None


@dataclass
class Duplicates:
    """Rows (0-based) whose key already appeared, mapped to the row of the first occurrence."""

    later: dict[int, int] = field(default_factory=dict)
    first_rows: set[int] = field(default_factory=set)


class FactCollector:
    """Feed batches of (key text, date texts, id texts) columns; read the facts at the end."""

    def __init__(
        self,
        key: str | None,
        slash_columns: list[str],
        id_columns: list[str],
        auto_columns: list[str] | None = None,
    ) -> None:
        self.key = key
        self.slash = {name: SlashEvidence() for name in slash_columns}
        self.ids = {name: IdLengths() for name in id_columns}
        # AUTO columns (event and offline custom attributes): the first row sending a plain number
        self.number_rows: dict[str, int | None] = dict.fromkeys(auto_columns or ())
        self._hashes: list[pl.Series] = []  # one UInt64 per row (null: no key), rows in file order
        self._hashed_rows = 0

    def add(self, frame: pl.DataFrame, offset: int) -> None:
        """`frame` holds stripped text columns (null when empty); row i is row offset+i of the file."""
        frame = frame.with_row_index(_ROW, offset=offset)
        if self.key is not None:
            # 8 bytes a row: batches come in order from row 0, so a hash's position is its row
            if offset != self._hashed_rows:
                raise ValueError(f"batches must come in order: row {offset} after {self._hashed_rows}")
            self._hashed_rows += frame.height
            self._hashes.append(
                frame.select(
                    pl.when(pl.col(self.key).is_not_null()).then(pl.col(self.key).hash(seed=7))
                ).to_series()
            )
        for name, evidence in self.slash.items():
            # most date columns hold no D/M/Y text at all: a cheap anchored test first
            candidates = frame.select(pl.col(name), pl.col(_ROW)).filter(
                pl.col(name).str.contains(r"^\d{1,2}[/.-]")
            )
            if not candidates.height:
                continue
            first, second = slash_parts(pl.col(name))
            stats = candidates.select(
                day=((first > 12) & (second <= 12)).fill_null(False),
                month=((second > 12) & (first <= 12)).fill_null(False),
                row=pl.col(_ROW),
            )
            day = stats.filter(pl.col("day"))
            month = stats.filter(pl.col("month"))
            evidence.day_first += day.height
            evidence.month_first += month.height
            if day.height and evidence.day_first_row is None:
                evidence.day_first_row = int(day["row"][0])
            if month.height and evidence.month_first_row is None:
                evidence.month_first_row = int(month["row"][0])
        for name, number_row in self.number_rows.items():
            if number_row is None:
                hits = frame.filter(pl.col(name).str.contains(PLAIN_NUMBER_PATTERN)).select(_ROW).head(1)
                if hits.height:
                    self.number_rows[name] = int(hits[_ROW][0])
        for name, lengths in self.ids.items():
            digits = frame.select(pl.col(name)).filter(pl.col(name).str.contains(r"^\d+$"))
            if not digits.height:
                continue
            counted = digits.group_by(pl.col(name).str.len_chars().alias("n")).agg(
                total=pl.len(), zeros=pl.col(name).str.starts_with("0").sum()
            )
            for n, total, zeros in counted.iter_rows():
                lengths.by_length[int(n)] += int(total)
                lengths.zero_led[int(n)] += int(zeros)

    def duplicates(self) -> Duplicates:
        """Later occurrences of a key hash, with the row of the first one.

        Done in partitions of the hash space so that the transient memory of the look-up is a
        fraction of the hashes, which themselves take 8 bytes a row.
        """
        if not self._hashes:
            return Duplicates()
        hashes = pl.concat(self._hashes)
        self._hashes = []
        later: dict[int, int] = {}
        top = hashes // (2**64 // DUPLICATE_PARTITIONS)
        for part in range(DUPLICATE_PARTITIONS):
            rows = (top == part).fill_null(False).arg_true()
            if rows.len() < 2:
                continue
            subset = pl.DataFrame({"h": hashes.gather(rows), _ROW: rows})
            repeated = (
                subset.filter(pl.col("h").is_duplicated())
                .with_columns(first=pl.col(_ROW).min().over("h"))
                .filter(pl.col(_ROW) != pl.col("first"))
            )
            later.update(zip(repeated[_ROW].to_list(), repeated["first"].to_list(), strict=True))
        return Duplicates(later=later, first_rows=set(later.values()))

    def id_widths(self) -> dict[str, int | None]:
        return {name: lengths.padded_width() for name, lengths in self.ids.items()}
