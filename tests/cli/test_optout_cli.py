"""`batchgs optout` end to end: the real command on real files against the sandbox."""

from __future__ import annotations

import copy
import getpass
import json
import os
import signal
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from batchgs.cli import runner
from batchgs.engine.optout.actions import PREFERENCE_NAMES
from batchgs.io.write.safe_cells import neutralise
from tests.cli.cli_helpers import (
    TtySys,
    all_served,
    cli_env,
    interrupt,
    interrupt_twice,
    run_cli,
    spawn,
    wait_until,
)
from tests.engine.optout.optout_helpers import (
    SHARED_EMAIL,
    RecordingSandbox,
    assert_never_turned_on,
    expected_receipt,
    populate,
    read_receipt,
    receipt_without_times,
    sha256,
    write_list,
)

KEY = "optout-Canary-Key-7f3c9e1d5a"
MIXED = [
    ("U00003", ""),  # already opted out
    ("", "PERSON12@example.COM"),  # partially opted out, by email in another case
    ("U00025", ""),
    ("", "Person26@Example.com"),
    ("", SHARED_EMAIL.upper()),  # two users
    ("", "nobody@example.org"),  # unknown email
    ("X0001", ""),  # unknown id
    ("=HYPERLINK(1)", ""),  # unknown, and a formula to a spreadsheet
    ("U00025", ""),  # duplicate
    ("", "not-an-email"),
    ("", ""),  # a row with a name but neither id nor email
]


def _statuses(run_dir: Path) -> list[tuple[int, str, str]]:
    return [(int(r["row"]), r["identifyId"], r["status"]) for r in read_receipt(run_dir)]


def _all_off(store: Any, uid: str) -> bool:
    return all(v is False for v in store.preferences_of(uid).values())


def test_a_mixed_list_gives_an_exact_receipt_then_pending_finishes_the_job(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox(api_key=KEY)
    populate(sandbox.store, 40)
    users, before = copy.deepcopy(sandbox.store.users), copy.deepcopy(sandbox.store.preferences)
    path = write_list(tmp_path / "requests.csv", MIXED)
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"

    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)

    assert result.exit_code == 1, result.output  # some people were not found / rows invalid
    expected = [(row, neutralise(uid), status) for row, uid, status in expected_receipt(MIXED, users, before)]
    assert _statuses(run_dir) == expected
    assert (
        "requests.csv, row 11, column 'email': 'not-an-email' is not a valid email address" in result.stderr
    )
    # U00025 twice is one person; the shared email is one person whose opt-out covers two records
    people = "10 people (11 rows): opted-out 4, already-opted-out 1, not-found 3, failed 0, invalid 2"
    assert f"People      {people}" in result.stdout
    assert "Records     6 PX user records: opted-out 5, already-opted-out 1" in result.stdout
    for uid in ("U00003", "U00012", "U00025", "U00026", "U00038", "U00039"):
        assert _all_off(sandbox.store, uid), uid
    assert sandbox.store.preferences.get("U00024") is None  # not listed, untouched
    assert_never_turned_on(log)
    assert set(log.puts_per_user().values()) == {1} and "U00003" not in log.puts_per_user()

    receipt = read_receipt(run_dir)
    formula = next(r for r in receipt if r["row"] == "9")
    assert formula["identifyId"] == "'=HYPERLINK(1)" and formula["status"] == "not-found"
    document = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))
    assert document["input"] == {
        "file": "requests.csv",
        "path": str(path.resolve()),
        "size": path.stat().st_size,
        "sha256": sha256(path),
    }
    assert document["receipt_csv"]["sha256"] == sha256(run_dir / "receipt.csv")
    assert document["pending_csv"]["sha256"] == sha256(run_dir / "pending.csv")
    assert (document["operator"], document["host"]) == (getpass.getuser(), socket.gethostname())
    assert document["base_url"] == sandbox.url and document["region"] == "custom"
    assert document["started_at"] <= document["finished_at"]
    assert document["counts"]["opted-out"] == 4 and document["counts"]["invalid"] == 2
    assert document["counts"]["people"] == 10 and document["pending_csv"]["lines"] == 3
    assert document["counts"]["records"] == 6 and document["records"]["opted-out"] == 5
    assert document["changes"]["preferences_off"] == list(PREFERENCE_NAMES)

    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    for file in run_dir.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert KEY.encode() not in file.read_bytes(), file
    assert KEY not in result.output

    # the people not found sign up later: pending.csv, passed again, finishes the job
    for uid, email in (
        ("X0001", "x1@example.com"),
        ("=HYPERLINK(1)", "f@example.com"),
        ("Z9", "nobody@example.org"),
    ):
        sandbox.store.users[uid] = {"identifyId": uid, "email": email, "globalUnsubscribe": False}
    again = run_cli(
        ["optout", str(run_dir / "pending.csv"), "--run-dir", str(tmp_path / "again"), "--yes"], env
    )
    assert again.exit_code == 0, again.output
    assert [(r["identifyId"], r["status"]) for r in read_receipt(tmp_path / "again")] == [
        ("Z9", "opted-out"),
        ("X0001", "opted-out"),
        ("'=HYPERLINK(1)", "opted-out"),
    ]
    for uid in ("X0001", "=HYPERLINK(1)", "Z9"):
        assert _all_off(sandbox.store, uid), uid


