"""PX users against the contract (gainsight-api.md §1.3, §1.8): CRUD, paging, filters, strict payloads."""

from __future__ import annotations

from typing import Any

import pytest

from batchgs.sandbox.px.model import AttributeDef
from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px, error_of, scroll_all, sub_fields, user

DAY_S = 24 * 3600


@pytest.fixture
def px(sandbox: SandboxThread) -> Px:
    return Px(sandbox)


def test_create_get_is_case_sensitive_and_duplicate_is_400(px: Px, sandbox: SandboxThread) -> None:
    created = px.post("/v1/users", user("User-A", email="a@example.com", signUpDate=1_700_000_000_000))
    assert created.status_code == 201
    assert created.json()["identifyId"] == "User-A"
    got = px.get("/v1/users/User-A")
    assert got.status_code == 200
    body = got.json()
    assert body["email"] == "a@example.com" and body["signUpDate"] == 1_700_000_000_000
    assert body["id"] == "User-A" and body["aptrinsicId"] and isinstance(body["createDate"], int)
    assert px.get("/v1/users/user-a").status_code == 404
    duplicate = px.post("/v1/users", user("User-A"))
    assert duplicate.status_code == 400
    assert error_of(duplicate)["message"] == "Bad request, possible duplicate"
    assert sandbox.store.users["User-A"]["email"] == "a@example.com"


