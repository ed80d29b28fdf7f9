"""Page-numbered PX lists and attribute metadata (gainsight-api.md §1.5, §1.8–1.9)."""

from __future__ import annotations

import pytest

from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px


@pytest.fixture
def px(sandbox: SandboxThread) -> Px:
    return Px(sandbox)


@pytest.mark.parametrize(
    ("path", "key", "default_size", "max_size"),
    [
        ("/v1/engagement", "engagements", 200, 500),
        ("/v1/feature", "features", 25, 200),
        ("/v1/segment", "segments", 25, 200),
    ],
)
def test_page_number_lists(
    px: Px, sandbox: SandboxThread, path: str, key: str, default_size: int, max_size: int
) -> None:
    everything = getattr(sandbox.store, key)
    first = px.get(path).json()
    assert set(first) == {key, "isLastPage"}
    assert first[key] == everything[:default_size]
    collected, page_number = [], 0
    while True:
        body = px.get(path, pageNumber=page_number, pageSize=7).json()
        collected += body[key]
        if body["isLastPage"]:
            break
        page_number += 1
    assert collected == everything and page_number == (len(everything) - 1) // 7
    assert px.get(path, pageSize=max_size).status_code == 200
    assert px.get(path, pageSize=max_size + 1).status_code == 400
    assert px.get(path, pageNumber=-1).status_code == 400
    assert px.get(path, pageNumber=99).json() == {key: [], "isLastPage": True}


def test_attribute_metadata_lists_defaults_then_customs(px: Px) -> None:
    users = px.get("/v1/admin/model/user/attributes").json()
    assert isinstance(users, list)
    by_name = {a["apiName"]: a for a in users}
    assert "id" in by_name and "identifyId" not in by_name
    for name in ("email", "firstName", "accountId", "signUpDate", "city", "countryCode"):
        assert by_name[name]["origin"] == "DEFAULT"
    assert by_name["signUpDate"]["type"] == "DATE_TIME" and by_name["score"]["type"] == "NUMBER"
    custom = {a["apiName"]: a["type"] for a in users if a["origin"] == "CUSTOM"}
    assert custom == {"plan": "STRING", "seats": "NUMBER", "trialEndDate": "DATE_TIME", "isBeta": "BOOLEAN"}
    origins = [a["origin"] for a in users]
    assert origins == sorted(origins, key=lambda o: o != "DEFAULT"), "standard attributes come first"
    accounts = px.get("/v1/admin/model/account/attributes").json()
    custom = {a["apiName"]: a["type"] for a in accounts if a["origin"] == "CUSTOM"}
    assert custom == {"tier": "STRING", "arr": "NUMBER", "contractEnd": "DATE_TIME", "isPartner": "BOOLEAN"}
    assert {"id", "name", "plan", "industry", "numberOfEmployees", "renewalDate"} <= {
        a["apiName"] for a in accounts
    }
    assert all({"apiName", "name", "type", "state", "origin"} <= set(a) for a in users + accounts)
    assert px.get("/v1/admin/model/company/attributes").status_code == 404
