"""The sandbox's faster filter and sort paths (added so a sliced export of a million users measures
the client, not the emulator's scans) mean exactly what the plain rules mean, on mixed data."""

from __future__ import annotations

import random
from typing import Any

from batchgs.sandbox.filters import (
    Condition,
    _sort_key,
    apply_filters,
    field_value,
    matches,
    parse_filters,
    select_sorted,
    sort_records,
)

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    5,
    -3,
    2.5,
    10**13,
    "abc",
    "ABD",
    "5",
    "",
    "null",
    [1, 7],
    {"a": 1},
]
FIELDS = ("n", "s", "createDate", "loc.city")
OPS = ("==", "!=", "<", "<=", ">", ">=", "~", "!~")


def _records(rng: random.Random, n: int) -> dict[str, dict[str, Any]]:
    table = {}
    for i in range(n):
        record: dict[str, Any] = {"id": f"k{rng.randrange(10**6):06d}-{i}"}
        for name in ("n", "s", "createDate"):
            if rng.random() < 0.85:
                record[name] = rng.choice(VALUES)
        record["loc"] = {"city": rng.choice(VALUES)} if rng.random() < 0.7 else None
        table[record["id"]] = record
    return table


def _old_sort(
    records: list[dict[str, Any]], keys: list[tuple[tuple[str, ...], bool]]
) -> list[dict[str, Any]]:
    out = list(records)
    for path, descending in reversed(keys):
        present = [r for r in out if field_value(r, path) is not None]
        missing = [r for r in out if field_value(r, path) is None]
        present.sort(key=lambda r, p=path: _sort_key(field_value(r, p)), reverse=descending)
        out = present + missing
    return out


def test_compiled_filters_and_sorts_equal_the_plain_rules() -> None:
    rng = random.Random(17)
    for _ in range(300):
        table = _records(rng, 60)
        groups_text = []
        for _ in range(rng.randrange(1, 3)):
            clauses = []
            for _ in range(rng.randrange(1, 4)):
                raw = rng.choice(["0", "5", "2.5", "10000000000000", "abc", "a*", "null", "", "-3", "true"])
                clauses.append(f"{rng.choice(FIELDS)}{rng.choice(OPS)}{raw}")
            groups_text.append(";".join(clauses))
        groups = parse_filters(groups_text)
        in_order = [table[k] for k in sorted(table)]
        expected = [r for r in in_order if matches(r, groups)]
        assert apply_filters(in_order, groups) == expected, groups_text
        assert select_sorted(table, groups) == expected, groups_text
        keys = [
            (tuple(rng.choice(FIELDS).split(".")), rng.random() < 0.5) for _ in range(rng.randrange(1, 3))
        ]
        assert sort_records(in_order, keys) == _old_sort(in_order, keys)


def test_number_only_sort_keeps_ties_in_order() -> None:
    records = [{"id": i, "createDate": d} for i, d in enumerate([5, 3, 5, 1, 3, None, 5])]
    assert [r["id"] for r in sort_records(records, [(("createDate",), False)])] == [3, 1, 4, 0, 2, 6, 5]
    assert [r["id"] for r in sort_records(records, [(("createDate",), True)])] == [0, 2, 6, 1, 4, 3, 5]
    assert [c.field for c in parse_filters(["createDate>=1;id<3"])[0]] == ["createDate", "id"]
    assert isinstance(parse_filters(["a==1"])[0][0], Condition)


def test_or_of_equalities_on_one_field_equals_the_plain_rules() -> None:
    """`id==a&filter=id==b...` (a client looking keys up) takes a set look-up; same records."""
    rng = random.Random(23)
    for _ in range(200):
        table = _records(rng, 80)
        ids = list(table)
        name = rng.choice(["id", "s", "n"])
        raws = [rng.choice(ids).upper() if rng.random() < 0.5 else rng.choice(ids) for _ in range(5)]
        raws += [rng.choice(["abc", "5", "null", "", "true", "nope"]) for _ in range(2)]
        groups = parse_filters([f"{name}=={raw}" for raw in raws])
        expected = [table[k] for k in sorted(table) if matches(table[k], groups)]
        assert select_sorted(table, groups) == expected, (name, raws)
