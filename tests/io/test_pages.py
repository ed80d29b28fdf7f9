"""Pages read by Polars: the fast schema parse never loses or changes a value; whatever it cannot read
exactly goes the slow way, which widens the schema; the flat frame matches `flatten` row for row."""

from __future__ import annotations

import json
import random
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.io.flatten import flatten
from batchgs.io.pages import (
    PageError,
    PageReader,
    _awkward_anywhere,
    _list_awkward,
    frame_bytes,
    frame_from_rows,
    frame_of,
)


def _page(records: list[dict[str, Any]], **envelope: Any) -> bytes:
    return json.dumps({"users": records, **envelope}, separators=(",", ":")).encode()


def _user(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "identifyId": f"u{i}",
        "score": 1.5 * i,
        "visits": i,
        "createDate": 1_700_000_000_000 + i,
        "phone": None,
        "location": {"city": "Paris", "coordinates": {"latitude": 48.85}},
        "propertyKeys": ["AP-1", "AP-2"],
        "customAttributes": {"plan": "pro", "isBeta": i % 2 == 0},
        **extra,
    }


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if v is not None} for row in frame.to_dicts()]


def test_the_flat_frame_is_flatten_of_each_record() -> None:
    reader = PageReader("users")
    records = [_user(i) for i in range(50)]
    first = reader.read(_page(records, scrollId="r", totalHits=50))
    second = reader.read(_page(records, scrollId="s", totalHits=50))
    assert first.fast and second.fast  # the first page's schema is inferred by Polars, then checked
    assert reader.slow_pages == 0
    expected = [flatten(r) for r in records]
    assert _rows(first.frame) == expected and _rows(second.frame) == expected
    assert second.envelope == {"scrollId": "s", "totalHits": 50}  # an integer, as JSON had it
    assert second.frame.schema["visits"] == pl.Int64 and second.frame.schema["score"] == pl.Float64
    assert "phone" not in second.frame.columns  # a null never makes a column


def test_a_field_first_seen_on_page_57_gets_its_column() -> None:
    reader = PageReader("users")
    pages = [[_user(i + 10 * p) for i in range(10)] for p in range(60)]
    pages[56][7]["customAttributes"]["renewalDate"] = 1_800_000_000_000  # one record, deep inside
    pages[56][3]["newTopLevel"] = "x"
    frames = [reader.read(_page(page)) for page in pages]
    assert [f.fast for f in frames].count(False) == 1  # page 57 (which widened the schema)
    late = frames[56].frame
    assert (
        late.filter(pl.col("identifyId") == "u567")["customAttributes.renewalDate"].item()
        == 1_800_000_000_000
    )
    assert late.filter(pl.col("identifyId") == "u563")["newTopLevel"].item() == "x"
    record_type = reader.schema["users"].inner.to_schema()
    assert frames[57].fast and "renewalDate" in record_type["customAttributes"].to_schema()
    assert "newTopLevel" in record_type


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        ({"visits": "five"}, "five"),  # text where numbers were
        ({"visits": 12345678901234567890}, 12345678901234567890),  # beyond 2^64: exact
        ({"visits": -(2**53) - 1}, -(2**53) - 1),  # beyond 2^53, where a float loses the last digit
        ({"location": "Paris"}, "Paris"),  # a scalar where an object was
        ({"customAttributes": {"isBeta": "yes"}}, "yes"),
        ({"visits": True}, "true"),  # numbers and a boolean make a text column; Polars alone reads 1
        ({"visits": False}, "false"),  # ... and 0
        ({"propertyKeys": "AP-9"}, "AP-9"),  # a scalar where a list was; Polars alone reads ["AP-9"]
    ],
)
def test_a_value_the_schema_cannot_hold_exactly_is_read_the_slow_way(
    later: dict[str, Any], expected: Any
) -> None:
    reader = PageReader("users")
    reader.read(_page([_user(i) for i in range(5)]))
    odd = {**_user(9), **later}
    page = reader.read(_page([_user(7), odd]))
    assert not page.fast
    flat = flatten(odd)
    name = next(k for k in flat if k.split(".")[0] in later)
    got = page.frame.filter(pl.col("identifyId") == "u9")[name].item()
    assert got == expected or str(got) == str(expected)


