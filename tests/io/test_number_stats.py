"""The page parse's number checks (`batchgs.io.number_stats`) against the plain Python answer."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.io.number_stats import fractions_and_magnitudes

_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**60), 2**60).map(float),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_VALUES, min_size=1, max_size=30), min_size=1, max_size=6))
def test_each_column_has_its_own_fraction_and_largest_magnitude(columns: list[list[float | None]]) -> None:
    height = min(len(c) for c in columns)
    data = {f"c{i}": values[:height] for i, values in enumerate(columns)}
    frame = pl.DataFrame(data, schema={name: pl.Float64 for name in data})
    got = fractions_and_magnitudes(frame, list(data))
    for name, values in data.items():
        present = [v for v in values if v is not None]
        expected = (any(v != math.floor(v) for v in present), max((abs(v) for v in present), default=0.0))
        assert got[name] == expected, (name, values)


def test_nulls_are_neither_fractions_nor_magnitudes_and_an_empty_page_has_neither() -> None:
    frame = pl.DataFrame(
        {"a": [None, 2.0, None], "b": [None, None, None]}, schema={"a": pl.Float64, "b": pl.Float64}
    )
    assert fractions_and_magnitudes(frame, ["a", "b"]) == {"a": (False, 2.0), "b": (False, 0.0)}
    assert fractions_and_magnitudes(frame.head(0), ["a"]) == {"a": (False, 0.0)}
    assert fractions_and_magnitudes(frame, []) == {}
