"""Property tests of date parsing: epoch milliseconds survive every text form, in every zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.entities import registry
from batchgs.io.validate.dates import DateContext, date_codes, general_dates
from batchgs.io.validate.file import FrameSource, ValidateOptions, prepare_source

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns"]
EPOCH = dt.datetime(1970, 1, 1)
MS = dt.timedelta(milliseconds=1)
instants = st.lists(st.integers(min_value=0, max_value=4_102_444_800_000), min_size=1, max_size=40)


def parse(texts: list[str], zone: str, date_format: str | None = None) -> list[int | None]:
    """Epoch ms of `texts` by the general parser, checked equal to what validation sends (fast path)."""
    parsed = general_dates(pl.Series(texts, dtype=pl.String), DateContext(zone, date_format))
    assert date_codes(parsed, "epoch_ms").null_count() == parsed.height, parsed
    general = parsed["epoch_ms"].to_list()
    events = pl.DataFrame(
        {"identifyId": [f"U{i}" for i in range(len(texts))], "eventName": "e", "date": texts}
    )
    options = ValidateOptions(timezone=zone, date_format=date_format, product_key="AP")
    validation = prepare_source(FrameSource(events), registry.get("events"), options)
    sent = [row.payload["date"] if row.payload else None for batch in validation.batches(7) for row in batch]
    assert sent == general
    return general


def local(ms: int, zone: str) -> dt.datetime:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        .astimezone(ZoneInfo(zone))
        .replace(microsecond=(ms % 1000) * 1000)
    )


def zoneinfo_ms(naive: dt.datetime, zone: str) -> int:
    """What zoneinfo (fold=0) says a wall time means: the reference for texts without an offset."""
    offset = naive.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return (naive - offset - EPOCH) // MS


@settings(max_examples=60, deadline=None, derandomize=True)
@given(instants, st.sampled_from(ZONES))
def test_iso_with_offset_round_trips_to_the_millisecond(values: list[int], zone: str) -> None:
    texts = [local(ms, zone).isoformat(timespec="milliseconds") for ms in values]
    assert parse(texts, "UTC") == values  # the offset in the text wins over --timezone


@settings(max_examples=60, deadline=None, derandomize=True)
@given(instants, st.sampled_from(ZONES))
def test_wall_time_without_offset_is_read_in_the_zone_like_zoneinfo(values: list[int], zone: str) -> None:
    walls = [local(ms, zone).replace(tzinfo=None) for ms in values]
    texts = [w.isoformat(sep=" ", timespec="milliseconds") for w in walls]
    expected = [zoneinfo_ms(w, zone) for w in walls]
    assert parse(texts, zone) == expected
    # a wall time that occurs once maps back to the very instant it came from
    for ms, wall, got in zip(values, walls, expected, strict=True):
        once = (
            wall.replace(tzinfo=ZoneInfo(zone), fold=0).utcoffset()
            == wall.replace(tzinfo=ZoneInfo(zone), fold=1).utcoffset()
        )
        if once:
            assert got == ms


@settings(max_examples=40, deadline=None, derandomize=True)
@given(instants, st.sampled_from(ZONES))
def test_epoch_ms_text_and_date_format_round_trip(values: list[int], zone: str) -> None:
    big = [ms for ms in values if ms >= 10**10]
    if big:
        assert parse([str(ms) for ms in big], zone) == big
    walls = [local(ms, zone).replace(tzinfo=None, microsecond=0) for ms in values]
    texts = [w.strftime("%d.%m.%Y %H:%M:%S") for w in walls]
    assert parse(texts, zone, "%d.%m.%Y %H:%M:%S") == [zoneinfo_ms(w, zone) for w in walls]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),  # midnight always exists
)
def test_date_only_and_self_evident_day_first_mean_local_midnight(day: dt.date, zone: str) -> None:
    midnight = zoneinfo_ms(dt.datetime(day.year, day.month, day.day), zone)
    assert parse([day.isoformat()], zone) == [midnight]
    if day.day > 12:  # one column is one order: a column mixing both is ambiguous by design
        assert parse([day.strftime("%d/%m/%Y")], zone) == [midnight]
        assert parse([day.strftime("%m/%d/%Y")], zone) == [midnight]