@pytest.mark.parametrize(
    ("odd", "expected"),
    [
        ({"visits": True}, "true"),  # numbers and a boolean: Polars' inference alone reads 1
        ({"propertyKeys": "AP-9"}, "AP-9"),  # a scalar among lists: inference alone reads ["AP-9"]
        ({"location": "Paris"}, "Paris"),  # a scalar among objects: inference fails
    ],
)
def test_a_first_page_inference_gets_wrong_is_read_the_slow_way(odd: dict[str, Any], expected: Any) -> None:
    reader = PageReader("users")
    page = reader.read(_page([_user(7), {**_user(9), **odd}, _user(11)]))
    assert not page.fast and reader.slow_pages == 1
    name = next(k for k in flatten({**_user(9), **odd}) if k.split(".")[0] in odd)
    got = page.frame.filter(pl.col("identifyId") == "u9")[name].item()
    assert got == expected or str(got) == str(expected)


def test_a_first_page_with_an_integer_beyond_64_bits_keeps_it_exact() -> None:
    """Polars infers such a field as text: every value is kept as the JSON had it, as the slow path
    would (a column of integers that do not fit 64 bits is a text column there too)."""
    reader = PageReader("users")
    page = reader.read(_page([_user(7), {**_user(9), "visits": 12345678901234567890}]))
    assert page.frame["visits"].to_list() == ["7", "12345678901234567890"]


def test_pages_written_with_spaces_read_fast_too() -> None:
    """Python's json.dumps writes `"key": value` and `, `: such a server's pages (nulls included) must not
    all go the slow way."""
    reader = PageReader("users")
    spaced = [
        json.dumps({"users": [_user(i + 10 * p) for i in range(10)], "scrollId": "s"}).encode()
        for p in range(3)
    ]
    assert b'"phone": null' in spaced[0]
    pages = [reader.read(data) for data in spaced]
    assert all(page.fast for page in pages) and reader.slow_pages == 0
    assert _rows(pages[2].frame) == [flatten(_user(i + 20)) for i in range(10)]
    late = json.dumps({"users": [_user(1, newField="x")]}).encode()  # a field the schema lacks is still seen
    assert not reader.read(late).fast


def test_an_envelope_with_objects_reads_fast_and_keeps_its_integers() -> None:
    reader = PageReader("users")
    total = {"value": 3, "relation": "eq"}
    reader.read(_page([_user(1)], totalHits=total, scrollId="a"))
    page = reader.read(_page([_user(2), _user(3)], totalHits=total, scrollId="b"))
    assert page.fast and page.envelope == {"totalHits": total, "scrollId": "b"}


def test_a_fraction_where_integers_were_is_never_cut() -> None:
    reader = PageReader("users")
    reader.read(_page([_user(i) for i in range(5)]))
    page = reader.read(_page([_user(7), {**_user(9), "visits": 5.5}]))
    assert page.frame["visits"].to_list() == [7, 5.5]


def test_whole_numbers_stay_integers_and_fractions_floats_across_pages() -> None:
    reader = PageReader("users")
    reader.read(_page([_user(1, ratio=2.5)]))
    page = reader.read(_page([_user(2, ratio=3.0), _user(3, ratio=4.0)]))  # whole, but a float field
    assert page.fast and page.frame.schema["ratio"] == pl.Float64
    assert page.frame.schema["visits"] == pl.Int64


def test_an_empty_page_and_a_page_without_records() -> None:
    reader = PageReader("users")
    reader.read(_page([_user(1)]))
    assert reader.read(_page([])).count == 0
    assert reader.read(b'{"totalHits":0}').count == 0


