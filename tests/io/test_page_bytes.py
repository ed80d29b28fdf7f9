"""The page check's byte counts equal what `bytes.count` gives, on any bytes (they only replace it)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.io import page_bytes


def _by_bytes_count(data: bytes, *, anywhere: bool = True) -> page_bytes.ByteCounts:
    first = data.find(b'":')
    colon = b'": ' if data[first + 2 : first + 3] == b" " else b'":'
    booleans = data.count(b"true") + data.count(b"false")
    if not anywhere:
        booleans = data.count(colon + b"true") + data.count(colon + b"false")
    return page_bytes.ByteCounts(
        keys=data.count(b'":') - data.count(colon + b"null"), booleans=booleans, lists=data.count(b"[")
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans())
def test_counts_of_any_json_page_equal_bytes_count(value: object, spaced: bool) -> None:
    data = json.dumps({"users": [value]}, separators=(", ", ": ") if spaced else (",", ":")).encode()
    assert page_bytes.count(data) == _by_bytes_count(data)
    assert page_bytes.count(data, booleans_anywhere=False) == _by_bytes_count(data, anywhere=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.sampled_from([b"", b"n", b'":', b'":nul', b'"::null', b"tru", b"false["]))
def test_counts_of_any_bytes_equal_bytes_count(data: bytes) -> None:
    assert page_bytes.count(data) == _by_bytes_count(data)
    assert page_bytes.count(data, booleans_anywhere=False) == _by_bytes_count(data, anywhere=False)


def test_a_null_at_the_very_end_and_texts_that_look_like_values_are_counted_as_bytes_count_does() -> None:
    data = b'{"a":"x\\":null","b":true,"c":[false,"true"],"d":null}'
    assert page_bytes.count(data) == page_bytes.ByteCounts(keys=3, booleans=3, lists=1)
    assert page_bytes.count(b'{"a":null') == page_bytes.ByteCounts(keys=0, booleans=0, lists=0)
