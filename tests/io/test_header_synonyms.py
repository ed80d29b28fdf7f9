"""The headers real exports carry map to API fields; ambiguous ones are refused; did-you-mean goes by
meaning; `--extra-columns attributes` takes unknown event columns as attributes."""

from __future__ import annotations

import pytest

from batchgs.entities import registry
from batchgs.errors import InputFileError, UsageError
from batchgs.io.entity_docs import render_entities_markdown
from batchgs.io.header_synonyms import AMBIGUOUS, SYNONYMS, check_table
from batchgs.io.mapping import describe, map_headers
from batchgs.io.names import normalise

CASES = [
    (entity, field, header)
    for entity, table in SYNONYMS.items()
    for field, headers in table.items()
    for header in headers
]


def key_header(entity: str, field: str) -> list[str]:
    """The key column to add beside `field`, unless `field` is the key."""
    key = registry.get(entity).key or "identifyId"
    return [] if field == key else [key]


@pytest.mark.parametrize(("entity", "field", "header"), CASES, ids=[f"{e}:{h}" for e, _f, h in CASES])
def test_each_synonym_maps_to_its_field(entity: str, field: str, header: str) -> None:
    mapping = map_headers([*key_header(entity, field), header], registry.get(entity))
    assert describe(mapping)[header] == field


def test_the_table_is_consistent_with_itself_and_the_specs() -> None:
    assert check_table() == []
    for entity, table in SYNONYMS.items():
        spec = registry.get(entity)
        names = {normalise(c.name): c.name for c in spec.columns}
        for field, headers in table.items():
            column = spec.find_column(field)
            assert column is not None and not column.read_only, f"{entity}.{field} is a writable field"
            for header in headers:  # a synonym spelled like another field would never apply
                assert names.get(normalise(header), field) == field, (entity, header)
    for entity, table in AMBIGUOUS.items():
        spec = registry.get(entity)
        for header, fields in table.items():
            assert normalise(header) not in {normalise(c.name) for c in spec.columns}, header
            assert all(spec.find_column(f) is not None for f in fields), header


def test_the_issue_headers_map_themselves() -> None:
    users = map_headers(
        ["User ID", "Job Title", "Time Zone", "Sign-Up Date", "E-mail", "ZIP"], registry.get("users")
    )
    assert describe(users) == {
        "User ID": "identifyId",
        "Job Title": "title",
        "Time Zone": "location.timeZone",
        "Sign-Up Date": "signUpDate",
        "E-mail": "email",
        "ZIP": "location.postalCode",
    }
    accounts = map_headers(["Account ID", "Account Name"], registry.get("accounts"))
    assert describe(accounts) == {"Account ID": "id", "Account Name": "name"}
    events = map_headers(["UserId", "Account ID", "Event Name", "Timestamp"], registry.get("events"))
    assert describe(events) == {
        "UserId": "identifyId",
        "Account ID": "accountId",
        "Event Name": "eventName",
        "Timestamp": "date",
    }


def test_an_exact_field_name_wins_over_a_synonym() -> None:
    """`Name` on accounts is the field `name`; on events the synonym of eventName."""
    assert describe(map_headers(["id", "Name"], registry.get("accounts"))) == {"id": "id", "Name": "name"}
    events = map_headers(["identifyId", "Name"], registry.get("events"))
    assert describe(events)["Name"] == "eventName"


@pytest.mark.parametrize(
    ("entity", "header", "choices"),
    [
        ("users", "Name", "firstName or lastName"),
        ("users", "Date", "signUpDate or firstVisitDate"),
        ("events", "ID", "identifyId or accountId or eventId"),
        ("accounts", "Account", "id or name"),
    ],
)
def test_an_ambiguous_header_is_refused_with_its_choices(entity: str, header: str, choices: str) -> None:
    with pytest.raises(InputFileError) as caught:
        map_headers(
            ["identifyId" if entity != "accounts" else "id", header], registry.get(entity), path="f.csv"
        )
    assert caught.value.message == f"f.csv: ambiguous column for {entity}: {header!r} could be {choices}"
    assert caught.value.hint is not None and "--map" in caught.value.hint


def test_two_synonyms_of_one_field_are_refused() -> None:
    with pytest.raises(InputFileError, match="columns 'User ID' and 'External ID' both fill identifyId"):
        map_headers(["User ID", "External ID"], registry.get("users"))


@pytest.mark.parametrize(
    ("entity", "header", "expected"),
    [
        ("events", "Event Date UTC-MS", "date"),
        ("events", "Occurred (UTC)", "date"),
        ("events", "Evnt Name", "eventName"),
        ("users", "Emial", "email"),
        ("users", "Frist Name", "firstName"),
        ("users", "Signup Timestamp", "signUpDate"),
        ("users", "Mobile Number", "phone"),
        ("users", "Country ISO", "location.countryCode"),
        ("accounts", "Salesforce Acct", "sfdcId"),
        ("accounts", "Employee Headcount", "numberOfEmployees"),
    ],
)
def test_did_you_mean_goes_by_meaning_then_spelling(entity: str, header: str, expected: str) -> None:
    key = "id" if entity == "accounts" else "identifyId"
    with pytest.raises(InputFileError) as caught:
        map_headers([key, header], registry.get(entity))
    assert f"{header!r} (did you mean {expected!r}?)" in caught.value.message


def test_did_you_mean_stays_quiet_when_nothing_is_close() -> None:
    with pytest.raises(InputFileError) as caught:
        map_headers(["identifyId", "zzz", "Favourite Colour"], registry.get("users"))
    assert "unknown columns for users: 'zzz', 'Favourite Colour'" in caught.value.message


def test_extra_columns_attributes_sends_unknown_event_columns_as_attributes() -> None:
    events = registry.get("events")
    with pytest.raises(InputFileError, match="unknown column for events: 'Plan Tier'") as caught:
        map_headers(["identifyId", "eventName", "Plan Tier"], events)  # default: refused, hint names it
    assert caught.value.hint is not None and "--extra-columns attributes" in caught.value.hint
    mapping = map_headers(
        ["identifyId", "eventName", "Plan Tier", "Timestamp"], events, extra_columns="attributes"
    )
    assert describe(mapping) == {
        "identifyId": "identifyId",
        "eventName": "eventName",
        "Plan Tier": "attributes.Plan Tier",
        "Timestamp": "date",
    }


def test_extra_columns_attributes_is_for_events_only() -> None:
    with pytest.raises(UsageError, match="--extra-columns attributes is for events, not users"):
        map_headers(["identifyId"], registry.get("users"), extra_columns="attributes")


def test_entities_page_lists_every_synonym_and_ambiguous_header() -> None:
    text = render_entities_markdown()
    for entity, table in SYNONYMS.items():
        section = text.split(f"\n## {entity}\n", 1)[1].split("\n## ", 1)[0]
        lines = {line.split(":", 1)[0]: line for line in section.splitlines() if line.startswith("- `")}
        assert len(lines) == len(table)
        for field, headers in table.items():
            assert lines[f"- `{field}`"] == f"- `{field}`: " + ", ".join(f"`{h}`" for h in headers)
        for header, fields in AMBIGUOUS.get(entity, {}).items():
            assert f"`{header}` ({' or '.join(fields)})" in section
