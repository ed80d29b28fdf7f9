"""`batchgs import users FILE --changed-only` against the sandbox: the plan, the run, and a second run.

The plan lists exactly the changed keys and fields (drift made through the API between runs included),
the run writes exactly those rows (counted at the sandbox), a second identical run writes nothing, and
numbers, dates, custom attributes and emails compare as the API stores them.
"""

from __future__ import annotations

from pathlib import Path

from batchgs.sandbox.server import SandboxThread
from tests.cli.changes_helpers import read_changes, rewrite
from tests.cli.cli_helpers import api_put_user, cli_env, run_cli, summary_of, writes_seen
from tests.engine.imports.import_helpers import USER_HEADERS, write_users

N = 40


def test_plan_run_and_second_run(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    source = write_users(tmp_path / "users.csv", N)
    first = run_cli(["import", "users", str(source.path), "--run-dir", str(tmp_path / "r1"), "-q"], env)
    assert first.exit_code == 0, first.output
    rows = [dict(cells) for cells in source.valid.values()]

    # The same file, written the way people edit spreadsheets: numbers as 5.0, emails in capitals.
    rows[0]["custom.seats"] = f"{rows[0]['custom.seats']}.0"
    rows[1]["email"] = rows[1]["email"].upper()
    # Real edits: three fields in the file, one new user.
    rows[2]["firstName"] = "Changed"
    rows[3]["custom.plan"] = "enterprise"
    rows[4]["signUpDate"] = "2025-01-02T03:04:05Z"
    new = {**rows[5], "identifyId": "U999999", "email": "new@example.com"}
    rows.append(new)
    rewrite(source.path, rows, USER_HEADERS)
    # Drift: someone edits two users in Gainsight; the file wins for the fields it holds.
    api_put_user(sandbox, "U000006", {"lastName": "Drifted"})
    api_put_user(sandbox, "U000007", {"title": "CEO"})  # a field the file does not hold: no change
    drift_before = "Drifted"

    writes_before = len(writes_seen(sandbox))
    plan = run_cli(
        [
            "import",
            "users",
            str(source.path),
            "--changed-only",
            "--dry-run",
            "--run-dir",
            str(tmp_path / "plan"),
        ],
        env,
    )
    assert plan.exit_code == 0, plan.output
    assert len(writes_seen(sandbox)) == writes_before  # the plan reads only
    assert "unchanged           36" in plan.output
    expected = {
        (
            "U000002",
            "update",
            "firstName",
            source.valid["U000002"]["firstName"],
            "Changed",
        ),
        ("U000003", "update", "customAttributes.plan", source.valid["U000003"]["custom.plan"], "enterprise"),
        (
            "U000004",
            "update",
            "signUpDate",
            source.valid["U000004"]["signUpDate"].replace("Z", ".000Z"),
            "2025-01-02T03:04:05.000Z",
        ),
        ("U000006", "update", "lastName", drift_before, rows[6]["lastName"]),
    }
    planned = read_changes(tmp_path / "plan")
    updates = {line for line in planned if line[1] == "update"}
    assert updates == expected
    creates = [line for line in planned if line[1] == "create"]
    assert {line[0] for line in creates} == {"U999999"}
    # `batchgs status` of the plan folder says what it is (it said "not a run folder", exit 5)
    status = run_cli(["status", str(tmp_path / "plan")], env)
    assert status.exit_code == 0, status.output
    assert (
        "Planned" in status.output and "a dry run" in status.output and "Sent        nothing" in status.output
    )
    assert "changes.csv" in status.output
    as_json = run_cli(["status", str(tmp_path / "plan"), "--json"], env)
    assert as_json.exit_code == 0 and '"kind": "plan"' in as_json.output
    assert ("U999999", "create", "email", "", "new@example.com") in creates
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == [
        "changes.csv",
        "summary.json",
    ]  # no journal

    run = run_cli(
        ["import", "users", str(source.path), "--changed-only", "--run-dir", str(tmp_path / "r2"), "--json"],
        env,
    )
    assert run.exit_code == 0, run.output
    written = writes_seen(sandbox)[writes_before:]
    assert sorted(entry[2] for entry in written) == sorted(
        ["/v1/users"] + [f"/v1/users/{uid}" for uid in ("U000002", "U000003", "U000004", "U000006")]
    )
    assert read_changes(tmp_path / "r2") == planned
    summary = summary_of(tmp_path / "r2")
    assert summary["rows_unchanged"] == 36
    assert summary["rows_succeeded"] == N + 1
    assert summary["changes"] == {"create": 1, "update": 4}
    assert sandbox.store.users["U000006"]["lastName"] == rows[6]["lastName"]
    assert sandbox.store.users["U000007"]["title"] == "CEO"
    assert sandbox.store.users["U000003"]["customAttributes"]["plan"] == "enterprise"
    assert sandbox.store.users["U000003"]["customAttributes"]["seats"] == float(rows[3]["custom.seats"])
    success = (tmp_path / "r2" / "success.csv").read_text(encoding="utf-8")
    assert success.count(",unchanged") == 36

    again = run_cli(
        ["import", "users", str(source.path), "--changed-only", "--run-dir", str(tmp_path / "r3"), "-q"], env
    )
    assert again.exit_code == 0, again.output
    assert len(writes_seen(sandbox)) == writes_before + len(written)  # nothing written the second time
    assert summary_of(tmp_path / "r3")["rows_unchanged"] == N + 1
    assert read_changes(tmp_path / "r3") == []


def test_no_false_changes_for_the_samples_and_an_export_round_trip(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    """Dates (also custom DATE_TIME attributes), booleans, numbers, location and product keys of the
    samples, and every column of an export fed back, compare equal to what the API stored."""
    env = cli_env(sandbox, tmp_path / "state")
    samples = Path(__file__).resolve().parents[2] / "samples"
    for entity in ("accounts", "users"):
        path = samples / f"{entity}.csv"
        first = run_cli(["import", entity, str(path), "--run-dir", str(tmp_path / f"{entity}-1"), "-q"], env)
        assert first.exit_code == 0, first.output
        writes = len(writes_seen(sandbox))
        again = run_cli(
            ["import", entity, str(path), "--changed-only", "--run-dir", str(tmp_path / f"{entity}-2"), "-q"],
            env,
        )
        assert again.exit_code == 0, again.output
        assert len(writes_seen(sandbox)) == writes, read_changes(tmp_path / f"{entity}-2")
    exported = tmp_path / "users-export.csv"
    assert run_cli(["export", "users", "-o", str(exported), "-q"], env).exit_code == 0
    writes = len(writes_seen(sandbox))
    back = run_cli(
        ["import", "users", str(exported), "--changed-only", "--run-dir", str(tmp_path / "rt"), "-q"], env
    )
    assert back.exit_code == 0, back.output
    assert len(writes_seen(sandbox)) == writes, read_changes(tmp_path / "rt")
    assert summary_of(tmp_path / "rt")["rows_unchanged"] == len(sandbox.store.users)


def test_changed_only_is_refused_where_it_cannot_work(sandbox: SandboxThread, tmp_path: Path) -> None:
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "u.csv", 2).path
    refused = run_cli(["import", "users", str(users), "--changed-only", "--mode", "delete", "--yes"], env)
    assert refused.exit_code == 2
    assert (
        "--changed-only works with users, accounts and preferences in mode upsert or update" in refused.output
    )
    assert writes_seen(sandbox) == []


def test_preferences_send_only_what_changes(sandbox: SandboxThread, tmp_path: Path) -> None:
    """An unset preference is opted in (true): writing true again, or a value already set, sends nothing."""
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "u.csv", 4).path
    assert (
        run_cli(["import", "users", str(users), "--run-dir", str(tmp_path / "u"), "-q"], env).exit_code == 0
    )
    sandbox.store.preferences["U000000"] = {"trackUsage": False}
    prefs = tmp_path / "prefs.csv"
    prefs.write_text(
        "identifyId,trackUsage,surveys\n"
        "U000000,false,\n"  # already false
        "U000001,true,true\n"  # unset = true already
        "U000002,,false\n"  # a change
        "U000003,false,true\n",  # a change of trackUsage only
        encoding="utf-8",
    )
    writes = len(writes_seen(sandbox))
    run = run_cli(
        ["import", "preferences", str(prefs), "--changed-only", "--yes", "--run-dir", str(tmp_path / "p")],
        env,
    )
    assert run.exit_code == 0, run.output
    written = writes_seen(sandbox)[writes:]
    assert sorted(entry[2] for entry in written) == [
        "/v2/user/preferences/U000002",
        "/v2/user/preferences/U000003",
    ]
    assert read_changes(tmp_path / "p") == [
        ("U000002", "update", "surveys", "true", "false"),
        ("U000003", "update", "trackUsage", "true", "false"),
    ]
    assert sandbox.store.preferences_of("U000003")["surveys"] is True
    assert summary_of(tmp_path / "p")["rows_unchanged"] == 2
