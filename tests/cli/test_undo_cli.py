"""`batchgs undo RUN_DIR` against the sandbox: exact restores, creates removed, deletes back, conflicts
left alone, refusals (exit 2), and kill -9 during an undo then `resume` ends in the same state."""

from __future__ import annotations

import csv
from pathlib import Path

from batchgs.sandbox.server import SandboxThread
from tests.cli.changes_helpers import edited_file, kill_9_after_writes, rewrite, visible
from tests.cli.cli_helpers import api_put_user, cli_env, run_cli, summary_of, writes_seen
from tests.engine.imports.import_helpers import write_events, write_users


def test_undo_restores_removes_and_reports_conflicts(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    seed = write_users(tmp_path / "seed.csv", 30)
    assert (
        run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code
        == 0
    )
    sandbox.store.users["U000004"]["lastName"] = None  # an empty field the run will fill in
    before = visible(sandbox.store)
    edit = edited_file(tmp_path, 30, changed=5, new=3)
    rows = list(csv.DictReader(edit.open(encoding="utf-8")))
    rows[4]["lastName"] = "Filled"
    rewrite(edit, rows)
    run = run_cli(["import", "users", str(edit), "--run-dir", str(tmp_path / "r1"), "-q"], env)
    assert run.exit_code == 0, run.output
    assert sandbox.store.users["U000000"]["firstName"] == "Edited0"
    api_put_user(sandbox, "U000001", {"firstName": "Someone else"})  # edited after the run: a conflict
    after_edit = visible(sandbox.store)

    writes = len(writes_seen(sandbox))
    plan = run_cli(["undo", str(tmp_path / "r1"), "--dry-run", "--run-dir", str(tmp_path / "plan")], env)
    assert plan.exit_code == 0, plan.output
    assert len(writes_seen(sandbox)) == writes
    assert "to take back                7" in plan.output  # 4 restores (U000001 conflicts) + 3 deletes
    assert "conflicts (left alone)      1" in plan.output
    lines = list(csv.reader((tmp_path / "plan" / "changes.csv").open(encoding="utf-8")))
    assert ["U000000", "update", "firstName", "Edited0", before["U000000"]["firstName"]] in lines
    assert ["U000004", "update", "lastName", "Filled", ""] in lines
    assert {r[0] for r in lines[1:] if r[1] == "delete"} == {"N00000", "N00001", "N00002"}
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == ["changes.csv", "summary.json"]

    undo = run_cli(["undo", str(tmp_path / "r1"), "--yes", "--run-dir", str(tmp_path / "u1")], env)
    assert undo.exit_code == 1, undo.output  # the conflict
    now = visible(sandbox.store)
    for uid in ("N00000", "N00001", "N00002"):
        assert uid not in now
    expected = {uid: rec for uid, rec in before.items()}
    expected["U000001"] = after_edit["U000001"]  # left alone
    assert now == expected
    errors = list(csv.DictReader((tmp_path / "u1" / "errors.csv").open(encoding="utf-8")))
    assert [(e["key"], e["_code"], e["field"], e["written_by_run"], e["now"]) for e in errors] == [
        ("U000001", "conflict", "firstName", "Edited1", "Someone else")
    ]
    assert errors[0]["before_run"] == before["U000001"]["firstName"]
    summary = summary_of(tmp_path / "u1")
    assert summary["kind"] == "undo" and summary["conflicts"] == 1
    assert summary["operations"] == {"updated": 4, "deleted": 3}

    # An undo run again: everything is already as before, the conflict is still one.
    again = run_cli(["undo", str(tmp_path / "r1"), "--yes", "--run-dir", str(tmp_path / "u2"), "-q"], env)
    assert again.exit_code == 1
    assert summary_of(tmp_path / "u2")["operations"] == {"already-undone": 7}


def test_undo_of_a_delete_run_brings_the_records_back(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    seed = write_users(tmp_path / "seed.csv", 12)
    assert (
        run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code
        == 0
    )
    before = visible(sandbox.store)
    doomed = tmp_path / "doomed.csv"
    doomed.write_text("identifyId\nU000002\nU000003\nU000007\n", encoding="utf-8")
    gone = run_cli(
        ["import", "users", str(doomed), "--mode", "delete", "--yes", "--run-dir", str(tmp_path / "d"), "-q"],
        env,
    )
    assert gone.exit_code == 0, gone.output
    assert "U000003" not in sandbox.store.users
    undo = run_cli(["undo", str(tmp_path / "d"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output
    assert visible(sandbox.store) == before


def test_what_cannot_be_undone_is_refused_with_exit_2(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    events = run_cli(
        [
            "import",
            "events",
            str(write_events(tmp_path / "e.csv", 3)),
            "--run-dir",
            str(tmp_path / "e"),
            "-q",
        ],
        env,
    )
    assert events.exit_code == 0, events.output
    refused = run_cli(["undo", str(tmp_path / "e"), "--yes"], env)
    assert refused.exit_code == 2
    assert "events are permanent" in refused.output
    users = write_users(tmp_path / "u.csv", 3).path
    assert (
        run_cli(
            ["import", "users", str(users), "--no-backup", "--run-dir", str(tmp_path / "nb"), "-q"], env
        ).exit_code
        == 0
    )
    refused = run_cli(["undo", str(tmp_path / "nb"), "--yes"], env)
    assert refused.exit_code == 2
    assert "kept no before-images" in refused.output
    assert not (tmp_path / "nb" / "before_images.sqlite3").exists()


def test_kill_9_during_undo_then_resume_ends_in_the_same_state(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=15)
    env = cli_env(sandbox, tmp_path / "state")
    n = 300
    seed = write_users(tmp_path / "seed.csv", n)
    assert (
        run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code
        == 0
    )
    before = visible(sandbox.store)
    edit = edited_file(tmp_path, n, changed=n, new=0)
    assert (
        run_cli(["import", "users", str(edit), "--run-dir", str(tmp_path / "r1"), "-q"], env).exit_code == 0
    )
    assert visible(sandbox.store) != before
    writes = len(writes_seen(sandbox))
    args = ["undo", str(tmp_path / "r1"), "--yes", "--workers", "4", "--run-dir", str(tmp_path / "u"), "-q"]
    kill_9_after_writes(sandbox, args, env, tmp_path, writes + 40)
    assert visible(sandbox.store) != before  # stopped half way
    resumed = run_cli(["resume", str(tmp_path / "u"), "-q"], env)
    assert resumed.exit_code == 0, resumed.output
    assert visible(sandbox.store) == before
    summary = summary_of(tmp_path / "u")
    assert summary["status"] == "completed"
    assert summary["rows_succeeded"] == n
    assert summary["rows_failed"] == 0


def test_an_import_killed_and_resumed_is_still_undone_exactly(sandbox_factory, tmp_path: Path) -> None:
    """Before-images are written before the requests: kill -9 mid-import, resume (which reads records
    it already wrote), then undo: every record is back to what it was before the first segment."""
    sandbox = sandbox_factory(latency_ms=15)
    env = cli_env(sandbox, tmp_path / "state")
    n = 300
    seed = write_users(tmp_path / "seed.csv", n)
    assert (
        run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code
        == 0
    )
    before = visible(sandbox.store)
    edit = edited_file(tmp_path, n, changed=n, new=20)
    writes = len(writes_seen(sandbox))
    args = [
        "import",
        "users",
        str(edit),
        "--workers",
        "4",
        "--strategy",
        "put-first",
        "--run-dir",
        str(tmp_path / "r1"),
    ]
    kill_9_after_writes(sandbox, args, env, tmp_path, writes + 60)
    resumed = run_cli(["resume", str(tmp_path / "r1"), "-q"], env)
    assert resumed.exit_code == 0, resumed.output
    assert sandbox.store.users["U000299"]["firstName"] == "Edited299"
    undo = run_cli(["undo", str(tmp_path / "r1"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output
    assert visible(sandbox.store) == before


def test_undo_asks_for_the_count(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    seed = write_users(tmp_path / "seed.csv", 5)
    assert (
        run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code
        == 0
    )
    writes = len(writes_seen(sandbox))
    refused = run_cli(["undo", str(tmp_path / "r0"), "--run-dir", str(tmp_path / "u")], env)
    assert refused.exit_code == 2
    assert (
        "this run will take back (restore, delete or re-create) 5 records and needs confirmation"
        in refused.output
    )
    assert len(writes_seen(sandbox)) == writes
    assert len(sandbox.store.users) == 5