def test_lists_become_one_cell_like_flatten() -> None:
    reader = PageReader("users")
    values = [["a", "b"], ["a,b", "c"], [], ["", "x"], [1, 2], [True, False], [{"k": 1}], ["x", None]]
    records = [{"identifyId": f"u{i}", "tags": v} for i, v in enumerate(values)]
    reader.read(_page(records))
    page = reader.read(_page(records))
    cells = page.frame["tags"].to_list()
    for cell, value in zip(cells, values, strict=True):
        want = flatten({"tags": value}).get("tags")
        if want is None or "," not in want or not want.startswith("["):
            assert cell == want
        assert (json.loads(cell) if cell and cell.startswith("[") else cell) == (
            json.loads(want) if want and want.startswith("[") else want
        )


def test_random_pages_never_lose_a_value() -> None:
    rng = random.Random(7)
    reader = PageReader("users")
    for p in range(30):
        records = []
        for i in range(20):
            record = _user(p * 20 + i)
            if rng.random() < 0.1:
                record[f"extra{rng.randrange(5)}"] = rng.choice([1, 2.5, "t", True, None, {"a": 1}, [1, 2]])
            records.append(record)
        page = reader.read(_page(records))
        assert page.frame.height == len(records)
        for row, record in zip(_rows(page.frame), records, strict=True):
            flat = flatten(record)
            assert set(row) == set(flat)
            for key, value in flat.items():
                assert _same(row[key], value), (key, row[key], value)


def _same(got: Any, value: Any) -> bool:
    """Equal, or the same value in another column type (a mixed column is text), or the same JSON."""
    if got == value or str(got) == str(value) or str(got).lower() == str(value).lower():
        return True
    if isinstance(got, str) and got[:1] in "[{" and isinstance(value, str) and value[:1] in "[{":
        return bool(json.loads(got) == json.loads(value))
    return False


def test_not_a_page_is_a_page_error_and_frames_round_trip() -> None:
    reader = PageReader("users")
    with pytest.raises(PageError):
        reader.read(b"<html>busy</html>")
    with pytest.raises(PageError):
        reader.read(b'{"users": [1, 2]}')
    frame = frame_from_rows([{"a": 1, "b": "x"}, {"a": None, "c": True}])
    assert frame_of(frame_bytes(frame)).equals(frame)
    with pytest.raises(PageError):
        frame_of(b"\x80\x04pickle")


def test_pages_read_from_many_threads_at_once_lose_no_value() -> None:
    """Sliced exports read their cursors' pages in parallel threads: pages that widen the schema
    (a new field, a fraction where integers were) while others are being parsed still lose nothing."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(11)
    pages: list[list[dict[str, Any]]] = []
    for p in range(48):
        records = []
        for i in range(25):
            record = _user(p * 25 + i)
            if rng.random() < 0.08:
                record[f"late{rng.randrange(6)}"] = rng.choice([3, 4.25, "text", False, {"deep": 1}])
            records.append(record)
        pages.append(records)
    reader = PageReader("users")
    reader.read(_page(pages[0]))
    with ThreadPoolExecutor(max_workers=8) as pool:
        read = list(pool.map(lambda records: reader.read(_page(records)), pages))
    for page, records in zip(read, pages, strict=True):
        assert page.frame.height == len(records)
        for row, record in zip(_rows(page.frame), records, strict=True):
            flat = flatten(record)
            assert set(row) == set(flat)
            assert all(_same(row[key], value) for key, value in flat.items()), (row, flat)


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ([1.5, 2.5], [True, 2.5]),  # a list of numbers: Polars alone reads [1.0, 2.5]
        (["a,b", "c"], [True, "a,b"]),  # a list written as JSON text: Polars alone reads ["true", ...]
    ],
)
def test_a_boolean_hidden_in_a_list_is_never_read_as_something_else(
    first: list[Any], later: list[Any]
) -> None:
    """Booleans are counted in the bytes only where one could have been read as something else (a 0 or
    a 1 among numbers, a list of numbers, a list written as JSON text): these must all be caught."""
    reader = PageReader("users")
    reader.read(_page([{"identifyId": "u1", "tags": first, "n": 7}]))
    page = reader.read(_page([{"identifyId": "u2", "tags": later, "n": 8}]))
    assert page.frame["tags"].item() == flatten({"tags": later})["tags"]


def test_a_boolean_in_a_field_that_held_text_stays_a_boolean() -> None:
    """Polars alone would read it as the text `true`: the boolean count sends the page the slow way,
    which keeps the value's type."""
    reader = PageReader("users")
    reader.read(_page([{"identifyId": "u1", "plan": "pro", "seats": 5, "on": False}]))
    page = reader.read(_page([{"identifyId": "u2", "plan": True, "seats": 7, "on": True}]))
    assert not page.fast
    assert page.frame.row(0, named=True) == {"identifyId": "u2", "plan": True, "seats": 7, "on": True}


