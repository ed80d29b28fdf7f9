"""PX accounts (gainsight-api.md §1.4): key `id`, required name, cascade delete of users."""

from __future__ import annotations

from typing import Any

import pytest

from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px, account, scroll_all, sub_fields, user


@pytest.fixture
def px(sandbox: SandboxThread) -> Px:
    return Px(sandbox)


def test_create_requires_id_name_and_property_keys(px: Px) -> None:
    assert set(sub_fields(px.post("/v1/accounts", {"id": "a1"}))) == {"name", "propertyKeys"}
    assert "id" in sub_fields(px.post("/v1/accounts", {"name": "Acme", "propertyKeys": ["AP-1"]}))
    assert "identifyId" in sub_fields(px.post("/v1/accounts", account("a1", identifyId="x")))
    assert "renewalDate" in sub_fields(px.post("/v1/accounts", account("a1", renewalDate="2027-01-15")))
    assert "numberOfEmployees" in sub_fields(px.post("/v1/accounts", account("a1", numberOfEmployees=1.5)))
    assert "customAttributes.plan" in sub_fields(
        px.post("/v1/accounts", account("a1", customAttributes={"plan": "x"}))
    )
    assert "customAttributes.arr" in sub_fields(
        px.post("/v1/accounts", account("a1", customAttributes={"arr": "1"}))
    )


def test_crud_with_custom_attributes_and_update_forms(px: Px, sandbox: SandboxThread) -> None:
    created = px.post(
        "/v1/accounts",
        account("a1", "Acme", renewalDate=1_800_000_000_000, customAttributes={"tier": "gold", "arr": 1000}),
    )
    assert created.status_code == 201
    assert px.post("/v1/accounts", account("a1")).status_code == 400
    assert (
        px.put(
            "/v1/accounts/a1", {"industry": "Software", "customAttributes": {"isPartner": True}}
        ).status_code
        == 204
    )
    assert px.put("/v1/accounts/update", {"id": "a1", "customAttributes": {"arr": 2000}}).status_code == 204
    got = px.get("/v1/accounts/a1").json()
    assert got["name"] == "Acme" and got["industry"] == "Software" and got["renewalDate"] == 1_800_000_000_000
    assert got["customAttributes"] == {"tier": "gold", "arr": 2000, "isPartner": True}
    assert px.put("/v1/accounts/ghost", {"name": "X"}).status_code == 404
    assert px.get("/v1/accounts/A1").status_code == 404


def test_deleting_an_account_deletes_its_users(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/accounts", account("a1"))
    px.post("/v1/accounts", account("a2"))
    for identify_id, account_id in (("u1", "a1"), ("u2", "a1"), ("u3", "a2"), ("u4", None)):
        px.post("/v1/users", user(identify_id, accountId=account_id))
    assert px.get("/v1/accounts/a1").json()["numberOfUsers"] == 2
    assert px.delete("/v1/accounts/a1").status_code in (200, 204)
    assert sorted(sandbox.store.users) == ["u3", "u4"]
    assert px.get("/v1/users/u1").status_code == 404
    assert px.delete("/v1/accounts/delete", {"id": "a2"}, hardDelete="true").status_code in (200, 204)
    assert sorted(sandbox.store.users) == ["u4"]
    assert "u3" not in sandbox.store.deleted_users, "a hard account delete hard-deletes its users"
    assert px.delete("/v1/accounts/a2").status_code == 404


def test_soft_deleted_account_is_revived_on_re_create(px: Px, sandbox: SandboxThread) -> None:
    px.post("/v1/accounts", account("a1", "Acme", industry="Retail"))
    aptrinsic_id = sandbox.store.accounts["a1"]["aptrinsicId"]
    px.delete("/v1/accounts/a1")
    assert px.post("/v1/accounts", account("a1", "Acme 2")).status_code == 201
    revived = sandbox.store.accounts["a1"]
    assert (
        revived["aptrinsicId"] == aptrinsic_id
        and revived["industry"] == "Retail"
        and revived["name"] == "Acme 2"
    )


def test_scroll_and_filter_accounts(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(seed_accounts=12, seed_users=40)
    px = Px(sandbox)
    pages = scroll_all(px, "/v1/accounts", "accounts", 5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(a["numberOfUsers"] for p in pages for a in p) == 40
    gold = [a["id"] for a in sandbox.store.accounts.values() if a["customAttributes"]["tier"] == "gold"]
    body = px.get("/v1/accounts", filter="customAttributes.tier==Gold", pageSize=100).json()
    assert sorted(a["id"] for a in body["accounts"]) == sorted(gold) and body["totalHits"] == len(gold)
