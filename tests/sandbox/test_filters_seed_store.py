"""Units under the HTTP layer: the filter language, seeded data, the store's persistence and deletes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchgs.sandbox.errors import ApiError
from batchgs.sandbox.filters import like_pattern, matches, parse_filters, parse_sort, sort_records
from batchgs.sandbox.px.model import USER_READ_ONLY
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from batchgs.sandbox.validation import check_record

RECORD = {"name": "Ada", "score": 7, "ok": True, "tags": ["a", "B"], "nested": {"x": "Paris"}, "none": None}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("name==ada", True),
        ("name!=ADA", False),
        ("name~a*", True),
        ("name~?d?", True),
        ("name~a?", False),
        ("name!~z*", True),
        ("score>6;score<8", True),
        ("score>=7;score<=7", True),
        ("score<7", False),
        ("score==7.0", True),
        ("ok==TRUE", True),
        ("tags==b", True),
        ("tags!=b", False),
        ("nested.x==paris", True),
        ("nested.y==paris", False),
        ("none==null", True),
        ("none!=null", False),
        ("missing==", True),
        ("name==Ada;score>100", False),
    ],
)
def test_filter_semantics(expr: str, expected: bool) -> None:
    assert matches(RECORD, parse_filters([expr])) is expected


def test_repeated_filters_are_or() -> None:
    assert matches(RECORD, parse_filters(["score>100", "name==ada"]))
    assert not matches(RECORD, parse_filters(["score>100", "name==bob"]))
    assert matches(RECORD, parse_filters([]))
    with pytest.raises(ApiError):
        parse_filters(["no operator here"])


@given(st.text(alphabet="ab*?.[]()+", max_size=8), st.text(alphabet="ab.[]()+", max_size=8))
def test_like_only_knows_star_and_question_mark(pattern: str, text: str) -> None:
    import fnmatch
    import re

    literal = "".join("[" + c + "]" if c in "[]" else c for c in pattern)  # fnmatch without its [..] classes
    expected = re.fullmatch(fnmatch.translate(literal).replace("(?s:", "(?si:"), text) is not None
    assert (like_pattern(pattern).fullmatch(text) is not None) is expected


def test_sort_is_stable_with_missing_values_last() -> None:
    rows = [{"k": i, "a": a, "b": b} for i, (a, b) in enumerate([(2, "x"), (None, "y"), (1, "y"), (2, "a")])]
    assert [r["k"] for r in sort_records(rows, parse_sort("a;-b"))] == [2, 0, 3, 1]
    assert [r["k"] for r in sort_records(rows, parse_sort("-a"))] == [0, 3, 2, 1]


def _seeded(seed: int) -> PxStore:
    return seed_store(PxStore(), seed=seed, users=60, accounts=6, events=40, anchor_ms=1_767_225_600_000)


def test_seed_is_deterministic_and_seeds_differ() -> None:
    assert _seeded(4).to_json() == _seeded(4).to_json()
    assert _seeded(4).to_json()["users"] != _seeded(5).to_json()["users"]


def test_seeded_records_pass_the_sandbox_own_checks() -> None:
    store = _seeded(1)
    for record in store.users.values():
        payload: dict[str, Any] = {
            k: v for k, v in record.items() if k not in USER_READ_ONLY and v is not None
        }
        check_record(payload, "user", store, creating=True)
        assert record["accountId"] in store.accounts
    for record in store.accounts.values():
        payload = {
            k: v for k, v in record.items() if v is not None and k not in ("aptrinsicId", "createDate")
        }
        payload = {k: v for k, v in payload.items() if k not in ("lastModifiedDate", "lastSeenDate")}
        check_record(payload, "account", store, creating=True)
    signups = sorted(u["signUpDate"] for u in store.users.values())
    assert signups[-1] - signups[0] > 2 * 365 * 24 * 3600 * 1000, "dates spread over years"


def test_store_round_trips_through_a_state_file(tmp_path: Path) -> None:
    store = _seeded(2)
    store.delete_user("user-000001", hard=False, now_ms=5)
    store.denylist.add("user-000002")
    store.preferences["user-000003"] = {"surveys": False}
    store.save(tmp_path / "s.json")
    assert PxStore.load(tmp_path / "s.json").to_json() == store.to_json()
    (tmp_path / "bad.json").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="format"):
        PxStore.load(tmp_path / "bad.json")
