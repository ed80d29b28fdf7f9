"""The createDate index gives exactly the records a full scan gives, whatever the values and filters."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.sandbox.filters import parse_filters, select_sorted
from batchgs.sandbox.store import PxStore
from batchgs.sandbox.table import Table

CREATE_DATES = st.one_of(
    st.integers(-5, 40),
    st.floats(-5, 40, allow_nan=False),
    st.none(),
    st.booleans(),
    st.sampled_from(["7", "abc", "", "null"]),
    st.lists(st.integers(0, 30), max_size=2),
)
OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
VALUES = st.one_of(st.integers(-6, 41).map(str), st.sampled_from(["7.5", "abc", "null", "1e1"]))


@st.composite
def tables(draw: st.DrawFn) -> Table:
    records: dict[str, dict[str, Any]] = {}
    for i in range(draw(st.integers(0, 40))):
        record: dict[str, Any] = {"identifyId": f"u{i:03d}"}
        if draw(st.integers(0, 9)):  # one in ten has no createDate at all
            record["createDate"] = draw(CREATE_DATES)
        records[f"u{i:03d}"] = record
    return Table(records)


@st.composite
def filters(draw: st.DrawFn) -> list[str]:
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        clauses = [f"createDate{draw(OPS)}{draw(VALUES)}" for _ in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            clauses.append(f"identifyId{draw(st.sampled_from(['>=', '<']))}u0{draw(st.integers(0, 4))}")
        groups.append(";".join(clauses))
    return groups


@settings(max_examples=400, deadline=None, derandomize=True)
@given(tables(), filters())
def test_the_index_answers_what_a_scan_answers(table: Table, texts: list[str]) -> None:
    groups = parse_filters(texts)
    scanned = select_sorted(dict(table), groups)  # a plain dict has no index: every record is tested
    assert select_sorted(table, groups) == scanned


def test_a_record_added_after_the_index_was_built_is_found() -> None:
    store = PxStore(users={"a": {"identifyId": "a", "createDate": 10}})
    groups = parse_filters(["createDate>=5;createDate<20"])
    assert [r["identifyId"] for r in select_sorted(store.users, groups)] == ["a"]
    store.users["b"] = {"identifyId": "b", "createDate": 12}
    store.users.pop("a")
    assert [r["identifyId"] for r in select_sorted(store.users, groups)] == ["b"]
    store.users["b"]["createDate"] = 30  # an in-place edit of an indexed field needs touch()
    store.users.touch()
    assert select_sorted(store.users, groups) == []


def test_a_store_built_from_plain_dicts_or_a_state_file_indexes_its_tables() -> None:
    store = PxStore(users={"a": {"createDate": 1}}, accounts={})
    assert isinstance(store.users, Table) and isinstance(store.accounts, Table)
    again = PxStore.from_json(store.to_json())
    assert isinstance(again.users, Table) and again.users == store.users


@st.composite
def dated_tables(draw: st.DrawFn) -> Table:
    """Numbers (ties likely) or no createDate: the tables the index serves sorted lists from."""
    records: dict[str, dict[str, Any]] = {}
    for i in draw(st.lists(st.integers(0, 99), max_size=40, unique=True)):
        record: dict[str, Any] = {"identifyId": f"u{i:03d}"}
        if draw(st.integers(0, 5)):
            record["createDate"] = draw(st.one_of(st.integers(-3, 6), st.floats(-3, 6, allow_nan=False)))
        records[f"u{i:03d}"] = record
    return Table(records)


@settings(max_examples=300, deadline=None)
@given(st.one_of(dated_tables(), tables()), st.booleans())
def test_a_list_sorted_by_the_index_is_the_sorted_scan(table: Table, descending: bool) -> None:
    """An exporter's probe (`sort=createDate`, no filter) is served from the index: the same records in
    the same order as sorting them all, ties in key order and records without a date last."""
    from batchgs.sandbox.filters import select_and_sort, sort_records

    keys = [(("createDate",), descending)]
    want = sort_records(select_sorted(table, []), keys)
    assert [r["identifyId"] for r in select_and_sort(table, [], keys)] == [r["identifyId"] for r in want]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(dated_tables(), tables()),
    st.lists(st.tuples(st.sampled_from(["<", "<=", ">", ">="]), st.integers(-4, 7)), min_size=1, max_size=3),
)
def test_a_slice_range_cut_from_the_index_is_what_a_scan_finds(
    table: Table, limits: list[tuple[str, int]]
) -> None:
    """An export slice's `createDate>=a;createDate<b` is bisected out of the index, boundaries included
    or not as the operators say, values that are not numbers judged by the filter."""
    groups = parse_filters([";".join(f"createDate{op}{value}" for op, value in limits)])
    assert select_sorted(table, groups) == select_sorted(dict(table), groups)
