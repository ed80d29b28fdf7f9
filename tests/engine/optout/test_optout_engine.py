"""The opt-out engine against the sandbox: 500 users and a list of 400 entries, read-back mismatches,
a quota pause and a refused key mid-user, each resumed to the receipt of an uninterrupted run."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

from batchgs.engine.optout.actions import PREFERENCE_NAMES, OptOutOptions
from tests.engine.imports.import_helpers import fast_settings
from tests.engine.optout.optout_helpers import (
    RecordingSandbox,
    assert_never_turned_on,
    expected_receipt,
    mixed_entries,
    people_per_status,
    populate,
    read_receipt,
    receipt_without_times,
    run_library_optout,
    sha256,
    write_list,
)


def test_500_users_and_400_entries_end_all_off_with_a_receipt_that_adds_up(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox(rate_limit=0)
    populate(sandbox.store, 500)
    users = copy.deepcopy(sandbox.store.users)
    before = copy.deepcopy(sandbox.store.preferences)
    entries = mixed_entries(500, 400)
    path = write_list(tmp_path / "privacy-requests.csv", entries)
    run_dir = tmp_path / "run"

    summary = run_library_optout(run_dir, path, fast_settings(sandbox, tmp_path / "state"), OptOutOptions())

    assert summary["status"] == "completed"
    receipt = read_receipt(run_dir)
    expected = expected_receipt(entries, users, before)
    assert [(int(r["row"]), r["identifyId"], r["status"]) for r in receipt] == expected
    statuses = {status for _row, _uid, status in expected}
    assert {"opted-out", "already-opted-out", "not-found", "invalid"} <= statuses  # =cmd@…: asked too

    done = {r["identifyId"] for r in receipt if r["status"] in ("opted-out", "already-opted-out")}
    assert {"U00498", "U00499"} <= done  # the shared email opted both out
    for uid in done:
        assert all(v is False for v in sandbox.store.preferences_of(uid).values()), uid
    for uid in set(users) - done:
        assert sandbox.store.preferences.get(uid) == before.get(uid), uid  # nobody else touched
    assert_never_turned_on(log)
    writes = log.puts_per_user()
    assert set(writes) == {r["identifyId"] for r in receipt if r["status"] == "opted-out"}
    assert set(writes.values()) == {1}  # duplicates and already-opted-out users: no second write

    # a preference already false is never sent again
    assert log.preference_puts("U00012") == [
        dict.fromkeys(["productUpdates", "guidedTours", "onboardingBot", "trackEmailAnalytics"], False)
    ]
    partial = next(r for r in receipt if r["identifyId"] == "U00012")
    assert (partial["trackUsage_before"], partial["productUpdates_before"]) == ("false", "true")
    assert partial["changed"].split(";") == [
        "productUpdates",
        "guidedTours",
        "onboardingBot",
        "trackEmailAnalytics",
    ]
    assert all(partial[f"{name}_after"] == "false" for name in PREFERENCE_NAMES)
    already = next(r for r in receipt if r["identifyId"] == "U00001")
    assert already["status"] == "already-opted-out" and already["changed"] == ""
    shared = [r for r in receipt if r["identifyId"] in ("U00498", "U00499") and "2 users" in r["message"]]
    assert shared

    document = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))
    counts = document["counts"]
    assert counts["receipt_lines"] == len(receipt)
    assert counts == {**counts, **people_per_status(receipt)}  # people, each once, per status
    assert counts["people"] == sum(people_per_status(receipt).values()) < len(receipt)
    assert counts["rows"] == 400 and counts["pending"] == 0 and document["complete"] is True
    assert document["receipt_csv"]["sha256"] == sha256(run_dir / "receipt.csv")
    assert document["input"]["sha256"] == sha256(path) and document["input"]["file"] == path.name

    with (run_dir / "pending.csv").open(encoding="utf-8", newline="") as handle:
        pending = list(csv.DictReader(handle))
    not_found = {(r["identifyId"], r["email"].lower()) for r in receipt if r["status"] == "not-found"}
    assert {(p["identifyId"], p["email"].lower()) for p in pending} == not_found
    assert len(pending) == document["pending_csv"]["lines"] == counts["not-found"] + counts["pending"]
    assert document["pending_csv"]["sha256"] == sha256(run_dir / "pending.csv")


def test_a_write_the_server_ignores_is_retried_once_then_reported_failed(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, log = recording_sandbox(rate_limit=0)
    populate(sandbox.store, 30)
    log.ignore["/v2/user/preferences/U00021"] = 1  # the first write is lost, the retry lands
    log.ignore["/v2/user/preferences/U00022"] = 99  # every write is lost
    path = write_list(tmp_path / "list.csv", [("U00021", ""), ("U00022", ""), ("U00023", "")])
    run_dir = tmp_path / "run"

    summary = run_library_optout(run_dir, path, fast_settings(sandbox, tmp_path / "state"), OptOutOptions())

    receipt = {r["identifyId"]: r for r in read_receipt(run_dir)}
    assert {uid: r["status"] for uid, r in receipt.items()} == {
        "U00021": "opted-out",
        "U00022": "failed",
        "U00023": "opted-out",
    }
    assert "still shows trackUsage" in receipt["U00022"]["message"]
    assert receipt["U00022"]["trackUsage_after"] == "true"  # the read-back is the evidence
    assert log.puts_per_user() == {"U00021": 2, "U00022": 2, "U00023": 1}
    assert summary["rows_failed"] == 1 and summary["status"] == "completed"


def _twin_runs(recording_sandbox: RecordingSandbox, tmp_path: Path, n_users: int, n_entries: int):  # type: ignore[no-untyped-def]
    entries = mixed_entries(n_users, n_entries, seed=9)
    path = write_list(tmp_path / "list.csv", entries)
    reference, _ = recording_sandbox(rate_limit=0)
    populate(reference.store, n_users)
    run_library_optout(
        tmp_path / "reference", path, fast_settings(reference, tmp_path / "s1"), OptOutOptions()
    )
    sandbox, log = recording_sandbox(rate_limit=0)
    populate(sandbox.store, n_users)
    return path, sandbox, log, receipt_without_times(tmp_path / "reference")


def test_a_quota_pause_then_resume_gives_the_uninterrupted_receipt(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    path, sandbox, log, reference = _twin_runs(recording_sandbox, tmp_path, 80, 60)
    run_dir = tmp_path / "run"
    options = OptOutOptions(workers=4)

    paused = run_library_optout(
        run_dir, path, fast_settings(sandbox, tmp_path / "s2", daily_limit=60), options
    )
    assert paused["status"] == "paused" and paused["status_reason"] == "quota"
    assert 0 < len(log.puts_per_user()) < 40
    resumed = run_library_optout(
        run_dir, path, fast_settings(sandbox, tmp_path / "s2", daily_limit=100_000), options, resume=True
    )

    assert resumed["status"] == "completed"
    assert receipt_without_times(run_dir) == reference
    assert set(log.puts_per_user().values()) == {1}  # nobody written twice across the pause
    assert_never_turned_on(log)


def test_a_user_stopped_between_write_and_read_back_resumes_without_a_second_write(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    path, sandbox, log, reference = _twin_runs(recording_sandbox, tmp_path, 40, 30)
    victim = next(r["identifyId"] for r in reference if r["status"] == "opted-out")
    log.refuse_after_write.add(f"/v2/user/preferences/{victim}")  # key refused right after its write
    run_dir = tmp_path / "run"
    settings = fast_settings(sandbox, tmp_path / "s2")

    paused = run_library_optout(run_dir, path, settings, OptOutOptions(workers=2))
    assert paused["status"] == "paused" and paused["status_reason"] == "fatal-api-error"
    assert read_receipt(run_dir)[[r["identifyId"] for r in reference].index(victim)]["status"] == "pending"
    resumed = run_library_optout(run_dir, path, settings, OptOutOptions(workers=2), resume=True)

    assert resumed["status"] == "completed"
    assert receipt_without_times(run_dir) == reference  # the before-state survived the stop
    assert log.puts_per_user()[victim] == 1
    assert set(log.puts_per_user().values()) == {1}
