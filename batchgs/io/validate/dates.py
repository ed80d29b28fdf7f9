"""Date cells → epoch milliseconds (PX) or YYYY-MM-DD (CS), as Polars expressions (no per-row Python).

Accepted, in this order: `--date-format` (strftime, when given), ISO 8601 with or without offset
(`2024-03-31T09:30:00+02:00`, `2024-03-31 09:30`, `2024-03-31`), D/M/Y or M/D/Y with `/`, `.` or `-`
(only when the value itself says which: `25/03/2024`; `03/04/2024` is `ambiguous-date`), epoch
milliseconds (11–14 digits) and typed Excel cells. A wall time without offset is read in `--timezone`
(zoneinfo rules via Polars, so DST is right): a time that falls in a DST gap is `bad-date`, one that
occurs twice takes the first occurrence (as `zoneinfo` does with fold=0). With a px-data-loader
config.json as the map, both take the zone's standard offset instead, as the loader did (`dst_rule`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

ISO_PATTERN = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
SLASH_PATTERN = (
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[Tt ]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
EPOCH_MS_PATTERN = r"^\d{11,14}$"
MIN_EPOCH_MS_NUMBER = 10**10  # a typed number below this in a date column is not epoch ms
_CANONICAL = "%Y-%m-%d %H:%M:%S"
AWARE_DIRECTIVES = ("%z", "%:z", "%::z", "%#z", "%Z")


@dataclass
class SlashEvidence:
    """What a whole column says about its day/month order (collected in the pre-pass)."""

    day_first: int = 0  # values whose first part is > 12
    month_first: int = 0  # values whose second part is > 12
    day_first_row: int | None = None
    month_first_row: int | None = None

    @property
    def conflicting(self) -> bool:
        return self.day_first > 0 and self.month_first > 0


@dataclass(frozen=True)
class DateContext:
    timezone: str = "UTC"
    date_format: str | None = None
    # wall times a DST change makes ambiguous: "first" = the first occurrence, a skipped time is
    # bad-date; "standard" = read with the zone's standard offset, as pytz (so Gainsight's PX data
    # loader) does: the repeated hour's second occurrence, a skipped time shifted forward.
    dst_rule: Literal["first", "standard"] = "first"


@dataclass(frozen=True)
class ParsedDates:
    """Expressions for one date column: its epoch ms, its local date text and the problem code."""

    epoch_ms: pl.Expr  # Int64, null when not a date (or a wall time in a DST gap)
    local_date: pl.Expr  # String YYYY-MM-DD, null when not a date
    present: pl.Expr  # Boolean: the cell is not empty
    ambiguous: pl.Expr  # Boolean: day/month order unknown

    def code(self, value: pl.Expr) -> pl.Expr:
        """null when empty or parsed into `value` (epoch_ms or local_date), else the problem code."""
        return (
            pl.when(~self.present | value.is_not_null())
            .then(pl.lit(None, pl.String))
            .when(self.ambiguous)
            .then(pl.lit("ambiguous-date"))
            .otherwise(pl.lit("bad-date"))
        )


def _localise(naive: pl.Expr, ctx: DateContext) -> pl.Expr:
    tz = ctx.timezone
    if ctx.dst_rule == "first":
        return naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    local = naive.dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
    # A skipped wall time: the offset in force just before the change (gaps last at most an hour).
    before = (naive - pl.duration(hours=2)).dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
    offset = before.dt.base_utc_offset() + before.dt.dst_offset()
    shifted = (naive - offset).dt.replace_time_zone("UTC").dt.convert_time_zone(tz)
    return pl.coalesce(local, shifted)


def _canonical(y: pl.Expr, mo: pl.Expr, d: pl.Expr, h: pl.Expr, mi: pl.Expr, s: pl.Expr) -> pl.Expr:
    text = pl.concat_str(
        [
            y,
            pl.lit("-"),
            mo.str.zfill(2),
            pl.lit("-"),
            d.str.zfill(2),
            pl.lit(" "),
            h.fill_null("0").str.zfill(2),
            pl.lit(":"),
            mi.fill_null("00"),
            pl.lit(":"),
            s.fill_null("00"),
        ]
    )
    return text.str.to_datetime(_CANONICAL, time_unit="ms", strict=False)


def general_dates(text: pl.Series, ctx: DateContext, evidence: SlashEvidence | None = None) -> pl.DataFrame:
    """Parse stripped, non-empty-or-null text cells with every accepted form.

    Returns `epoch_ms` (Int64), `local_date` (YYYY-MM-DD), `present` and `ambiguous` (Boolean), one row
    per cell. Done in stages (regexes once, then the arithmetic) so that it stays cheap on the few
    cells the fast path left over.
    """
    tz = ctx.timezone
    t = pl.col("t")
    frame = pl.DataFrame({"t": text}, schema={"t": pl.String})
    first_stage = [
        t.str.extract_groups(ISO_PATTERN).alias("iso"),
        pl.when(t.str.contains(EPOCH_MS_PATTERN)).then(t.cast(pl.Int64, strict=False)).alias("num"),
    ]
    if ctx.date_format:
        first_stage.append(t.str.to_datetime(ctx.date_format, time_unit="ms", strict=False).alias("fmt"))
    else:
        first_stage.append(t.str.extract_groups(SLASH_PATTERN).alias("sl"))
    frame = frame.with_columns(first_stage)

    iso = pl.col("iso").struct.field
    offset = iso("8").str.replace(":", "", literal=True)
    minutes = (
        pl.when(offset.is_in(["Z", "z"]))
        .then(pl.lit(0, pl.Int64))
        .otherwise(
            offset.str.slice(1, 2).cast(pl.Int64) * 60 + offset.str.slice(3, 2).cast(pl.Int64).fill_null(0)
        )
    )
    second_stage = [
        _canonical(iso("1"), iso("2"), iso("3"), iso("4"), iso("5"), iso("6")).alias("naive"),
        pl.concat_str([iso("7"), pl.lit("00")]).str.slice(0, 3).cast(pl.Int64).fill_null(0).alias("frac"),
        (pl.when(offset.str.starts_with("-")).then(-minutes).otherwise(minutes) * 60_000).alias("offset"),
        pl.lit(False).alias("ambiguous"),
    ]
    if not ctx.date_format:
        part = pl.col("sl").struct.field
        first, second = part("1").cast(pl.Int64), part("2").cast(pl.Int64)
        month_first = (second > 12) & (first <= 12)
        undecided = (first <= 12) & (second <= 12) & (first != second)
        if evidence is not None and evidence.conflicting:
            undecided = first.is_not_null()
        hour = part("4").cast(pl.Int64)
        meridiem = part("7").str.to_lowercase()
        hour24 = (
            pl.when(meridiem.is_null())
            .then(hour)
            .when((hour >= 1) & (hour <= 12))
            .then(hour % 12 + pl.when(meridiem == "pm").then(12).otherwise(0))
        )
        hour_text = pl.when(part("4").is_not_null()).then(hour24.cast(pl.String))
        hour_ok = part("4").is_null() | hour24.is_not_null()
        day = pl.when(month_first).then(part("2")).otherwise(part("1"))
        month = pl.when(month_first).then(part("1")).otherwise(part("2"))
        second_stage[-1] = undecided.fill_null(False).alias("ambiguous")
        second_stage.append(
            pl.when(~undecided.fill_null(False) & hour_ok)
            .then(_canonical(part("3"), month, day, hour_text, part("5"), part("6")))
            .alias("slash")
        )
    frame = frame.with_columns(second_stage)

    naive, epochs, naives = pl.col("naive"), [], []
    if ctx.date_format:
        parsed = pl.col("fmt")
        if any(directive in ctx.date_format for directive in AWARE_DIRECTIVES):
            epochs.append(parsed.dt.epoch("ms"))
            naives.append(parsed.dt.convert_time_zone(tz).dt.replace_time_zone(None))
        else:
            epochs.append(_localise(parsed, ctx).dt.epoch("ms"))
            naives.append(parsed)
    epochs.append(
        pl.when(pl.col("offset").is_not_null())
        .then(naive.dt.replace_time_zone("UTC").dt.epoch("ms") - pl.col("offset"))
        .otherwise(_localise(naive, ctx).dt.epoch("ms"))
        + pl.col("frac")
    )
    naives.append(naive)
    if not ctx.date_format:
        epochs.append(_localise(pl.col("slash"), ctx).dt.epoch("ms"))
        naives.append(pl.col("slash"))
    epochs.append(pl.col("num"))
    naives.append(_from_epoch_local(pl.col("num"), tz))
    return frame.select(
        pl.coalesce(epochs).alias("epoch_ms"),
        pl.coalesce(naives).dt.strftime("%Y-%m-%d").alias("local_date"),
        t.is_not_null().alias("present"),
        pl.col("ambiguous"),
    )


def date_codes(parsed: pl.DataFrame, value: str) -> pl.Series:
    """The problem code of each cell of `general_dates` output, for `value` = epoch_ms | local_date."""
    return parsed.select(
        pl.when(~pl.col("present") | pl.col(value).is_not_null())
        .then(pl.lit(None, pl.String))
        .when(pl.col("ambiguous"))
        .then(pl.lit("ambiguous-date"))
        .otherwise(pl.lit("bad-date"))
    ).to_series()


def _from_epoch_local(epoch_ms: pl.Expr, tz: str) -> pl.Expr:
    return (
        pl.from_epoch(epoch_ms, time_unit="ms")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
        .dt.replace_time_zone(None)
    )


def typed_dates(source: pl.Expr, dtype: pl.DataType, ctx: DateContext) -> ParsedDates | None:
    """Excel date/datetime/number cells; None when the column holds text (use `general_dates`)."""
    tz = ctx.timezone
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone:
            epoch = source.dt.epoch("ms")
            naive = source.dt.convert_time_zone(tz).dt.replace_time_zone(None)
        else:
            naive = source.dt.cast_time_unit("ms")
            epoch = _localise(naive, ctx).dt.epoch("ms")
    elif isinstance(dtype, pl.Date):
        naive = source.cast(pl.Datetime("ms"))
        epoch = _localise(naive, ctx).dt.epoch("ms")
    elif dtype.is_numeric():
        epoch = pl.when(source >= MIN_EPOCH_MS_NUMBER).then(source.cast(pl.Int64, strict=False))
        naive = _from_epoch_local(epoch, tz)
    elif isinstance(dtype, pl.String | pl.Null):
        return None
    else:  # booleans and anything else cannot be dates
        epoch = pl.lit(None, pl.Int64)
        naive = pl.lit(None, pl.Datetime("ms"))
    return ParsedDates(epoch, naive.dt.strftime("%Y-%m-%d"), source.is_not_null(), pl.lit(False))


def slash_parts(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(first, second) numbers of a D/M/Y-or-M/D/Y value, for the pre-pass evidence."""
    slash = text.str.extract_groups(SLASH_PATTERN)
    return slash.struct.field("1").cast(pl.Int64), slash.struct.field("2").cast(pl.Int64)


