"""Header → API field mapping: normalised names, prefixes, aliases, TOML map files, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchgs.entities import registry
from batchgs.errors import InputFileError
from batchgs.io.mapping import describe, load_map_file, map_headers, mapping_from, normalise

USERS = registry.get("users")


def test_normalise_ignores_case_spaces_underscores_and_dashes() -> None:
    assert normalise(" Identify ID ") == "identifyid"
    assert normalise("first_name") == normalise("First-Name") == normalise("firstName")


def test_headers_match_api_fields_loosely() -> None:
    mapping = map_headers(
        ["Identify ID", "E-mail", "first_name", "SIGN UP DATE", "Location.Country Code", "propertyKeys"],
        USERS,
    )
    assert describe(mapping) == {
        "Identify ID": "identifyId",
        "E-mail": "email",
        "first_name": "firstName",
        "SIGN UP DATE": "signUpDate",
        "Location.Country Code": "location.countryCode",
        "propertyKeys": "propertyKeys",
    }
    assert mapping.target("location.countryCode").path == ("location", "countryCode")  # type: ignore[union-attr]


def test_custom_and_attribute_prefixes_keep_the_api_name_case() -> None:
    mapping = map_headers(["identifyId", "custom.planTier", "customAttributes.Seats", "CUSTOM.x"], USERS)
    assert [t.path for t in mapping.targets] == [
        ("identifyId",),
        ("customAttributes", "planTier"),
        ("customAttributes", "Seats"),
        ("customAttributes", "x"),
    ]
    events = map_headers(["identifyId", "eventName", "attributes.Amount"], registry.get("events"))
    assert events.targets[-1].path == ("attributes", "Amount")


def test_underscore_columns_are_ignored_so_error_reports_feed_back() -> None:
    mapping = map_headers(["identifyId", "email", "_row", "_code", "_message", "_http_status"], USERS)
    assert describe(mapping) == {"identifyId": "identifyId", "email": "email"}
    assert mapping.ignored == ["_row", "_code", "_message", "_http_status"]
    assert mapping.notices == []


def test_read_only_columns_are_skipped_with_a_notice() -> None:
    mapping = map_headers(["identifyId", "aptrinsicId", "lastSeenDate", "lastInferredLocation.city"], USERS)
    assert describe(mapping) == {"identifyId": "identifyId"}
    assert mapping.notices == [
        "read-only column(s) skipped, never sent: aptrinsicId, lastSeenDate, lastInferredLocation.city"
    ]


def test_unknown_columns_are_all_listed_with_suggestions() -> None:
    with pytest.raises(InputFileError) as caught:
        map_headers(["identifyId", "Emial", "Frist Name", "zzz"], USERS, path="people.csv")
    assert caught.value.message == (
        "people.csv: unknown columns for users: 'Emial' (did you mean 'email'?), "
        "'Frist Name' (did you mean 'firstName'?), 'zzz'"
    )
    assert caught.value.hint is not None and "custom.<name>" in caught.value.hint


def test_unknown_column_suggests_a_known_custom_attribute() -> None:
    with pytest.raises(InputFileError, match=r"'plan' \(did you mean 'custom.plan'\?\)"):
        map_headers(["identifyId", "plan"], USERS, custom_names=["plan", "seats"])


def test_cta_aliases_and_custom_suffix() -> None:
    mapping = map_headers(
        ["Name", "Company", "Owner", "Due Date", "Renewal__gc", "CompanyId__gr.Name"], registry.get("ctas")
    )
    assert describe(mapping) == {
        "Name": "Name",
        "Company": "CompanyId",
        "Owner": "OwnerId",
        "Due Date": "DueDate",
        "Renewal__gc": "Renewal__gc",
    }
    assert "CompanyId__gr.Name" in mapping.ignored


def test_cs_events_take_any_column_nested_by_dots() -> None:
    mapping = map_headers(["account.name", "score"], registry.get("cs-events"))
    assert [t.path for t in mapping.targets] == [("account", "name"), ("score",)]


def test_two_columns_filling_one_field_are_refused() -> None:
    with pytest.raises(InputFileError, match="columns 'email' and 'E-mail' both fill email"):
        map_headers(["identifyId", "email", "E-mail"], USERS)


def test_map_file_renames_constants_and_ignores(tmp_path: Path) -> None:
    map_path = tmp_path / "map.toml"
    map_path.write_text(
        'ignore = ["Notes"]\n'
        "[columns]\n"
        '"User Key" = "identifyId"\n'
        '"Tier" = "custom.tier"\n'
        '"Internal" = ""\n'
        '"Absent" = "email"\n'
        "[constants]\n"
        'propertyKeys = ["AP-1", "AP-2"]\n'
        'type = "USER"\n'
        "globalUnsubscribe = false\n",
        encoding="utf-8",
    )
    mapping = mapping_from(["User Key", "tier", "Notes", "Internal"], USERS, map_path)
    assert describe(mapping) == {
        "User Key": "identifyId",
        "tier": "customAttributes.tier",
        "propertyKeys (constant)": "propertyKeys",
        "type (constant)": "type",
        "globalUnsubscribe (constant)": "globalUnsubscribe",
    }
    constants = {t.field: t.constant for t in mapping.targets if t.constant is not None}
    assert constants == {"propertyKeys": "AP-1,AP-2", "type": "USER", "globalUnsubscribe": "false"}
    assert mapping.ignored == ["Notes", "Internal"]
    assert mapping.notices == ["mapping file: column 'Absent' is not in the file"]


def test_map_file_ignore_written_after_a_table_still_works(tmp_path: Path) -> None:
    map_path = tmp_path / "map.toml"
    map_path.write_text('[columns]\n"Key" = "identifyId"\nignore = ["Notes"]\n', encoding="utf-8")
    assert load_map_file(map_path).ignore == ("Notes",)


def test_map_file_to_an_unknown_field_is_an_error_naming_the_file(tmp_path: Path) -> None:
    map_path = tmp_path / "map.toml"
    map_path.write_text('[columns]\n"Mail" = "emial"\n', encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        mapping_from(["identifyId", "Mail"], USERS, map_path)
    assert caught.value.message == (
        f"{map_path}: mapping file: [columns] 'Mail' = 'emial': 'emial' is not a field of users"
    )
    assert caught.value.hint == "did you mean 'email'?"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[columns\n", "not a valid TOML mapping file"),
        ("rename = 1\n", "unknown key(s) in mapping file: rename"),
        ("[columns]\nA = 3\n", "[columns] 'A' must map to an API field name (text)"),
        ("[constants]\nx = {a = 1}\n", "[constants] 'x' must be text, a number, a boolean or a list of text"),
    ],
)
def test_bad_map_files(tmp_path: Path, text: str, error: str) -> None:
    map_path = tmp_path / "map.toml"
    map_path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        load_map_file(map_path)
    assert error in caught.value.message and str(map_path) in caught.value.message


def test_missing_map_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read mapping file"):
        load_map_file(tmp_path / "nope.toml")
