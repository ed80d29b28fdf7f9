"""PX user preferences v1/v2 (gainsight-api.md §1.7): defaults true, null = unchanged, 404 before the user."""

from __future__ import annotations

import pytest

from batchgs.sandbox.server import SandboxThread
from tests.sandbox.sandbox_helpers import Px, sub_fields, user

V2 = {"trackUsage", "productUpdates", "guidedTours", "surveys", "onboardingBot", "trackEmailAnalytics"}


@pytest.fixture
def px(sandbox: SandboxThread) -> Px:
    client = Px(sandbox)
    assert client.post("/v1/users", user("u1")).status_code == 201
    return client


def test_defaults_are_opted_in_v2_has_six_v1_has_five(px: Px) -> None:
    v2 = px.get("/v2/user/preferences/u1").json()
    assert v2 == dict.fromkeys(V2, True)
    v1 = px.get("/v1/user/preferences/u1").json()
    assert v1 == dict.fromkeys(V2 - {"trackEmailAnalytics"}, True)
    assert px.post("/v2/user/preferences", {"identifyId": "u1"}).json() == v2


def test_put_changes_only_the_given_fields_and_null_means_unchanged(px: Px, sandbox: SandboxThread) -> None:
    assert px.put("/v2/user/preferences/u1", {"trackUsage": False, "surveys": None}).status_code == 204
    assert (
        px.put("/v2/user/preferences", {"identifyId": "u1", "trackEmailAnalytics": False}).status_code == 204
    )
    assert px.put("/v1/user/preferences/u1", {"guidedTours": False, "trackUsage": None}).status_code == 204
    got = px.get("/v2/user/preferences/u1").json()
    assert got == {
        **dict.fromkeys(V2, True),
        "trackUsage": False,
        "trackEmailAnalytics": False,
        "guidedTours": False,
    }
    assert sandbox.store.preferences_of("u1") == got


def test_unknown_users_fields_and_values(px: Px) -> None:
    assert px.get("/v2/user/preferences/ghost").status_code == 404
    assert px.put("/v2/user/preferences/ghost", {"surveys": False}).status_code == 404
    assert px.post("/v2/user/preferences", {"identifyId": "ghost"}).status_code == 404
    assert px.put("/v2/user/preferences", {"identifyId": "ghost", "surveys": False}).status_code == 404
    assert sub_fields(px.put("/v1/user/preferences/u1", {"trackEmailAnalytics": False})) == [
        "trackEmailAnalytics"
    ]
    assert sub_fields(px.put("/v2/user/preferences/u1", {"surveys": "false"})) == ["surveys"]
    assert sub_fields(px.put("/v2/user/preferences", {"surveys": False})) == ["identifyId"]
    assert px.get("/v2/user/preferences/u1").json()["surveys"] is True


def test_preferences_go_with_a_hard_deleted_user(px: Px, sandbox: SandboxThread) -> None:
    px.put("/v2/user/preferences/u1", {"surveys": False})
    px.delete("/v1/users/u1", hardDelete="true")
    assert "u1" not in sandbox.store.preferences
    px.post("/v1/users", user("u1"))
    assert px.get("/v2/user/preferences/u1").json()["surveys"] is True