# -- fast path ----------------------------------------------------------------------------------
# The general parser above runs several regexes per cell. Most columns hold one shape of date, so a
# batch is first parsed with the few strptime formats that its first values show; only the cells
# those formats reject go through `general_dates` (the validation layer re-checks them there).


@dataclass(frozen=True)
class FastFormat:
    shape: re.Pattern[str]  # what a value of this format looks like (on a sample, in Python)
    format: str  # the Polars (chrono) format
    zone: str  # "utc": a literal Z; "aware": an offset in the text; "local": --timezone


FAST_FORMATS: tuple[FastFormat, ...] = (
    FastFormat(re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"), "%Y-%m-%dT%H:%M:%SZ", "utc"),
    FastFormat(re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,9}Z"), "%Y-%m-%dT%H:%M:%S%.fZ", "utc"),
    FastFormat(
        re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[+-]\d{2}:?\d{2}"),
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "aware",
    ),
    FastFormat(
        re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?"), "%Y-%m-%dT%H:%M:%S%.f", "local"
    ),
    FastFormat(
        re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?"), "%Y-%m-%d %H:%M:%S%.f", "local"
    ),
    FastFormat(re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"), "%Y-%m-%d %H:%M", "local"),
    FastFormat(re.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d", "local"),
)
_FAST_T_MINUTES = FAST_FORMATS[5]
EPOCH_SHAPE = re.compile(EPOCH_MS_PATTERN)


def choose_formats(sample: Sequence[str]) -> tuple[FastFormat, ...]:
    """The fast formats that the sampled (stripped, non-empty) values show, most frequent first."""
    counts: dict[FastFormat, int] = {}
    for value in sample:
        for fast in FAST_FORMATS:
            if fast.shape.fullmatch(value):
                counts[fast] = counts.get(fast, 0) + 1
                break
    return tuple(sorted(counts, key=lambda fast: -counts[fast]))


def fast_dates(text: pl.Expr, formats: Sequence[FastFormat], ctx: DateContext, *, epoch: bool) -> ParsedDates:
    """Parse with --date-format, `formats` and epoch ms (when `epoch`) only; the rest reads as not parsed."""
    tz = ctx.timezone
    epochs: list[pl.Expr] = []
    naives: list[pl.Expr] = []
    if ctx.date_format:  # the user's format first, exactly as the general parser applies it
        parsed = text.str.to_datetime(ctx.date_format, time_unit="ms", strict=False)
        if any(directive in ctx.date_format for directive in AWARE_DIRECTIVES):
            epochs.append(parsed.dt.epoch("ms"))
            naives.append(parsed.dt.convert_time_zone(tz).dt.replace_time_zone(None))
        else:
            epochs.append(_localise(parsed, ctx).dt.epoch("ms"))
            naives.append(parsed)
    for fast in formats:
        source = text.str.replace("T", " ", literal=True) if fast is _FAST_T_MINUTES else text
        parsed = source.str.to_datetime(fast.format, time_unit="ms", strict=False)
        if fast.zone == "aware":
            epochs.append(parsed.dt.epoch("ms"))
            naives.append(pl.lit(None, pl.Datetime("ms")))  # the written date is not kept: slow path
        elif fast.zone == "utc":
            epochs.append(parsed.dt.epoch("ms"))
            naives.append(parsed)
        else:
            epochs.append(parsed.dt.epoch("ms") if tz == "UTC" else _localise(parsed, ctx).dt.epoch("ms"))
            naives.append(parsed)
    if epoch:
        number = pl.when(text.str.contains(EPOCH_MS_PATTERN)).then(text.cast(pl.Int64, strict=False))
        epochs.append(number)
        naives.append(_from_epoch_local(number, tz))
    nothing = [pl.lit(None, pl.Int64)]
    value = pl.coalesce(epochs or nothing)
    local = pl.coalesce(naives or [pl.lit(None, pl.Datetime("ms"))]).dt.strftime("%Y-%m-%d")
    return ParsedDates(value, local, text.is_not_null(), pl.lit(False))