def test_only_denylist_and_unsubscribe_change_exactly_what_was_asked(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox()
    populate(sandbox.store, 30)
    path = write_list(tmp_path / "list.csv", [("U00001", ""), ("U00011", ""), ("U00025", "")])
    run_dir = tmp_path / "run"
    args = ["optout", str(path), "--run-dir", str(run_dir), "--yes", "--only", "trackusage, Surveys"]

    result = run_cli([*args, "--denylist", "--unsubscribe-email"], cli_env(sandbox, tmp_path / "state"))

    assert result.exit_code == 0, result.output
    store = sandbox.store
    for uid in ("U00001", "U00011", "U00025"):
        assert (
            store.preferences_of(uid)["trackUsage"] is False and store.preferences_of(uid)["surveys"] is False
        )
        assert uid in store.denylist and store.users[uid]["globalUnsubscribe"] is True
    assert store.preferences_of("U00025")["productUpdates"] is True  # not in --only: untouched
    assert store.preferences_of("U00011")["guidedTours"] is True
    receipt = {r["identifyId"]: r for r in read_receipt(run_dir)}
    # U00001 had every preference off and was on the denylist: only the email unsubscribe changed
    assert receipt["U00001"]["changed"] == "unsubscribe" and receipt["U00001"]["denylist_before"] == "true"
    assert receipt["U00011"]["changed"] == "denylist;unsubscribe"  # trackUsage/surveys were off already
    assert receipt["U00025"]["changed"] == "trackUsage;surveys;denylist;unsubscribe"
    assert (receipt["U00025"]["unsubscribe_before"], receipt["U00025"]["unsubscribe_after"]) == (
        "false",
        "true",
    )
    assert receipt["U00025"]["productUpdates_after"] == "true"
    assert_never_turned_on(log)
    assert log.preference_puts() == [{"trackUsage": False, "surveys": False}]

    # a user with everything asked already off: already-opted-out, and no write at all
    log.entries.clear()
    args[3] = str(tmp_path / "r2")
    again = run_cli([*args, "--denylist", "--unsubscribe-email"], cli_env(sandbox, tmp_path / "state"))
    assert again.exit_code == 0, again.output
    assert {r["status"] for r in read_receipt(tmp_path / "r2")} == {"already-opted-out"}
    assert log.entries == []


def test_usage_errors_and_a_dry_run_send_no_writes(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox()
    populate(sandbox.store, 30)
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "list.csv", [("U00001", ""), ("", "person25@example.com"), ("", "no@x.org")])

    unknown = run_cli(["optout", str(path), "--only", "trackUsage,survey", "--yes"], env)
    assert unknown.exit_code == 2
    assert "Error: --only: unknown preference 'survey' (did you mean surveys?)" in unknown.stderr
    (tmp_path / "nokey.csv").write_text("name\nAda\n", encoding="utf-8")
    no_key = run_cli(["optout", str(tmp_path / "nokey.csv"), "--run-dir", str(tmp_path / "r0"), "--yes"], env)
    assert no_key.exit_code == 2 and "nokey.csv, row 1: has no identifyId or email column" in no_key.stderr
    assert not (tmp_path / "r0").exists() and sandbox.stats()["requests_total"] == 0

    dry = run_cli(["optout", str(path), "--dry-run", "--denylist"], env)
    assert dry.exit_code == 0, dry.output
    assert "Dry run: nothing was written" in dry.stdout
    assert "row 3: U00025 <person25@example.com>: would change trackUsage" in dry.stdout
    as_json = json.loads(run_cli(["optout", str(path), "--dry-run", "--json"], env).stdout)
    assert as_json["statuses"] == {"already-opted-out": 1, "would-opt-out": 1, "not-found": 1}
    assert log.entries == [] and sandbox.store.preferences_of("U00025")["trackUsage"] is True


def test_the_typed_count_must_match_also_in_a_production_profile(
    recording_sandbox: RecordingSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, log = recording_sandbox()
    populate(sandbox.store, 30)
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(tmp_path / "list.csv", [("U00021", ""), ("U00022", ""), ("", "nobody@x.org")])
    monkeypatch.setattr(runner, "sys", TtySys())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "batchgs.toml").write_text("[profiles.live]\nproduction = true\n", encoding="utf-8")

    wrong = run_cli(
        ["--profile", "live", "optout", str(path), "--run-dir", str(tmp_path / "r1")], env, stdin="3\n"
    )
    assert wrong.exit_code == 2
    about = "About to opt out 2 people in profile live (production) (up to 2 PX user records; the list names"
    assert f"{about} 3 people in 3 rows: not-found 1)" in wrong.stderr
    assert (
        "This will opt out in profile live (production) 2 people. Type 2 to confirm" in wrong.stderr
        and "confirmation did not match: nothing was sent" in wrong.stderr
    )
    assert log.entries == [] and not (tmp_path / "r1").exists()  # refused: nothing sent, nothing kept

    right = run_cli(
        ["--profile", "live", "optout", str(path), "--run-dir", str(tmp_path / "r1")], env, stdin="2\n"
    )
    assert right.exit_code == 1, right.output  # one not found
    assert _all_off(sandbox.store, "U00021") and _all_off(sandbox.store, "U00022")


def _big_list(tmp_path: Path) -> Path:
    entries = [(f"U{i:05d}", "") for i in range(20, 58)] + [("", "person5@example.com"), ("", "ghost@x.org")]
    return write_list(tmp_path / "list.csv", entries)


@pytest.mark.parametrize("how", ["sigint", "sigint-twice", "kill"])
def test_a_stopped_process_resumes_to_the_receipt_of_an_uninterrupted_run(
    recording_sandbox: RecordingSandbox, tmp_path: Path, how: str
) -> None:
    path = _big_list(tmp_path)
    reference, _ = recording_sandbox()
    populate(reference.store, 60)
    done = run_cli(
        ["optout", str(path), "--run-dir", str(tmp_path / "ref"), "--yes"],
        cli_env(reference, tmp_path / "s1"),
    )
    assert done.exit_code == 1, done.output

    # twice: the second Ctrl-C comes while requests are in flight, and abandons them
    sandbox, log = recording_sandbox(**({"latency_ms": 300} if how == "sigint-twice" else {}))
    populate(sandbox.store, 60)
    env = cli_env(sandbox, tmp_path / "s2")
    run_dir = tmp_path / "run"
    args = ["optout", str(path), "--run-dir", str(run_dir), "--yes", "--rate", "30", "--workers", "4"]
    process = spawn(args, env, tmp_path)
    assert wait_until(lambda: len(log.puts_per_user()) >= 8, process)
    if how.startswith("sigint"):
        code, _out, err = interrupt_twice(process) if how == "sigint-twice" else interrupt(process)
        assert code == 4, err
        assert f"batchgs resume {run_dir}" in err and "Traceback" not in err
        assert wait_until(lambda: all_served(sandbox))  # an abandoned write is applied all the same
        sandbox.configure(latency_ms=0)
    else:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
    assert len(log.puts_per_user()) < 38

    resumed = run_cli(["resume", str(run_dir)], env)

    assert resumed.exit_code == 1, resumed.output
    assert receipt_without_times(run_dir) == receipt_without_times(tmp_path / "ref")
    assert set(log.puts_per_user().values()) == {1}  # nobody processed twice, even after kill -9
    assert_never_turned_on(log)
    again = run_cli(["resume", str(run_dir)], env)  # a finished run stays finished
    assert again.exit_code == 1 and "is complete" in again.stderr


def test_a_full_daily_quota_pauses_with_exit_4_and_resume_finishes(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox()
    populate(sandbox.store, 60)
    env = cli_env(sandbox, tmp_path / "state")
    path = _big_list(tmp_path)
    run_dir = tmp_path / "run"

    paused = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes", "--daily-limit", "50"], env)

    assert paused.exit_code == 4, paused.output
    assert f"batchgs resume {run_dir}" in paused.stderr
    assert 0 < len(log.puts_per_user()) < 38
    assert "pending" in {r["status"] for r in read_receipt(run_dir)}
    assert json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["complete"] is False
    status = run_cli(["status", str(run_dir)], env)
    assert status.exit_code == 0 and "paused" in status.stdout and "batchgs resume" in status.stdout

    resumed = run_cli(["resume", str(run_dir), "--daily-limit", "100000"], env)

    assert resumed.exit_code == 1, resumed.output  # ghost@x.org is not found
    receipt = read_receipt(run_dir)
    assert [r["status"] for r in receipt].count("opted-out") == 38
    assert {r["status"] for r in receipt} == {"opted-out", "already-opted-out", "not-found"}
    assert set(log.puts_per_user().values()) == {1}
    assert json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["complete"] is True
