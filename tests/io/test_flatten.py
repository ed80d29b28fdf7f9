"""Flattening nested API records into spreadsheet rows, and the column order of an export."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.entities import registry
from batchgs.io.flatten import ColumnPlan, flatten, list_cell


def test_nested_objects_become_dotted_keys() -> None:
    record = {
        "identifyId": "u1",
        "location": {"city": "Paris", "coordinates": {"latitude": 48.85, "longitude": 2.35}},
        "customAttributes": {"plan": "gold", "seats": 3, "trial": False},
    }
    assert flatten(record) == {
        "identifyId": "u1",
        "location.city": "Paris",
        "location.coordinates.latitude": 48.85,
        "location.coordinates.longitude": 2.35,
        "customAttributes.plan": "gold",
        "customAttributes.seats": 3,
        "customAttributes.trial": False,
    }


def test_nulls_and_empty_containers_make_no_key() -> None:
    assert flatten({"a": None, "b": {}, "c": [], "d": {"e": None}, "f": 0, "g": ""}) == {"f": 0, "g": ""}


def test_lists_of_scalars_are_comma_joined_so_the_import_reads_them_back() -> None:
    flat = flatten({"propertyKeys": ["AP-1", "AP-2"], "flags": [True, False], "nums": [1, 2.5]})
    assert flat == {"propertyKeys": "AP-1,AP-2", "flags": "true,false", "nums": "1,2.5"}
    assert flat["propertyKeys"].split(",") == ["AP-1", "AP-2"]
    assert flatten({"propertyKeys": ["AP-1"]}) == {"propertyKeys": "AP-1"}


def test_lists_that_commas_cannot_carry_become_json() -> None:
    assert json.loads(list_cell(["a,b", "c"]) or "") == ["a,b", "c"]
    assert json.loads(list_cell([{"k": 1}, {"k": 2}]) or "") == [{"k": 1}, {"k": 2}]
    assert json.loads(list_cell(["a", None]) or "") == ["a", None]
    assert json.loads(list_cell(["", "x"]) or "") == ["", "x"]


@settings(derandomize=True, max_examples=200)
@given(st.lists(st.text(min_size=1).filter(lambda s: "," not in s and not s.startswith(("[",))), min_size=1))
def test_comma_joined_lists_split_back_exactly(values: list[str]) -> None:
    assert (list_cell(values) or "").split(",") == values


@settings(derandomize=True, max_examples=200)
@given(st.lists(st.one_of(st.text(), st.integers(), st.booleans(), st.none()), min_size=1))
def test_any_list_reads_back_from_its_cell(values: list[object]) -> None:
    cell = list_cell(values) or ""
    if cell.startswith("["):
        try:
            if json.loads(cell) == values:
                return
        except json.JSONDecodeError:
            pass
    parts = cell.split(",")
    assert len(parts) == len(values)
    for part, value in zip(parts, values, strict=True):
        expected = ("true" if value else "false") if isinstance(value, bool) else str(value)
        assert part == expected


def test_flatten_is_idempotent_on_flat_rows() -> None:
    once = flatten({"a": {"b": [1, 2]}, "c": "x"})
    assert flatten(once) == once


def test_column_order_documented_then_other_then_custom_sorted() -> None:
    plan = ColumnPlan(
        documented=["identifyId", "email", "location.city", "lastInferredLocation"],
        custom=["customAttributes.zeta"],
    )
    seen = [
        "customAttributes.plan",
        "zzz",
        "email",
        "identifyId",
        "aaa",
        "lastInferredLocation.countryCode",
        "lastInferredLocation.city",
        "customAttributes.alpha",
    ]
    assert plan.order(seen) == [
        "identifyId",
        "email",
        "location.city",  # documented: a column even when no record has it
        "lastInferredLocation.city",  # a documented parent stands for its children, sorted
        "lastInferredLocation.countryCode",
        "aaa",
        "zzz",
        "customAttributes.alpha",
        "customAttributes.plan",
        "customAttributes.zeta",  # known from the attribute metadata, unseen
    ]
    assert plan.order(reversed(seen)) == plan.order(seen)


def test_plan_from_the_users_spec_and_attribute_metadata() -> None:
    spec = registry.get("users")
    plan = ColumnPlan.from_spec(spec, {"renewal": "DATE_TIME", "plan": "STRING", "seats": "NUMBER"})
    order = plan.order()
    assert order[0] == "identifyId"
    assert order.index("location.city") < order.index("customAttributes.plan")
    assert order[-3:] == ["customAttributes.plan", "customAttributes.renewal", "customAttributes.seats"]
    assert {"signUpDate", "lastSeenDate", "customAttributes.renewal"} <= plan.date_columns
    assert "customAttributes.plan" not in plan.date_columns
    assert {"identifyId", "accountId", "location.postalCode"} <= plan.id_columns
    assert plan.types["numberOfVisits"] == "integer" and plan.types["score"] == "number"
    assert plan.types["customAttributes.seats"] == "number" and plan.types["signUpDate"] == "datetime"
    assert plan.types["globalUnsubscribe"] == "boolean" and plan.types["email"] == "string"


def test_select_orders_matches_case_insensitively_and_expands_parents() -> None:
    plan = ColumnPlan(documented=["identifyId", "email", "location.city", "location.countryCode"])
    columns = plan.order(["customAttributes.plan"])
    assert plan.select(["EMAIL", "identifyId", "location"], columns) == [
        "email",
        "identifyId",
        "location.city",
        "location.countryCode",
    ]
    assert plan.select(["customattributes.plan", "nope", " email "], columns) == [
        "customAttributes.plan",
        "nope",
        "email",
    ]
    assert plan.unknown_columns(["email", "nope"], columns) == ["nope"]
