"""How the opt-out reads its list (issue 15.1 "review every other check", 22.1 "every id column").

Emails are judged by the one definition validate and the sandbox share (batchgs.entities.email); the
list's own stricter pattern refused `o'brien@…` and quoted local parts: a privacy request from Ms O'Brien
was marked invalid and never carried out. An identifyId a spreadsheet wrote as `1.234567890123457E+17`
has lost its digits: the row is invalid and says why (or is resolved by its email), never "not found"."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.optout.optout_helpers import RecordingSandbox, populate, write_list

VALID = [
    "o'brien@example.com",
    '"ada lovelace"@example.com',
    "Łukasz.smith3@example.com",
    "josé+news@bücher.de",
]
INVALID = ["two@@example.com", "trailing.dot@example.com.", "no-domain-dot@example"]


def test_valid_unusual_addresses_are_opted_out_and_malformed_ones_are_invalid(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 10)
    for n, email in enumerate(VALID):
        uid = f"E{n}"
        sandbox.store.users[uid] = {"identifyId": uid, "email": email, "globalUnsubscribe": False}
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(
        tmp_path / "list.csv", [("", email.upper()) for email in VALID] + [("", e) for e in INVALID]
    )
    run_dir = tmp_path / "run"

    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)

    assert result.exit_code == 1, result.output  # the malformed rows
    for n in range(len(VALID)):
        assert all(v is False for v in sandbox.store.preferences_of(f"E{n}").values()), VALID[n]
    counts = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["counts"]
    assert (counts["opted-out"], counts["invalid"], counts["not-found"]) == (len(VALID), len(INVALID), 0)
    for email in INVALID:
        assert f"{email!r} is not a valid email address" in result.stderr


def test_an_id_whose_digits_a_spreadsheet_lost_is_invalid_unless_the_row_has_an_email(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 10)
    for uid, email in (("42", "answer@example.com"), ("123456789012345678", "big@example.com")):
        sandbox.store.users[uid] = {"identifyId": uid, "email": email, "globalUnsubscribe": False}
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["identifyId", "email"])
    sheet.append([123456789012345678, None])  # stored as 1.234567890123457e+17: digits gone
    sheet.append([123456789012345678, "big@example.com"])  # the email still names the person
    sheet.append([42, None])  # a small number id: exact
    book.save(tmp_path / "list.xlsx")
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"

    result = run_cli(["optout", str(tmp_path / "list.xlsx"), "--run-dir", str(run_dir), "--yes"], env)

    assert result.exit_code == 1, result.output
    assert "row 2, column 'identifyId': identifyId '1.234567890123457e+17' is an id a spreadsheet or" in (
        result.stderr
    )
    counts = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["counts"]
    assert (counts["invalid"], counts["opted-out"], counts["not-found"]) == (1, 2, 0)
    for uid in ("42", "123456789012345678"):
        assert all(v is False for v in sandbox.store.preferences_of(uid).values()), uid
    assert not (run_dir / "pending.csv").exists()  # nobody "not found" to pass again in vain


def test_addresses_the_equality_filter_cannot_carry_are_found_exactly(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    """`!`, `=`, `?`, `;` and friends are valid in an email but not in a filter value: such an address
    is asked with the like operator and the answer checked exactly, so the person is opted out (it was
    `failed`, "cannot be looked up"), and a user whose address only matches the wildcard is not."""
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 10)
    odd = ["bob!x@example.com", "a=b@example.com", "what?@example.com", '"a;b"@example.com']
    for n, email in enumerate(odd):
        sandbox.store.users[f"O{n}"] = {"identifyId": f"O{n}", "email": email, "globalUnsubscribe": False}
    sandbox.store.users["DECOY"] = {"identifyId": "DECOY", "email": "bobax@example.com"}
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "list.csv", [("", email.upper()) for email in odd])
    run_dir = tmp_path / "run"

    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)

    assert result.exit_code == 0, result.output
    counts = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["counts"]
    assert (counts["people"], counts["opted-out"], counts["records"]) == (len(odd), len(odd), len(odd))
    for n in range(len(odd)):
        assert all(v is False for v in sandbox.store.preferences_of(f"O{n}").values()), odd[n]
    assert sandbox.store.preferences.get("DECOY") is None  # matched the wildcard, not the address