def test_put_is_partial_and_merges_custom_attributes_key_by_key(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/users", user("u1", firstName="Ada", customAttributes={"plan": "free", "seats": 3}))
    assert (
        px.put("/v1/users/u1", {"lastName": "Lovelace", "customAttributes": {"seats": 5}}).status_code == 204
    )
    stored = sandbox.store.users["u1"]
    assert stored["firstName"] == "Ada" and stored["lastName"] == "Lovelace"
    assert stored["customAttributes"] == {"plan": "free", "seats": 5}
    by_body = px.put("/v1/users/update", {"identifyId": "u1", "customAttributes": {"isBeta": True}})
    assert by_body.status_code == 204
    assert stored["customAttributes"] == {"plan": "free", "seats": 5, "isBeta": True}
    assert px.put("/v1/users/nobody", {"firstName": "X"}).status_code == 404
    assert px.put("/v1/users/update", {"identifyId": "nobody", "firstName": "X"}).status_code == 404
    assert px.put("/v1/users/u1", {"identifyId": "other"}).status_code == 400


def test_id_in_body_forms_handle_awkward_ids(px: Px, sandbox: SandboxThread) -> None:
    awkward = "a/b?c#d%e f"
    assert px.post("/v1/users", user(awkward)).status_code == 201
    assert px.put("/v1/users/update", {"identifyId": awkward, "title": "CTO"}).status_code == 204
    assert sandbox.store.users[awkward]["title"] == "CTO"
    assert px.delete("/v1/users/delete", {"identifyId": awkward}).status_code in (200, 204)
    assert awkward not in sandbox.store.users


def test_soft_delete_revives_within_7_days_unless_hard_deleted(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/users", user("u1", firstName="Ada", customAttributes={"plan": "team"}))
    original = dict(sandbox.store.users["u1"])
    assert px.delete("/v1/users/u1").status_code in (200, 204)
    assert px.get("/v1/users/u1").status_code == 404
    assert px.delete("/v1/users/u1").status_code == 404
    sandbox.advance_clock(6 * DAY_S)
    assert px.post("/v1/users", user("u1", lastName="Lovelace")).status_code == 201
    revived = sandbox.store.users["u1"]
    assert (
        revived["aptrinsicId"] == original["aptrinsicId"] and revived["createDate"] == original["createDate"]
    )
    assert revived["firstName"] == "Ada" and revived["lastName"] == "Lovelace"
    assert revived["customAttributes"] == {"plan": "team"}

    assert px.delete("/v1/users/u1", hardDelete="true").status_code in (200, 204)
    px.post("/v1/users", user("u1"))
    assert sandbox.store.users["u1"]["aptrinsicId"] != original["aptrinsicId"]
    assert sandbox.store.users["u1"]["firstName"] is None

    px.put("/v1/users/u1", {"firstName": "Grace"})
    before = sandbox.store.users["u1"]["aptrinsicId"]
    px.delete("/v1/users/u1")
    sandbox.advance_clock(8 * DAY_S)
    px.post("/v1/users", user("u1"))
    assert sandbox.store.users["u1"]["firstName"] is None, "deleted more than 7 days ago: a new user"
    assert sandbox.store.users["u1"]["aptrinsicId"] != before
    assert px.delete("/v1/users/u1", hardDelete="maybe").status_code == 400


def test_scroll_pages_stop_with_a_non_null_last_scroll_id(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(seed_users=53)
    px = Px(sandbox)
    pages = scroll_all(px, "/v1/users", "users", 10)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 10, 3]
    ids = [u["identifyId"] for page in pages for u in page]
    assert ids == sorted(sandbox.store.users) and len(set(ids)) == 53

    first = px.get("/v1/users", pageSize=53).json()
    assert len(first["users"]) == 53 and first["totalHits"] == 53 and first["scrollId"]
    after_last = px.get("/v1/users", pageSize=53, scrollId=first["scrollId"]).json()
    assert after_last["users"] == [] and after_last["scrollId"]


def test_default_page_size_bounds_and_wrong_cased_scroll_id(sandbox_factory: Any) -> None:
    px = Px(sandbox_factory(seed_users=30))
    first = px.get("/v1/users").json()
    assert len(first["users"]) == 25 and first["totalHits"] == 30
    again = px.get("/v1/users", scrollid=first["scrollId"]).json()
    assert again["users"] == first["users"], "a wrong casing is ignored: the first page again"
    nxt = px.get("/v1/users", scrollId=first["scrollId"]).json()
    assert len(nxt["users"]) == 5
    retried = px.get("/v1/users", scrollId=first["scrollId"]).json()
    assert retried["users"] == nxt["users"], "re-sending a scrollId returns the same page"
    for bad in (0, 1001, "ten"):
        assert px.get("/v1/users", pageSize=bad).status_code == 400
    assert len(px.get("/v1/users", pageSize=1000).json()["users"]) == 30


def test_scroll_ids_expire_after_the_ttl(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(seed_users=5, scroll_ttl_s=60)
    px = Px(sandbox)
    first = px.get("/v1/users", pageSize=2).json()
    sandbox.advance_clock(30)
    second = px.get("/v1/users", pageSize=2, scrollId=first["scrollId"])
    assert second.status_code == 200
    sandbox.advance_clock(61)
    expired = px.get("/v1/users", pageSize=2, scrollId=second.json()["scrollId"])
    assert expired.status_code == 400
    assert "expired" in error_of(expired)["message"]
    assert px.get("/v1/users", scrollId="bm9wZQ==").status_code == 400


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [u["identifyId"] for u in response.json()["users"]]


def test_filters_operators_nesting_or_and_case_insensitivity(px: Px) -> None:
    rows = [
        user(
            "u1",
            email="ada@example.com",
            score=10,
            location={"countryCode": "FR"},
            customAttributes={"plan": "Business"},
        ),
        user(
            "u2",
            email="bob@corp.test",
            score=50,
            location={"countryCode": "DE"},
            customAttributes={"plan": "free"},
        ),
        user(
            "u3",
            email="cy@example.com",
            score=90,
            location={"countryCode": "fr"},
            signUpDate=1_600_000_000_000,
        ),
    ]
    for row in rows:
        assert px.post("/v1/users", row).status_code == 201
    assert _ids(px.get("/v1/users", filter="customAttributes.plan==BUSINESS")) == ["u1"]
    assert _ids(px.get("/v1/users", filter="location.countryCode==FR")) == ["u1", "u3"]
    assert _ids(px.get("/v1/users", filter="email~*@EXAMPLE.com")) == ["u1", "u3"]
    assert _ids(px.get("/v1/users", filter="email!~*@example.com")) == ["u2"]
    assert _ids(px.get("/v1/users", filter="email~?da@*")) == ["u1"]
    assert _ids(px.get("/v1/users", filter="score>10;score<=90")) == ["u2", "u3"]
    assert _ids(px.get("/v1/users", filter="score>=10;score<50")) == ["u1"]
    assert _ids(px.get("/v1/users", filter="score!=50")) == ["u1", "u3"]
    assert _ids(px.get("/v1/users", filter=["score<20", "score>80"])) == ["u1", "u3"]
    assert _ids(px.get("/v1/users", filter="signUpDate<1700000000000")) == ["u3"]
    assert _ids(px.get("/v1/users", filter="customAttributes.plan==free;location.countryCode==FR")) == []
    assert px.get("/v1/users", filter="score 10").status_code == 400


def test_sort_ascending_descending_and_multi_key(px: Px) -> None:
    for identify_id, score, title in (("u1", 5, "b"), ("u2", 9, "a"), ("u3", 5, "a"), ("u4", None, "c")):
        px.post("/v1/users", user(identify_id, score=score, title=title))
    assert _ids(px.get("/v1/users", sort="-score")) == ["u2", "u1", "u3", "u4"]
    assert _ids(px.get("/v1/users", sort="score;-title")) == ["u1", "u3", "u2", "u4"]
    assert _ids(px.get("/v1/users", sort="title;score")) == ["u3", "u2", "u1", "u4"]
    assert px.get("/v1/users", sort="sc ore").status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (user("u1", email="not-an-email"), "email"),
        (user("u1", signUpDate="2024-01-01"), "signUpDate"),
        (user("u1", signUpDate=None), "signUpDate"),
        (user("u1", firstVisitDate=1.5e12), "firstVisitDate"),
        (user("u1", type="ADMIN"), "type"),
        (user("u1", gender="male"), "gender"),
        (user("u1", score="12"), "score"),
        (user("u1", globalUnsubscribe="yes"), "globalUnsubscribe"),
        (user("u1", nickname="Ada"), "nickname"),
        (user("u1", customAttributes={"colour": "red"}), "customAttributes.colour"),
        (user("u1", customAttributes={"seats": "12"}), "customAttributes.seats"),
        (user("u1", customAttributes={"trialEndDate": "2024-01-01"}), "customAttributes.trialEndDate"),
        (user("u1", customAttributes={"isBeta": 1}), "customAttributes.isBeta"),
        (user("u1", customAttributes={"plan": 3}), "customAttributes.plan"),
        (user("u1", location={"town": "Paris"}), "location.town"),
        (user("u1", location={"coordinates": {"latitude": "48.8"}}), "location.coordinates.latitude"),
        ({"identifyId": "u1"}, "propertyKeys"),
        (user("u1", propertyKeys=[]), "propertyKeys"),
        ({"propertyKeys": ["AP-1"]}, "identifyId"),
        (user(""), "identifyId"),
    ],
)
def test_strict_payload_checks_name_the_field(
    px: Px, sandbox: SandboxThread, payload: dict[str, Any], field: str
) -> None:
    response = px.post("/v1/users", payload)
    assert field in sub_fields(response)
    assert error_of(response)["status"] == "BAD_REQUEST"
    assert sandbox.store.users == {}


def test_all_problems_are_reported_at_once(px: Px) -> None:
    response = px.post("/v1/users", {"identifyId": "u1", "email": "x", "signUpDate": "soon", "bogus": 1})
    assert set(sub_fields(response)) == {"email", "signUpDate", "bogus", "propertyKeys"}


def test_disabled_or_deleted_custom_attributes_are_refused(px: Px, sandbox: SandboxThread) -> None:
    sandbox.store.user_attributes.append(AttributeDef("legacy", "Legacy", "STRING", state="DISABLED"))
    sandbox.store.user_attributes.append(AttributeDef("gone", "Gone", "STRING", state="DELETED"))
    response = px.post("/v1/users", user("u1", customAttributes={"legacy": "x", "gone": "y"}))
    assert set(sub_fields(response)) == {"customAttributes.legacy", "customAttributes.gone"}
    assert any("disabled" in s["message"] for s in error_of(response)["subErrors"])


def test_read_only_fields_are_ignored_and_nulls_clear_plain_fields(px: Px, sandbox: SandboxThread) -> None:
    payload = user("u1", title="CTO", aptrinsicId="forged", createDate=1, numberOfVisits=99, lastSeenDate=5)
    assert px.post("/v1/users", payload).status_code == 201
    stored = sandbox.store.users["u1"]
    assert stored["aptrinsicId"] != "forged" and stored["createDate"] != 1 and stored["numberOfVisits"] == 0
    assert px.put("/v1/users/u1", {"title": None, "customAttributes": {"plan": None}}).status_code == 204
    assert stored["title"] is None and stored["customAttributes"] == {"plan": None}


def test_bodies_must_be_one_json_object(px: Px) -> None:
    assert px.post("/v1/users", [user("u1"), user("u2")]).status_code == 400
    broken = px.request("POST", "/v1/users", data=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "malformed" in error_of(broken)["message"].lower()
    as_form = px.request("POST", "/v1/users", data={"identifyId": "u1"})
    assert as_form.status_code == 415
    assert px.request("POST", "/v1/users").status_code == 400


def test_denylist_flag(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/users", user("u1"))
    assert px.get("/v1/users/denylist/u1").json() == {"identifyId": "u1", "denied": False}
    assert px.put("/v1/users/denylist/u1", {"denied": True}).status_code == 204
    assert px.get("/v1/users/denylist/u1").json()["denied"] is True
    assert "u1" in sandbox.store.denylist
    assert px.put("/v1/users/denylist/u1", {"denied": "yes"}).status_code == 400
    assert px.get("/v1/users/denylist/ghost").status_code == 404
    assert px.put("/v1/users/denylist/ghost", {"denied": True}).status_code == 404


def test_unknown_paths_and_methods_answer_in_the_px_error_shape(px: Px) -> None:
    missing = px.get("/v1/nothing-here")
    assert missing.status_code == 404 and error_of(missing)["status"] == "NOT_FOUND"
    patch = px.request("PATCH", "/v1/users/u1", json={})
    assert patch.status_code == 405 and error_of(patch)["status"] == "METHOD_NOT_ALLOWED"
