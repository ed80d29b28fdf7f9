"""The page check's byte counts equal what `bytes.count` gives, on any bytes (they only replace it)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.io import page_bytes


def _by_bytes_count(data: bytes, *, anywhere: bool = True) -> page_bytes.ByteCounts:
    """The counts by `bytes.count`: keys `":` less those whose value starts with `n`, booleans as the
    words `true` and `fals` anywhere or as the first letter of a key's value, and `[`."""
    first = data.find(b'":')
    colon = b'": ' if data[first + 2 : first + 3] == b" " else b'":'
    booleans = data.count(b"true") + data.count(b"fals")
    if not anywhere:
        booleans = data.count(colon + b"t") + data.count(colon + b"f")
    return page_bytes.ByteCounts(
        keys=data.count(b'":') - data.count(colon + b"n"), booleans=booleans, lists=data.count(b"[")
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


_json_like_bytes = st.lists(
    st.sampled_from([b'"', b":", b" ", b"n", b"t", b"f", b"[", b"x", b"rue", b"als", b"ull", b'":']),
    max_size=40,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=64)
    | _json_like_bytes
    | st.sampled_from([b"", b"n", b'":', b'":nul', b'"::null', b"tru", b"false[", b'x":n', b'x": t', b'":f'])
)
def test_counts_of_any_bytes_equal_bytes_count(data: bytes) -> None:
    """Any bytes, and short runs of the bytes that matter at every alignment (the counts read the
    page as 2- and 4-byte words from each offset)."""
    assert page_bytes.count(data) == _by_bytes_count(data)
    assert page_bytes.count(data, booleans_anywhere=False) == _by_bytes_count(data, anywhere=False)


def test_pages_larger_than_the_scratch_arrays_and_pages_counted_on_many_threads_at_once() -> None:
    record = b'{"a":null,"b":true,"c":[1,false],"d":"x\\":n","e": 5},'
    sizes = (1, 50_000, 7, 160_000, 33_001, 2)  # 50,000: ~2.8 MB (scratch kept), 160,000: ~9 MB (not)
    pages = [b'{"users":[' + record * n + b"{}]}" for n in sizes]
    expected = [_by_bytes_count(page) for page in pages]
    assert [page_bytes.count(page) for page in pages] == expected
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(page_bytes.count, pages * 4)) == expected * 4


def test_a_null_at_the_very_end_and_texts_that_look_like_values_are_counted_as_bytes_count_does() -> None:
    data = b'{"a":"x\\":null","b":true,"c":[false,"true"],"d":null}'
    assert page_bytes.count(data) == page_bytes.ByteCounts(keys=3, booleans=3, lists=1)
    assert page_bytes.count(b'{"a":null') == page_bytes.ByteCounts(keys=0, booleans=0, lists=0)
