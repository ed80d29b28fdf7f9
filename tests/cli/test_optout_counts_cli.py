"""Issue 22.4 / 15.3: the opt-out's dry run, human summary, --json, summary.json and receipt.json speak
the receipt's statuses and count PEOPLE (rows second), and they add up — on one list with a duplicate
person, unknown people and invalid rows, through a paused run and its resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.optout.optout_helpers import SHARED_EMAIL, RecordingSandbox, populate, write_list

STATUSES = ("opted-out", "already-opted-out", "not-found", "failed", "invalid", "pending")
LIST = [
    ("U00025", ""),
    ("U00026", ""),
    ("", "person27@example.com"),
    ("U00028", ""),
    ("", "PERSON25@example.com"),  # U00025 again, by email: the same person
    ("U00003", ""),  # already opted out
    ("X0001", ""),  # unknown id
    ("", "nobody@example.org"),  # unknown email
    ("", "not-an-email"),  # invalid
    ("", ""),  # invalid: neither id nor email
]
EXPECTED = {"opted-out": 4, "already-opted-out": 1, "not-found": 2, "failed": 0, "invalid": 2, "pending": 0}


def _pending_lines(run_dir: Path) -> int:
    path = run_dir / "pending.csv"
    if not path.exists():
        return 0
    with path.open(encoding="utf-8", newline="") as handle:
        return len(list(csv.DictReader(handle)))


def _check_receipt_adds_up(run_dir: Path) -> dict[str, Any]:
    document = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))
    counts = document["counts"]
    assert counts["people"] == sum(counts[s] for s in STATUSES), counts
    assert counts["rows"] == len(LIST)
    lines = _pending_lines(run_dir)
    assert lines == counts["not-found"] + counts["pending"], (lines, counts)
    assert (document["pending_csv"] or {"lines": 0})["lines"] == lines
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["people"] == counts["people"]
    assert summary["statuses"] == {s: counts[s] for s in STATUSES if counts[s]}
    return counts


def test_dry_run_run_and_receipt_count_the_same_people(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 40)
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "requests.csv", LIST)

    dry = run_cli(["optout", str(path), "--dry-run"], env)
    assert dry.exit_code == 0, dry.output
    expected_dry = "9 people (10 rows): would-opt-out 4, already-opted-out 1, not-found 2"
    assert expected_dry + ", failed 0, invalid 2" in dry.stdout
    dry_json = json.loads(run_cli(["optout", str(path), "--dry-run", "--json"], env).stdout)
    assert dry_json["people"] == 9 and dry_json["rows"] == 10
    assert dry_json["statuses"] == {"would-opt-out": 4, "already-opted-out": 1, "not-found": 2, "invalid": 2}

    run_dir = tmp_path / "run"
    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)
    assert result.exit_code == 1, result.output  # some not found, some invalid
    people = "9 people (10 rows): opted-out 4, already-opted-out 1, not-found 2, failed 0, invalid 2"
    assert f"People      {people}" in result.stdout
    assert "Rows " not in result.stdout  # no second, differently counted vocabulary
    assert _check_receipt_adds_up(run_dir) == {**_check_receipt_adds_up(run_dir), **EXPECTED, "people": 9}

    again = run_cli(["optout", str(path), "--run-dir", str(tmp_path / "json"), "--yes", "--json"], env)
    document = json.loads(again.stdout)
    assert document["people"] == 9
    assert document["statuses"] == {"already-opted-out": 5, "not-found": 2, "invalid": 2}


def test_a_paused_run_counts_its_pending_people_and_pending_csv_lists_them(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 40)
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "requests.csv", LIST)
    run_dir = tmp_path / "run"

    paused = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes", "--daily-limit", "9"], env)

    assert paused.exit_code == 4, paused.output
    counts = _check_receipt_adds_up(run_dir)
    assert counts["people"] == 9 and counts["pending"] > 0, counts
    assert "pending" in paused.stdout
    status = run_cli(["status", str(run_dir), "--json"], env)  # the same people, from the journal
    status_json = json.loads(status.stdout)
    assert status_json["receipt"] == counts and status_json["rows_pending"] == counts["pending"]
    assert status_json["rows_total"] == 9
    words = run_cli(["status", str(run_dir)], env).stdout
    assert f"pending {counts['pending']}" in words and "People      9 people (10 rows)" in words
    assert "Rows " not in words

    resumed = run_cli(["resume", str(run_dir), "--daily-limit", "100000"], env)

    assert resumed.exit_code == 1, resumed.output
    assert _check_receipt_adds_up(run_dir) == {**_check_receipt_adds_up(run_dir), **EXPECTED, "people": 9}


SHARED = [
    ("U00025", ""),
    ("", SHARED_EMAIL),  # two PX users (U00038, U00039): one person, two records
    ("U00039", ""),  # one of them again, by id: the same person
    ("U00003", ""),  # already opted out
    ("X0001", ""),  # unknown id: known only when sent
    ("", "nobody@example.org"),  # unknown email: known from the plan
    ("", "not-an-email"),  # invalid
]
SHARED_PEOPLE = {
    "opted-out": 2,
    "already-opted-out": 1,
    "not-found": 2,
    "failed": 0,
    "invalid": 1,
    "pending": 0,
}


def test_an_email_of_two_users_is_one_person_in_the_plan_summary_json_and_receipt(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    """The demo's case: the plan, the human summary, --json, summary.json and receipt.json count the
    same 6 people (7 rows) with the same statuses; the records behind them are a second figure."""
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 40)
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "shared.csv", SHARED)

    dry = run_cli(["optout", str(path), "--dry-run", "--json"], env)
    dry_json = json.loads(dry.stdout)
    assert (dry_json["people"], dry_json["rows"]) == (6, 7)
    assert dry_json["records"] == {"would-opt-out": 3, "already-opted-out": 1}
    assert dry_json["statuses"] == {"would-opt-out": 2, "already-opted-out": 1, "not-found": 2, "invalid": 1}

    run_dir = tmp_path / "run"
    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)
    assert result.exit_code == 1, result.output
    plan = (
        "About to opt out 4 people (up to 5 PX user records; the list names 6 people in 7 rows: not-found 1, "
        "invalid 1; 1 row names someone already listed)"
    )
    assert plan in result.stderr
    people = "6 people (7 rows): opted-out 2, already-opted-out 1, not-found 2, failed 0, invalid 1"
    assert f"People      {people}" in result.stdout
    assert "Records     4 PX user records: opted-out 3, already-opted-out 1" in result.stdout
    assert sandbox.store.preferences_of("U00038")["trackUsage"] is False
    assert sandbox.store.preferences_of("U00039")["trackUsage"] is False

    receipt = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))
    assert receipt["counts"] == {**receipt["counts"], **SHARED_PEOPLE, "people": 6, "rows": 7, "records": 4}
    assert receipt["records"] == {"opted-out": 3, "already-opted-out": 1, "failed": 0, "pending": 0}
    assert _pending_lines(run_dir) == 2 == receipt["pending_csv"]["lines"]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["people"] == 6 and summary["records"] == receipt["records"]
    assert summary["statuses"] == {s: n for s, n in SHARED_PEOPLE.items() if n}
    # the generic fields a tool reads count the same people: no second vocabulary
    assert (summary["rows_total"], summary["rows_succeeded"], summary["rows_failed"]) == (6, 3, 2)
    assert (summary["rows_invalid"], summary["rows_pending"], summary["rows_uncertain"]) == (1, 0, 0)
    assert summary["operations"] == {"opted-out": 2, "already-opted-out": 1}
    assert summary["requests_per_row"] == round(summary["requests"] / 5, 3)  # per person answered
    assert " per row)" not in result.stdout

    again = run_cli(["optout", str(path), "--run-dir", str(tmp_path / "again"), "--yes", "--json"], env)
    document = json.loads(again.stdout)
    assert document["people"] == 6 and document["rows_total"] == 6
    assert document["statuses"] == {"already-opted-out": 3, "not-found": 2, "invalid": 1}
    assert document["records"] == {"opted-out": 0, "already-opted-out": 4, "failed": 0, "pending": 0}
