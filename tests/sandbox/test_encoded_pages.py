"""A users page built from the records' remembered JSON is byte for byte what encoding the whole page
gives, and every write through the API (update, delete, re-create, revive) is seen on the next page."""

from __future__ import annotations

from typing import Any

from batchgs import fastjson
from batchgs.sandbox.px.users_accounts import USERS, _encoded_page
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from batchgs.sandbox.table import Table
from tests.sandbox.sandbox_helpers import Px, scroll_all, user

ODD = [
    {"identifyId": "ü-1", "firstName": 'Zoë "quoted" \\ \n', "score": 1e16, "customAttributes": {"x": -0.0}},
    {"identifyId": "big", "customAttributes": {"n": 2**70}},  # orjson cannot write it: the slow way
    {"identifyId": "empty"},
]


def _page_bytes(table: Table, records: list[dict[str, Any]], total: int, scroll_id: str) -> bytes | None:
    encoded = table.encoded(records)
    return None if encoded is None else bytes(_encoded_page(USERS, encoded, total, scroll_id).body)


def test_a_page_joined_from_remembered_json_is_the_page_encoded_whole() -> None:
    store = seed_store(PxStore(), seed=7, users=300, accounts=5, events=0, anchor_ms=1_760_000_000_000)
    store.users.keep_encodings()
    records = [*store.users.values(), ODD[0], ODD[2]]
    for attempt in range(2):  # the second time from memory
        for start in range(0, len(records), 97):
            page = records[start : start + 97]
            whole = fastjson.dumps({"users": page, "totalHits": 302, "scrollId": "a+b/c=="})
            assert _page_bytes(store.users, page, 302, "a+b/c==") == whole, (attempt, start)
    empty = fastjson.dumps({"users": [], "totalHits": 0, "scrollId": "x"})
    assert _page_bytes(store.users, [], 0, "x") == empty
    assert store.users.encoded([ODD[1]]) is None  # the handler then encodes the page as before
    assert Table(store.users).encoded(records) is None  # nothing remembered: the page is encoded whole


def test_writes_through_the_api_show_on_the_next_page(sandbox_factory: Any) -> None:
    store = PxStore()
    store.users.keep_encodings()
    sandbox = sandbox_factory(store=store)
    px = Px(sandbox)
    for key in ("a", "b", "c"):
        created = px.post("/v1/users", user(key, firstName="Old", customAttributes={"plan": "free"}))
        assert created.status_code == 201

    def listed() -> dict[str, dict[str, Any]]:
        return {r["identifyId"]: r for page in scroll_all(px, "/v1/users", "users", 2) for r in page}

    assert {r["firstName"] for r in listed().values()} == {"Old"}  # now remembered
    assert px.put("/v1/users/a", {"firstName": "New", "customAttributes": {"plan": "pro"}}).status_code == 204
    assert px.put("/v1/users/update", {"identifyId": "b", "lastName": "Body"}).status_code == 204
    now = listed()
    assert now["a"]["firstName"] == "New" and now["a"]["customAttributes"] == {"plan": "pro"}
    assert now["b"]["lastName"] == "Body" and now["c"]["firstName"] == "Old"
    assert px.delete("/v1/users/c").status_code == 204  # soft: revived by the next create
    assert set(listed()) == {"a", "b"}
    assert px.post("/v1/users", user("c", firstName="Back")).status_code == 201
    assert listed()["c"]["firstName"] == "Back"
    assert px.delete("/v1/users/a", hardDelete="true").status_code == 204
    assert px.post("/v1/users", user("a", firstName="Fresh")).status_code == 201
    assert listed()["a"]["firstName"] == "Fresh" and listed()["a"]["customAttributes"] in ({}, None)


def test_a_remembered_id_now_held_by_another_record_is_encoded_again() -> None:
    """The memory is keyed by `id(record)`: a record gone from the table may leave its id to a new
    object. The page must carry the new record's JSON, never the JSON remembered for the old one."""
    table = Table({"a": {"identifyId": "a", "n": 1}, "b": {"identifyId": "b", "n": 2}})
    table.keep_encodings()
    stranger = {"identifyId": "a", "n": 99}
    memory = table._encoded
    assert memory is not None
    memory[id(stranger)] = ({"identifyId": "old"}, b'{"identifyId":"old"}')  # the id, as if reused
    page = [table["b"], stranger]
    assert table.encoded(page) == [fastjson.dumps(r) for r in page]
    assert table.encoded([table["a"], table["b"]]) == [fastjson.dumps(table[k]) for k in "ab"]