_ITEMS = {
    "text": st.one_of(st.none(), st.sampled_from(["", "a", "b,c", "x y", ","])),
    "int": st.one_of(st.none(), st.integers(-5, 5)),
    "float": st.one_of(st.none(), st.sampled_from([1.0, 2.5, -3.0, 0.25])),
}
_LISTS = st.sampled_from(sorted(_ITEMS)).flatmap(
    lambda kind: st.lists(st.lists(_ITEMS[kind], max_size=3), min_size=1, max_size=6)
)


@settings(max_examples=60, deadline=None)
@given(_LISTS.filter(lambda lists: not any(type(v) is float for row in lists for v in row)))
def test_list_cells_are_flattens_whichever_rows_need_json(lists: list[list[Any]]) -> None:
    """A page decides once whether some row's list needs JSON text; each cell is still flatten's.
    (Lists of fractions differ: comma-joined by flatten, JSON text here, whose float text is exact.)"""
    records = [{"identifyId": f"u{i}", "tags": v} for i, v in enumerate(lists)]
    reader = PageReader("users")
    reader.read(_page(records))  # the first page teaches the schema; the second is read the fast way
    page = reader.read(_page(records))
    assert page.fast
    for cell, value in zip(page.values("tags"), lists, strict=True):
        assert cell == flatten({"tags": value}).get("tags"), (lists, cell)


@settings(max_examples=100, deadline=None)
@given(_LISTS)
def test_the_pages_json_decision_is_any_rows(lists: list[list[Any]]) -> None:
    """The page-level decision on the elements equals asking every row (`_list_awkward`)."""
    frame = pl.DataFrame({"tags": lists}, strict=False)
    inner = frame.schema["tags"].inner  # type: ignore[attr-defined]
    per_row = frame.select(_list_awkward(pl.col("tags"), inner).any()).item()
    assert frame.select(_awkward_anywhere(pl.col("tags"), inner)).item() == per_row


def test_a_whole_number_beyond_2_53_in_a_list_keeps_every_digit() -> None:
    records = [{"identifyId": "u1", "ids": [1, 2]}, {"identifyId": "u2", "ids": [2**53 + 1]}]
    reader = PageReader("users")
    reader.read(_page(records[:1]))
    assert reader.read(_page(records)).values("ids") == ["1,2", str(2**53 + 1)]


def test_a_text_holding_true_or_false_reads_fast_and_a_true_among_texts_is_flattens() -> None:
    """Booleans are counted as keys' values when no list could hold one that matters: a text that
    says "true" no longer sends the page the slow way."""
    records = [
        _user(1, title="trueView lead", notes="false alarm"),
        _user(2, title="x", tags=["a", True]),
    ]
    reader = PageReader("users")
    reader.read(_page(records))
    page = reader.read(_page(records))
    assert page.fast and reader.slow_pages == 0
    assert page.values("title") == ["trueView lead", "x"]
    assert page.values("tags") == [None, flatten({"tags": ["a", True]})["tags"]]
