"""Opt-out pieces without a server: the safe-write guard, --only, the list reader, the plan."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openpyxl
import pytest

from batchgs.engine import px_requests as rq
from batchgs.engine.optout.actions import (
    PREFERENCE_NAMES,
    OptOutOptions,
    UnsafeWriteError,
    check_safe_write,
    denylist_on,
    off_payload,
    parse_only,
    preferences_off,
    unsubscribe_on,
)
from batchgs.engine.optout.input import classify_row, read_input
from batchgs.engine.optout.plan import build_plan, count_people, count_records
from batchgs.engine.optout.resolve import Resolution
from batchgs.engine.optout.user import OneUser
from batchgs.errors import InputFileError, UsageError
from batchgs.transport.result import ApiResult, Outcome


def test_the_payload_builders_only_turn_things_off() -> None:
    assert off_payload(PREFERENCE_NAMES) == dict.fromkeys(PREFERENCE_NAMES, False)
    assert off_payload(["trackUsage", "email", "identifyId"]) == {"trackUsage": False}
    for call in (
        preferences_off("U1", PREFERENCE_NAMES),
        preferences_off("a/b c", ["surveys"]),  # id in body
        denylist_on("U1"),
        unsubscribe_on("U1"),
        unsubscribe_on("a/b"),
        rq.preferences_get("U1"),
        rq.preferences_get("a/b"),
        rq.USERS.get("U1"),
    ):
        check_safe_write(call)  # none raises
    assert preferences_off("a/b c", ["surveys"]).json == {"surveys": False, "identifyId": "a/b c"}


@pytest.mark.parametrize(
    "call",
    [
        rq.preferences_update("U1", {"trackUsage": True}),
        rq.preferences_update("U1", {"trackUsage": False, "surveys": True}),
        rq.preferences_update("U1", {"trackUsage": None}),
        rq.preferences_update("U1", {"trackUsage": "false"}),
        rq.preferences_update("U1", {"trackUsage": 0}),
        rq.preferences_update("a/b", {"guidedTours": True}),
        rq.preferences_update("U1", {}),
        rq.preferences_update("U1", {"trackUsage": False, "email": "x@y.z"}),
        rq.Call("PUT", "/v1/users/denylist/U1", "x", json={"denied": False}),
        rq.Call("PUT", "/v1/users/denylist/U1", "x", json={"denied": "true"}),
        rq.USERS.update("U1", {"globalUnsubscribe": False}),
        rq.USERS.update("U1", {"globalUnsubscribe": True, "email": "new@example.com"}),
        rq.Call("DELETE", "/v1/users/U1", "deleted"),
        rq.Call("POST", "/v1/users", "created", json={"identifyId": "U1"}),
        rq.Call("POST", "/v2/user/preferences", "read", json={"identifyId": "U1", "trackUsage": True}),
        rq.Call("PUT", "/v1/accounts/A1", "updated", json={"name": "x"}),
        rq.Call("PUT", "/v2/user/preferences/U1", "updated", json=[{"trackUsage": False}]),
    ],
)
def test_the_send_boundary_refuses_anything_but_an_opt_out(call: rq.Call) -> None:
    with pytest.raises(UnsafeWriteError):
        check_safe_write(call)


class _Recorder:
    """A client that records what reaches it (nothing unsafe may)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **_kw: object) -> ApiResult:
        self.sent.append((method, path))
        return ApiResult(Outcome.SUCCESS, 204, None, "", 1)


def test_an_unsafe_call_raises_before_it_reaches_the_client() -> None:
    client = _Recorder()
    user = OneUser(client, OptOutOptions())
    with pytest.raises(UnsafeWriteError):
        asyncio.run(user._call(rq.preferences_update("U1", {"surveys": True})))
    assert client.sent == []
    dry = OneUser(client, OptOutOptions(), dry_run=True)
    with pytest.raises(RuntimeError, match="dry run"):
        asyncio.run(dry._call(preferences_off("U1", ["surveys"])))
    assert client.sent == []


def test_only_accepts_names_in_any_case_and_suggests_the_near_miss() -> None:
    assert parse_only(None) == PREFERENCE_NAMES
    assert parse_only("Surveys, TRACK_USAGE,track-email-analytics") == (
        "trackUsage",
        "surveys",
        "trackEmailAnalytics",
    )
    with pytest.raises(UsageError, match=r"unknown preference 'survey' \(did you mean surveys\?\)"):
        parse_only("trackUsage,survey")
    with pytest.raises(UsageError, match="at least one"):
        parse_only(" , ")


