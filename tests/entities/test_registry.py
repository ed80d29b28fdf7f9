"""The entity registry and the invariants every spec must hold."""

from __future__ import annotations

import pytest

from batchgs.entities import registry
from batchgs.entities.spec import ColumnType, Family
from batchgs.errors import UsageError


def test_names_are_the_cli_entities() -> None:
    assert registry.names() == ["users", "accounts", "events", "preferences", "ctas", "cs-events"]


def test_get_is_forgiving_about_case_and_underscores() -> None:
    assert registry.get("Users").name == "users"
    assert registry.get("cs_events").name == "cs-events"


def test_unknown_entity_suggests_and_lists() -> None:
    with pytest.raises(UsageError) as caught:
        registry.get("user")
    assert caught.value.message == "unknown entity 'user'"
    assert caught.value.hint == (
        "did you mean 'users'? known entities: users, accounts, events, preferences, ctas, cs-events"
    )


@pytest.mark.parametrize("spec", registry.all_specs(), ids=lambda s: s.name)
def test_spec_invariants(spec) -> None:  # type: ignore[no-untyped-def]
    names = [c.name for c in spec.columns]
    assert len(names) == len(set(names)), "column names are unique"
    assert spec.default_mode in spec.modes
    for col in spec.columns:
        assert col.description, f"{spec.name}.{col.name} has a description"
        if not col.read_only and col.name != "Gsid":
            assert col.example, f"{spec.name}.{col.name} has an example"
        if col.type is ColumnType.ENUM:
            assert col.enum
            assert not col.default or col.default in col.enum
    if spec.key is not None:
        assert spec.key in names
    if spec.product_key_field:
        assert spec.product_key_field in names
    if not spec.idempotent:
        assert not spec.unique_key_in_file


def test_contract_details() -> None:
    users = registry.get("users")
    assert users.key == "identifyId" and users.family is Family.PX
    keys = users.column("propertyKeys")
    assert keys.required and keys.type is ColumnType.STRING_LIST
    assert {c.name for c in users.columns if c.read_only} == {
        "aptrinsicId", "id", "lastSeenDate", "numberOfVisits", "createDate",
        "lastModifiedDate", "lastInferredLocation", "globalId",
    }  # fmt: skip
    assert users.column("location.coordinates.latitude").type is ColumnType.NUMBER
    accounts = registry.get("accounts")
    assert {c.name for c in accounts.columns if c.required} == {"id", "name", "propertyKeys"}
    events = registry.get("events")
    assert events.column("eventName").max_length == 2000
    assert events.custom is not None
    assert events.custom.max_count == 50 and events.custom.max_name_length == 1024
    assert events.column("userType").default == "USER"
    assert not events.idempotent
    assert events.list_endpoint is not None and events.list_endpoint.window == "dateRange"
    ctas = registry.get("ctas")
    assert ctas.family is Family.CS and ctas.column("CompanyId").aliases == ("Company", "Company Gsid")
    assert ctas.column("DueDate").type is ColumnType.DATE
    prefs = registry.get("preferences")
    assert [c.name for c in prefs.columns][1:] == [
        "trackUsage", "productUpdates", "guidedTours", "surveys", "onboardingBot", "trackEmailAnalytics",
    ]  # fmt: skip
    assert registry.get("cs-events").free_form
