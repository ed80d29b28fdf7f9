"""`batchgs import` / `resume` / `status` / `quota` end to end: exit codes, confirmations, dry run, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.cli_helpers import cli_env, requests_seen, run_cli, summary_of, writes_seen
from tests.engine.imports.import_helpers import assert_users_match, error_rows, write_users


def test_clean_import_exits_0_with_a_json_summary(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 40)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--json"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["rows_succeeded"] == 40
    assert summary["operations"] == {"created": 40}
    assert summary_of(run_dir)["rows_succeeded"] == 40
    assert_users_match(sandbox.store, users.valid)
    status = run_cli(["status", str(run_dir), "--json"], {})
    assert status.exit_code == 0 and json.loads(status.stdout)["rows_succeeded"] == 40


def test_invalid_rows_exit_1_and_are_reported_by_row(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 50, invalid_every=7)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--quiet"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code == 1, result.output
    assert set(error_rows(run_dir)) == users.invalid_rows
    assert_users_match(sandbox.store, users.valid)
    assert len(sandbox.store.users) == len(users.valid)


def test_strict_sends_nothing_and_exits_3(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 30, invalid_every=10)
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(tmp_path / "run"), "--strict", "--quiet"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code == 3, result.output
    assert not writes_seen(sandbox) and not sandbox.store.users


def test_usage_and_configuration_errors_exit_2_in_one_line(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 5)
    env = cli_env(sandbox, tmp_path / "state")
    no_key = {k: v for k, v in env.items() if k != "GAINSIGHT_PX_API_KEY"}
    cases = [
        (["import", "users", str(tmp_path / "missing.csv")], env, "missing.csv"),
        (["import", "users", str(users.path), "--rate", "500"], env, "--rate"),
        (["import", "users", str(users.path)], no_key, "export GAINSIGHT_PX_API_KEY"),
        (["import", "users", str(users.path), "--hard-delete"], env, "--hard-delete"),
        (["import", "events", str(users.path), "--mode", "delete"], env, "--mode"),
    ]
    for args, case_env, named in cases:
        result = run_cli([*args, "--run-dir", str(tmp_path / "never")], case_env)
        assert result.exit_code == 2, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and named in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert requests_seen(sandbox) == 0


def test_dry_run_plans_and_sends_no_write(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    run_cli(
        ["import", "users", str(write_users(tmp_path / "a.csv", 10).path), "--run-dir", str(tmp_path / "r0")],
        cli_env(sandbox, tmp_path / "state"),
    )
    sandbox.reset_stats()
    users = write_users(tmp_path / "b.csv", 25)  # 10 existing, 15 new
    result = run_cli(
        ["import", "users", str(users.path), "--dry-run", "--json"], cli_env(sandbox, tmp_path / "state")
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["creates"] == 15 and plan["updates"] == 10
    assert not writes_seen(sandbox)
    text = run_cli(["import", "users", str(users.path), "--dry-run"], cli_env(sandbox, tmp_path / "state"))
    assert "15" in text.stdout and "daily limit" in text.stdout


def _delete_file(path: Path, ids: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["identifyId"])
        writer.writerows([uid] for uid in ids)
    return path


def test_deletes_need_a_typed_count_and_large_ones_an_extra_flag(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 12)
    assert (
        run_cli(["import", "users", str(users.path), "--run-dir", str(tmp_path / "r0")], env).exit_code == 0
    )
    doomed = _delete_file(tmp_path / "del.csv", sorted(users.valid)[:5])
    base = ["import", "users", str(doomed), "--mode", "delete"]

    refused = run_cli([*base, "--run-dir", str(tmp_path / "r1")], env)  # no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    wrong = run_cli([*base, "--run-dir", str(tmp_path / "r2")], env, stdin="4\n")
    assert wrong.exit_code == 2
    assert len(sandbox.store.users) == 12 and not [w for w in writes_seen(sandbox) if w[1] == "DELETE"]

    done = run_cli([*base, "--run-dir", str(tmp_path / "r3"), "--yes"], env)
    assert done.exit_code == 0, done.output
    assert set(sandbox.store.users) == set(sorted(users.valid)[5:])

    large = _delete_file(tmp_path / "large.csv", [f"X{i:05d}" for i in range(1_001)])
    too_many = run_cli(["import", "users", str(large), "--mode", "delete", "--yes"], env)
    assert too_many.exit_code == 2 and "--allow-large-delete" in too_many.stderr


def test_a_read_only_key_stops_at_the_first_write_with_exit_4(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(read_only_keys=("reader-key",))
    users = write_users(tmp_path / "users.csv", 30)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--quiet"],
        cli_env(sandbox, tmp_path / "state", GAINSIGHT_PX_API_KEY="reader-key"),
    )
    assert result.exit_code == 4, result.output
    assert "Write" in result.stderr and f"batchgs resume {run_dir}" in result.stderr
    assert len([w for w in writes_seen(sandbox) if w[3] == 403]) <= 64  # stopped, not 30 retries each
    assert summary_of(run_dir)["status"] == "paused"
    # with a key that has the Write permission, the run finishes
    resumed = run_cli(["resume", str(run_dir), "--quiet"], cli_env(sandbox, tmp_path / "state"))
    assert resumed.exit_code == 0, resumed.output
    assert_users_match(sandbox.store, users.valid)


def test_a_changed_input_cannot_be_resumed(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 10)
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"
    assert run_cli(["import", "users", str(users.path), "--run-dir", str(run_dir)], env).exit_code == 0
    with users.path.open("a", encoding="utf-8") as handle:
        handle.write("U999999,late@example.com,Late,Comer,2024-01-01T00:00:00Z,free,1\n")
    result = run_cli(["resume", str(run_dir)], env)
    assert result.exit_code == 5 and "changed" in result.stderr
    assert "U999999" not in sandbox.store.users


def test_quota_shows_what_runs_used(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 20)
    result = run_cli(["import", "users", str(users.path), "--run-dir", str(tmp_path / "run"), "--json"], env)
    used = json.loads(result.stdout)["requests"]
    quota = run_cli(["quota", "--json"], env)
    assert quota.exit_code == 0, quota.output
    entries = json.loads(quota.stdout)
    px = [e for e in (entries if isinstance(entries, list) else entries["keys"]) if e["api"] == "px"]
    assert len(px) == 1 and px[0]["used"] == requests_seen(sandbox)  # every request is counted
    assert used >= 20 and px[0]["used"] >= used
    assert sandbox.api_key not in quota.stdout