def test_the_list_reader_takes_friendly_headers_and_reports_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "Name,E-mail,Identify ID,_row\n"
        "Ada,ada@example.com,,9\n"
        "Bob,,U2,\n"
        ",,,\n"
        "Cy,not-an-email,,\n"
        "Di,,,\n"
        "Eve,'=x@example.com,,\n",
        encoding="utf-8",
    )
    source = read_input(path)
    assert (source.id_column, source.email_column, source.unused_columns) == (
        "Identify ID",
        "E-mail",
        ["Name"],
    )
    assert source.blank_rows == 1
    assert [(r.row, r.identify_id, r.email, r.code) for r in source.rows] == [
        (2, "", "ada@example.com", ""),
        (3, "U2", "", ""),
        (5, "", "not-an-email", "bad-email"),
        (6, "", "", "missing-key"),
        (7, "", "=x@example.com", ""),  # the protective quote of a receipt is undone
    ]


def test_the_list_reader_reads_xlsx_numbers_as_ids_and_refuses_a_list_without_a_key(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["identifyId", "email"])
    sheet.append([12345, None])
    sheet.append([None, "X@Example.com"])
    book.save(tmp_path / "list.xlsx")
    source = read_input(tmp_path / "list.xlsx")
    assert [(r.identify_id, r.email) for r in source.rows] == [("12345", ""), ("", "X@Example.com")]

    (tmp_path / "nokey.csv").write_text("name,phone\nAda,1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"nokey.csv, row 1: has no identifyId or email column"):
        read_input(tmp_path / "nokey.csv")
    (tmp_path / "two.csv").write_text("email,E-Mail\na@b.co,c@d.co\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="both mean email"):
        read_input(tmp_path / "two.csv")


def test_the_plan_processes_each_person_once_and_notes_shared_emails(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "identifyId,email\nU1,\n,Both@Example.com\nU2,\n,both@example.com\n,ghost@example.com\n,bad\n",
        encoding="utf-8",
    )
    source = read_input(path)
    resolution = Resolution(users={"both@example.com": ["U2", "U3"], "ghost@example.com": []})
    plan = build_plan(source.rows, resolution)
    summary = [(t.number, t.row, t.identify_id, t.kind, t.primary) for t in plan.targets]
    assert summary == [
        (1, 2, "U1", "user", 0),
        (2, 3, "U2", "user", 0),
        (3, 3, "U3", "user", 0),
        (4, 4, "U2", "duplicate", 2),
        (5, 5, "U2", "duplicate", 2),
        (6, 5, "U3", "duplicate", 3),
        (7, 6, "", "not-found", 0),
        (8, 7, "", "invalid", 0),
    ]
    assert plan.rows_total == 6 and plan.records == 3
    # rows 3, 4 and 5 name the same users (U2, U3): one person; U1, ghost and the invalid row are three more
    assert plan.people_listed == 4 and plan.people == 2
    assert plan.plan_statuses() == {"to-opt-out": 2, "not-found": 1, "invalid": 1}
    assert plan.targets[1].note == "email matches 2 users (U2, U3)"
    assert plan.targets[5].note == "email matches 2 users (U2, U3); same person as row 3"


def test_rows_sharing_a_user_are_one_person_whose_status_is_the_most_pressing(tmp_path: Path) -> None:
    """An email matching a user named earlier by id and a new one joins that row's person; two rows
    asking for the same unknown address are one person; a person with one record opted out and one
    failed counts as failed (not done), a record not found beside one opted out does not hold it back."""
    path = tmp_path / "list.csv"
    path.write_text(
        "identifyId,email\nU1,\n,pair@example.com\n,ghost@example.com\n,GHOST@example.com\nU9,\n",
        encoding="utf-8",
    )
    resolution = Resolution(users={"pair@example.com": ["U1", "U2"], "ghost@example.com": []})
    plan = build_plan(read_input(path).rows, resolution)
    assert [(t.row, t.identify_id, t.kind) for t in plan.targets] == [
        (2, "U1", "user"),
        (3, "U1", "duplicate"),
        (3, "U2", "user"),
        (4, "", "not-found"),
        (5, "", "not-found"),
        (6, "U9", "user"),
    ]
    assert (plan.rows_total, plan.people_listed, plan.people, plan.records) == (5, 3, 2, 3)
    assert plan.plan_statuses() == {"to-opt-out": 2, "not-found": 1}

    status_of = {1: "opted-out", 2: "opted-out", 3: "failed", 4: "not-found", 5: "not-found", 6: "not-found"}
    assert count_people(plan, status_of) == {"failed": 1, "not-found": 2}
    assert count_records(plan, status_of) == {"opted-out": 1, "failed": 1}  # U9 was nobody: no record
    status_of[3] = "already-opted-out"
    assert count_people(plan, status_of) == {"opted-out": 1, "not-found": 2}


def test_an_id_turned_into_a_number_is_invalid_or_falls_back_to_the_email() -> None:
    for damaged in ("123.0", "1.23457E+19", "1.234567890123457e+17"):
        assert classify_row(2, damaged, "").code == "damaged-id", damaged
        by_email = classify_row(2, damaged, "ada@example.com")
        assert (by_email.identify_id, by_email.email, by_email.code) == ("", "ada@example.com", "")
    for real in ("12E4", "123", "U-1.0a"):
        assert classify_row(2, real, "").identify_id == real, real
