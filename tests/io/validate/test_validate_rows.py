"""Row validation: the exact invalid rows and codes, and the exact payload of valid rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from batchgs.entities import registry
from batchgs.errors import InputFileError, UsageError
from batchgs.io.validate.attributes import AttributeCatalog
from batchgs.io.validate.file import FrameSource, ValidateOptions, prepare_source


def run(
    entity: str, frame: pl.DataFrame | dict[str, list[Any]], **options: Any
) -> tuple[dict[int, Any], list[tuple[int, str | None, str]]]:
    """(row → payload of valid rows, [(row, column, code)] of every issue), via batches() of 3 rows."""
    if isinstance(frame, dict):
        frame = pl.DataFrame(frame, schema={k: pl.String for k in frame})
    validation = prepare_source(FrameSource(frame), registry.get(entity), ValidateOptions(**options))
    payloads: dict[int, Any] = {}
    issues: list[tuple[int, str | None, str]] = []
    for batch in validation.batches(3):
        for row in batch:
            if row.valid:
                payloads[row.row] = row.payload
            issues += [(i.row, i.column, i.code) for i in row.issues]
    fast = [(i.row, i.column, i.code) for i in validation.issues_only(size=4)]
    assert fast == issues, "the fast path finds exactly what the full path finds"
    return payloads, issues


def test_realistic_users_sheet() -> None:
    payloads, issues = run(
        "users",
        {
            "Identify ID": ["U1", "U2", "U3", "U1", "", "U6", "1.23E+15"],
            "Email": ["a@x.io", "not-an-email", "c@x.io", "d@x.io", "e@x.io", "f@x.io", "g@x.io"],
            "Type": ["user", "Lead", "ADMIN", "", "USER", "visitor", ""],
            "Sign Up Date": ["2024-01-15", "15/01/2024", "2024-02-30", "", "", "03/04/2024", ""],
            "Score": ["12.5", "7", "x", "", "", "1,5", ""],
            "globalUnsubscribe": ["yes", "N", "maybe", "", "", "0", ""],
            "propertyKeys": ["AP-1", "AP-1; AP-2", "AP-1", "AP-1", "AP-1", "", "AP-1"],
            "_row": ["2", "3", "4", "5", "6", "7", "8"],
        },
    )
    assert issues == [
        (3, "Email", "bad-email"),
        (4, "Type", "bad-enum"),
        (4, "Sign Up Date", "bad-date"),
        (4, "Score", "bad-number"),
        (4, "globalUnsubscribe", "bad-boolean"),
        (5, "Identify ID", "duplicate-key"),
        (6, "Identify ID", "missing-required"),
        (7, "Sign Up Date", "ambiguous-date"),
        (7, "Score", "bad-number"),
        (7, "propertyKeys", "missing-required"),
        (8, "Identify ID", "excel-damaged-id"),
    ]
    assert payloads == {
        2: {
            "identifyId": "U1",
            "email": "a@x.io",
            "type": "USER",
            "signUpDate": 1705276800000,
            "score": 12.5,
            "globalUnsubscribe": True,
            "propertyKeys": ["AP-1"],
        },
    }


def test_messages_name_the_value_and_the_first_row_of_a_duplicate() -> None:
    frame = pl.DataFrame({"identifyId": ["A", "B", "A", "A"], "email": ["x", "", "", ""]})
    validation = prepare_source(FrameSource(frame), registry.get("users"), ValidateOptions(mode="update"))
    messages = [(i.row, i.column, i.message) for i in validation.issues_only()]
    assert messages == [
        (2, "email", "'x' is not an email address"),
        (4, "identifyId", "'A' already appears in row 2"),
        (5, "identifyId", "'A' already appears in row 2"),
    ]


def test_payload_leaves_empty_cells_out_and_nests_location_and_custom() -> None:
    payloads, issues = run(
        "users",
        {
            "identifyId": ["U1"],
            "firstName": ["  Ada  "],
            "lastName": [""],
            "location.city": ["Paris"],
            "location.coordinates.latitude": ["48.85"],
            "custom.seats": ["83"],
            "custom.zip": ["01234"],
            "custom.beta": ["TRUE"],
            "custom.note": [""],
        },
        product_key="AP-9",
    )
    assert issues == []
    assert payloads[2] == {
        "identifyId": "U1",
        "firstName": "Ada",
        "location": {"city": "Paris", "coordinates": {"latitude": 48.85}},
        "customAttributes": {"seats": 83, "zip": "01234", "beta": True},
        "propertyKeys": ["AP-9"],
    }


# -- dates: epoch ms to the millisecond across time zones and DST ---------------------------------

PARIS_CASES = [
    ("2024-03-31T01:59:59", 1711846799000),  # last second of CET on the spring-forward day
    ("2024-03-31T03:00:00", 1711846800000),  # first second of CEST: one second later
    ("2024-03-31 12:00", 1711879200000),  # CEST, +02:00
    ("2024-10-27T02:30:00", 1729989000000),  # occurs twice: the first (CEST) is taken, as zoneinfo fold=0
    ("2024-10-27T03:30:00", 1729996200000),  # CET, +01:00
    ("2024-10-27", 1729980000000),  # local midnight, still CEST
    ("2024-07-01T09:30:00.123", 1719819000123),
    ("2024-07-01T09:30:00.1239", 1719819000123),  # sub-millisecond digits are cut, not rounded
    ("2024-07-01T09:30:00Z", 1719826200000),  # an offset wins over --timezone
    ("2024-07-01T09:30:00-04:00", 1719840600000),
    ("2024-07-01T09:30:00+0530", 1719806400000),
    ("1719826200000", 1719826200000),  # epoch ms pass through
    ("25/12/2024 18:45", 1735148700000),  # day-first, self-evident, CET
]


@pytest.mark.parametrize(("text", "expected"), PARIS_CASES)
def test_dates_in_europe_paris(text: str, expected: int) -> None:
    payloads, issues = run(
        "events",
        {"identifyId": ["U1"], "eventName": ["e"], "date": [text]},
        product_key="AP-1",
        timezone="Europe/Paris",
    )
    assert issues == []
    assert payloads[2]["date"] == expected


NEW_YORK_CASES = [
    ("2024-03-10T01:59:59", 1710053999000),  # EST, -05:00
    ("2024-03-10T03:00:00", 1710054000000),  # EDT, -04:00
    ("2024-11-03T01:30:00", 1730611800000),  # ambiguous: first occurrence (EDT)
    ("2024-11-03T02:30:00", 1730619000000),  # EST
]


@pytest.mark.parametrize(("text", "expected"), NEW_YORK_CASES)
def test_dates_in_new_york(text: str, expected: int) -> None:
    payloads, issues = run(
        "events",
        {"identifyId": ["U1"], "eventName": ["e"], "date": [text]},
        product_key="AP-1",
        timezone="America/New_York",
    )
    assert issues == []
    assert payloads[2]["date"] == expected


def test_wall_time_in_a_dst_gap_is_a_bad_date_with_a_reason() -> None:
    frame = pl.DataFrame({"identifyId": ["U1"], "eventName": ["e"], "date": ["2024-03-31 02:30"]})
    validation = prepare_source(
        FrameSource(frame), registry.get("events"), ValidateOptions(product_key="AP", timezone="Europe/Paris")
    )
    [issue] = list(validation.issues_only())
    assert (issue.code, issue.column) == ("bad-date", "date")
    assert (
        issue.message
        == "'2024-03-31 02:30' does not exist in Europe/Paris (the clocks skip that hour for daylight saving)"
    )


def test_date_format_option() -> None:
    payloads, issues = run(
        "events",
        {
            "identifyId": ["U1", "U2", "U3"],
            "eventName": ["e", "e", "e"],
            "date": ["03/04/2024 10:00", "2024-04-03", "13/13/2024 10:00"],
        },
        product_key="AP",
        timezone="Europe/Paris",
        date_format="%d/%m/%Y %H:%M",
    )
    assert payloads[2]["date"] == 1712131200000  # 3 April 10:00 CEST
    assert payloads[3]["date"] == 1712095200000  # ISO still accepted
    assert issues == [(4, "date", "bad-date")]


def test_ambiguous_dates_are_flagged_not_guessed() -> None:
    payloads, issues = run(
        "accounts",
        {
            "id": ["A1", "A2", "A3", "A4"],
            "renewalDate": ["03/04/2024", "25/04/2024", "04/04/2024", "04/25/2024"],
        },
        mode="update",
    )
    # row 3 is day-first, row 5 month-first: the column mixes orders, so every slash date is doubtful
    assert issues == [(r, "renewalDate", "ambiguous-date") for r in (2, 3, 4, 5)]
    payloads, issues = run(
        "accounts",
        {"id": ["A1", "A2", "A3"], "renewalDate": ["03/04/2024", "25/04/2024", "04/04/2024"]},
        mode="update",
    )
    assert issues == [(2, "renewalDate", "ambiguous-date")]
    assert payloads[3]["renewalDate"] == 1714003200000  # 25 April 2024 UTC
    assert payloads[4]["renewalDate"] == 1712188800000  # 4 April either way


def test_ambiguous_message_points_at_the_evidence() -> None:
    frame = pl.DataFrame({"id": ["A1", "A2"], "renewalDate": ["25/04/2024", "03/04/2024"]})
    validation = prepare_source(FrameSource(frame), registry.get("accounts"), ValidateOptions(mode="update"))
    [issue] = list(validation.issues_only())
    assert issue.message == (
        "'03/04/2024' could be day/month or month/day (row 2 of this column is day-first): "
        "pass --date-format '%d/%m/%Y' or '%m/%d/%Y' (add ' %H:%M' for times)"
    )


def test_epoch_seconds_are_explained() -> None:
    frame = pl.DataFrame({"id": ["A1"], "renewalDate": ["1719826200"]})
    [issue] = list(
        prepare_source(
            FrameSource(frame), registry.get("accounts"), ValidateOptions(mode="update")
        ).issues_only()
    )
    assert (
        issue.message
        == "'1719826200' looks like epoch seconds; epoch milliseconds have 13 digits (multiply by 1000)"
    )


# -- typed cells (XLSX) ---------------------------------------------------------------------------


def test_typed_excel_cells_give_the_same_payload_as_text() -> None:
    typed = pl.DataFrame(
        {
            "id": ["A1", "A2"],
            "name": ["Acme", "Globex"],
            "numberOfEmployees": [250.0, 12.5],
            "healthScore": [72, None],
            "renewalDate": [dt.datetime(2024, 10, 27, 2, 30), dt.datetime(2024, 1, 1)],
            "custom.partner": [True, False],
            "custom.since": [dt.date(2024, 3, 31), None],
            "sicCode": [7372.0, 1.5e15],
        }
    )
    payloads, issues = run("accounts", typed, product_key="AP-1", timezone="Europe/Paris")
    assert issues == [(3, "numberOfEmployees", "bad-number"), (3, "sicCode", "excel-damaged-id")]
    assert payloads[2] == {
        "id": "A1",
        "name": "Acme",
        "numberOfEmployees": 250,
        "healthScore": 72,
        "renewalDate": 1729989000000,
        "customAttributes": {"partner": True, "since": 1711839600000},
        "sicCode": "7372",
        "propertyKeys": ["AP-1"],
    }


def warnings_of(frame: pl.DataFrame, entity: str = "users", **options: Any) -> list[tuple[int, str, str]]:
    validation = prepare_source(FrameSource(frame), registry.get(entity), ValidateOptions(**options))
    found = [(w.row, str(w.column), w.code) for row in validation.flagged_rows(size=2) for w in row.warnings]
    full = [(w.row, str(w.column), w.code) for b in validation.batches(3) for row in b for w in row.warnings]
    assert found == full, "flagged_rows finds exactly the warnings batches() finds"
    return found


def test_lost_leading_zeros_is_a_warning_and_the_value_is_sent_as_written() -> None:
    ids = ["000123", "004567", "012345", "4568", "ABC"]
    frame = pl.DataFrame({"identifyId": ids, "accountId": ["1", "2", "3", "4", "5"]})
    payloads, issues = run("users", frame, mode="update")
    assert issues == []
    assert payloads[5] == {"identifyId": "4568", "accountId": "4"}
    assert warnings_of(frame, mode="update") == [(5, "identifyId", "excel-lost-leading-zeros")]
    # --strict-warnings: the suspicion blocks the row, as an error with the same code
    payloads, issues = run("users", frame, mode="update", strict_warnings=True)
    assert issues == [(5, "identifyId", "excel-lost-leading-zeros")] and 5 not in payloads


def test_postal_codes_are_never_judged_by_length() -> None:
    codes = ["02139", "10001", "8001", "2000", "0150", "75001", "SW1A 1AA", "1010-123", "H3Z 2Y7", "100-0001"]
    frame = pl.DataFrame({"identifyId": [f"U{i}" for i in range(len(codes))], "location.postalCode": codes})
    payloads, issues = run("users", frame, mode="update")
    assert issues == [] and warnings_of(frame, mode="update") == []
    assert [payloads[i + 2]["location"]["postalCode"] for i in range(len(codes))] == codes
    typed = pl.DataFrame({"identifyId": ["U1", "U2", "U3"], "location.postalCode": [75001, 1234, 69002]})
    payloads, issues = run("users", typed, mode="update")
    assert payloads[3]["location"] == {"postalCode": "1234"} and issues == []


def test_certain_damage_stays_an_error_and_a_fractional_number_cell_is_a_warning() -> None:
    frame = pl.DataFrame(
        {
            "identifyId": ["1.23457E+19", "123.0", "U3", "1234567890123450000"],
            "accountId": ["A", "B", "123.00", "1234567890123456789"],
        }
    )
    payloads, issues = run("users", frame, mode="update")
    assert issues == [
        (2, "identifyId", "excel-damaged-id"),
        (3, "identifyId", "float-id"),  # issue 15: a float id 123.0 is certain damage
        (4, "accountId", "float-id"),
    ]
    assert payloads[5] == {"identifyId": "1234567890123450000", "accountId": "1234567890123456789"}
    assert warnings_of(frame, mode="update") == [(5, "identifyId", "id-may-be-rounded")]
    typed = pl.DataFrame({"identifyId": ["U1", "U2"], "accountId": [123.0, 123.5]})
    payloads, issues = run("users", typed, mode="update")
    assert issues == [] and payloads[2]["accountId"] == "123"  # a whole number cell is its digits
    assert warnings_of(typed, mode="update") == [(3, "accountId", "id-looks-like-a-number")]


def test_only_a_float_printed_in_scientific_notation_is_a_damaged_id() -> None:
    damaged = ["1.23457E+19", "1E+19", "1,23E+15", "1.2345678901234567e+19", "1.2345678901234567E19"]
    codes = ["12E4", "3E5", "2e10", "AB1E+5", "1E5"]  # product or site codes: the API takes them
    frame = pl.DataFrame({"identifyId": damaged + codes})
    payloads, issues = run("users", frame, mode="update")
    assert issues == [(row, "identifyId", "excel-damaged-id") for row in range(2, 2 + len(damaged))]
    assert [payloads[row]["identifyId"] for row in range(2 + len(damaged), 2 + len(frame))] == codes


def test_a_formatted_number_among_numbers_of_an_event_attribute_is_a_warning() -> None:
    frame = pl.DataFrame(
        {
            "eventName": ["signup"] * 4,
            "identifyId": ["U1", "U2", "U3", "U4"],
            "propertyKey": ["AP-1"] * 4,
            "attributes.seats": ["100", "1,000", "2 500", "7"],
            "attributes.label": ["a", "1,000", "b", "c"],  # no number in the column: no drift
        }
    )
    payloads, issues = run("events", frame)
    assert issues == []
    assert payloads[3]["attributes"] == {"seats": "1,000", "label": "1,000"}  # sent as written
    found = warnings_of(frame, "events")
    assert found == [
        (3, "attributes.seats", "mixed-number-format"),
        (4, "attributes.seats", "mixed-number-format"),
    ]
    validation = prepare_source(FrameSource(frame), registry.get("events"), ValidateOptions())
    first = next(validation.flagged_rows()).warnings[0]
    assert first.message == (
        "'1,000' is sent as text while row 2 of this column sends a number: write it without thousands "
        "separators and with a . for decimals (e.g. '1000') to send a number"
    )


# -- required fields per mode ---------------------------------------------------------------------


def test_required_columns_depend_on_the_mode() -> None:
    frame = pl.DataFrame({"identifyId": ["U1"], "email": ["a@x.io"]})
    with pytest.raises(InputFileError) as caught:
        prepare_source(
            FrameSource(frame), registry.get("users"), ValidateOptions(mode="insert"), path="u.csv"
        )
    assert (
        caught.value.message
        == "u.csv: missing required column for users --mode insert: propertyKeys (or --product-key)"
    )
    payloads, _ = run("users", frame, mode="update")
    assert payloads[2] == {"identifyId": "U1", "email": "a@x.io"}
    payloads, _ = run("users", frame, mode="delete")
    assert payloads[2] == {"identifyId": "U1"}
    with pytest.raises(InputFileError, match="missing required column for users --mode update: identifyId"):
        prepare_source(
            FrameSource(pl.DataFrame({"email": ["a@x.io"]})),
            registry.get("users"),
            ValidateOptions(mode="update"),
        )


def test_delete_checks_only_the_key() -> None:
    payloads, issues = run("users", {"identifyId": ["U1", ""], "email": ["broken", "x"]}, mode="delete")
    assert payloads == {2: {"identifyId": "U1"}}
    assert issues == [(3, "identifyId", "missing-required")]


def test_unknown_mode_and_time_zone_are_usage_errors() -> None:
    frame = pl.DataFrame({"identifyId": ["U1"]})
    with pytest.raises(UsageError, match="--mode update is not available for events"):
        prepare_source(FrameSource(frame), registry.get("events"), ValidateOptions(mode="update"))
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'"):
        prepare_source(FrameSource(frame), registry.get("users"), ValidateOptions(timezone="Mars/Olympus"))


def test_ctas_upsert_requires_create_fields_only_without_gsid() -> None:
    payloads, issues = run(
        "ctas",
        {
            "Gsid": ["1S01", "", ""],
            "Name": ["", "Risk", ""],
            "Company": ["", "1P02", "1P02"],
            "Due Date": ["", "2024-06-30", "30/06/2024"],
        },
    )
    assert issues == [(4, "Name", "missing-required")]
    assert payloads == {
        2: {"Gsid": "1S01"},
        3: {"Name": "Risk", "CompanyId": "1P02", "DueDate": "2024-06-30"},
    }


def test_events_defaults_limits_and_product_key() -> None:
    frame = {
        "identifyId": ["U1", "U2"],
        "eventName": ["Paid", "x" * 2001],
        "userType": ["", "lead"],
        "attributes.amount": ["64", "1.5"],
        "attributes.when": ["2024-01-01T00:00:00Z", ""],
    }
    payloads, issues = run("events", frame, product_key="AP-1")
    assert issues == [(3, "eventName", "too-long")]
    assert payloads[2] == {
        "identifyId": "U1",
        "eventName": "Paid",
        "userType": "USER",
        "attributes": {"amount": 64, "when": "2024-01-01T00:00:00Z"},
        "propertyKey": "AP-1",
    }


def test_too_many_event_attributes() -> None:
    frame = {"identifyId": ["U1", "U2"], "eventName": ["e", "e"], "propertyKey": ["AP", "AP"]}
    for i in range(51):
        frame[f"attributes.a{i}"] = ["1", "1" if i < 50 else ""]
    payloads, issues = run("events", frame)
    assert issues == [(2, "attributes", "too-many-attributes")]
    assert len(payloads[3]["attributes"]) == 50


def test_preferences_blank_cells_leave_preferences_unchanged() -> None:
    payloads, issues = run(
        "preferences",
        {
            "identifyId": ["U1", "U2"],
            "trackUsage": ["false", "nope"],
            "surveys": ["", "YES"],
            "guidedTours": ["0", ""],
        },
    )
    assert payloads == {2: {"identifyId": "U1", "trackUsage": False, "guidedTours": False}}
    assert issues == [(3, "trackUsage", "bad-boolean")]


# -- custom attributes against the subscription's catalog ------------------------------------------

CATALOG = AttributeCatalog.from_api(
    [
        {"apiName": "id", "type": "STRING", "origin": "DEFAULT", "state": "ENABLED"},
        {"apiName": "plan", "type": "STRING", "origin": "CUSTOM", "state": "ENABLED"},
        {"apiName": "seats", "type": "NUMBER", "origin": "CUSTOM", "state": "ENABLED"},
        {"apiName": "isBeta", "type": "BOOLEAN", "origin": "CUSTOM", "state": "ENABLED"},
        {"apiName": "trialEndDate", "type": "DATE_TIME", "origin": "CUSTOM", "state": "ENABLED"},
        {"apiName": "legacy", "type": "STRING", "origin": "CUSTOM", "state": "DELETED"},
    ]
)


def test_custom_attributes_are_typed_by_the_catalog() -> None:
    frame = {
        "identifyId": ["U1", "U2"],
        "custom.plan": ["007", ""],
        "custom.Seats": ["83", "many"],
        "custom.isBeta": ["yes", ""],
        "custom.trialEndDate": ["2024-08-14", ""],
        "custom.plann": ["", "x"],
        "custom.legacy": ["", "y"],
    }
    validation = prepare_source(
        FrameSource(pl.DataFrame(frame)),
        registry.get("users"),
        ValidateOptions(mode="update", attributes=CATALOG),
    )
    rows = [row for batch in validation.batches() for row in batch]
    assert rows[0].payload == {
        "identifyId": "U1",
        "customAttributes": {"plan": "007", "seats": 83, "isBeta": True, "trialEndDate": 1723593600000},
    }
    assert [(i.column, i.code, i.message) for i in rows[1].issues] == [
        ("custom.Seats", "bad-number", "'many' is not a number"),
        ("custom.plann", "unknown-attribute", "unknown custom attribute 'plann' (did you mean 'plan'?)"),
        ("custom.legacy", "unknown-attribute", "custom attribute 'legacy' is deleted"),
    ]
    assert validation.notices == [
        "column(s) that cannot be sent, reported on every filled row: custom.plann, custom.legacy"
    ]


def test_row_count_and_original_text_are_kept() -> None:
    frame = pl.DataFrame({"identifyId": [" U1 ", "U2"], "score": ["1", None]})
    validation = prepare_source(FrameSource(frame), registry.get("users"), ValidateOptions(mode="update"))
    assert validation.row_count() == 2
    rows = [row for batch in validation.batches() for row in batch]
    assert rows[0].original == {"identifyId": " U1 ", "score": "1"}
    assert rows[1].original == {"identifyId": "U2", "score": ""}
    assert rows[0].key == "U1"


def test_cheap_batch_paths_give_the_same_result_as_the_general_ones() -> None:
    """Batches of 3 rows: canonical enums, lists without separators, one date shape, epoch ms late."""
    payloads, issues = run(
        "users",
        {
            "identifyId": ["U1", "U2", "U3", "U4", "U5", "U6"],
            "type": ["USER", "LEAD", "", "user", " VISITOR ", "Admin"],
            "propertyKeys": ["AP-1", "AP-2", "AP-3", "AP-1,AP-2", " AP-3 ", "AP-4"],
            "signUpDate": [
                "2024-01-01T00:00:00Z",
                "2024-01-02T00:00:00Z",
                "1704240000000",
                "2024-01-04",
                "",
                "x",
            ],
        },
    )
    assert issues == [(7, "type", "bad-enum"), (7, "signUpDate", "bad-date")]
    assert [payloads[r].get("type") for r in range(2, 7)] == ["USER", "LEAD", None, "USER", "VISITOR"]
    assert [payloads[r]["propertyKeys"] for r in range(2, 7)] == [
        ["AP-1"],
        ["AP-2"],
        ["AP-3"],
        ["AP-1", "AP-2"],
        ["AP-3"],
    ]
    assert [payloads[r].get("signUpDate") for r in range(2, 7)] == [
        1704067200000,
        1704153600000,
        1704240000000,
        1704326400000,
        None,
    ]


def test_product_key_fills_creates_only() -> None:
    frame = {"identifyId": ["U1"], "email": ["a@x.io"]}
    assert run("users", frame, mode="update", product_key="AP-1")[0] == {
        2: {"identifyId": "U1", "email": "a@x.io"}
    }
    assert run("users", frame, mode="insert", product_key="AP-1")[0][2]["propertyKeys"] == ["AP-1"]


def test_cs_events_send_any_columns_nested() -> None:
    payloads, issues = run(
        "cs-events", {"account.name": ["Acme"], "account.seats": ["12"], "active": ["true"], "note": [""]}
    )
    assert issues == []
    assert payloads == {2: {"account": {"name": "Acme", "seats": 12}, "active": True}}


def test_duplicates_across_batches_and_hash_partitions() -> None:
    keys = [f"K{i % 1500}" for i in range(4000)]  # rows 1500.. repeat earlier keys
    frame = pl.DataFrame({"identifyId": keys})
    validation = prepare_source(FrameSource(frame), registry.get("users"), ValidateOptions(mode="delete"))
    issues = list(validation.issues_only(size=700))
    assert len(issues) == 2500
    assert all(i.code == "duplicate-key" for i in issues)
    assert [(i.row, i.message) for i in issues[:2]] == [
        (1502, "'K0' already appears in row 2"),
        (1503, "'K1' already appears in row 3"),
    ]
    assert issues[-1].message == f"'K{3999 % 1500}' already appears in row {3999 % 1500 + 2}"


def test_cells_neutralised_by_batchgs_are_sent_without_the_quote() -> None:
    payloads, issues = run(
        "users",
        {
            "identifyId": ["U1", "U2", "U3", "U4"],
            "firstName": ["'=1+1", "'-12", "'hello", "'@ana"],
            "phone": ["'+33 1 23 45 67 89", "", "", "'-"],
        },
        mode="update",
    )
    assert issues == []
    assert [payloads[r].get("firstName") for r in range(2, 6)] == ["=1+1", "'-12", "'hello", "@ana"]
    assert payloads[2]["phone"] == "+33 1 23 45 67 89"
    assert payloads[5]["phone"] == "-"


def test_a_placeholder_product_key_option_is_refused() -> None:
    frame = pl.DataFrame({"identifyId": ["U1"]})
    with pytest.raises(UsageError) as caught:
        prepare_source(
            FrameSource(frame), registry.get("users"), ValidateOptions(product_key="AP-XXXXXXXXXX-2")
        )
    assert "placeholder" in caught.value.message
