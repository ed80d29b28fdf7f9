"""Issue 22.6: `resume` keeps the settings the run was started with (--rate, --daily-limit) unless an
option overrides them, and says so when one does; resuming a completed run sends nothing."""

from __future__ import annotations

from pathlib import Path

from tests.cli.cli_helpers import cli_env, requests_seen, run_cli, summary_of
from tests.engine.imports.import_helpers import write_users
from tests.sandbox_types import SandboxFactory

SERVER_RATE = 25  # the sandbox answers 429 above this many requests in any sliding second


def test_a_resumed_run_keeps_its_rate_and_announces_an_overridden_limit(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=SERVER_RATE)
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 120)
    run_dir = tmp_path / "run"
    start = [
        "import",
        "users",
        str(users.path),
        "--run-dir",
        str(run_dir),
        "--rate",
        "18",
        "--daily-limit",
        "30",
    ]

    paused = run_cli(start, env)
    assert paused.exit_code == 4, paused.output

    kept = run_cli(["resume", str(run_dir)], env)  # the daily limit of 30 is kept: still no capacity
    assert kept.exit_code == 4, kept.output
    assert "for this segment" not in kept.stderr
    assert len(sandbox.store.users) < 30

    faster = run_cli(["resume", str(run_dir), "--rate", "20"], env)  # says so; the limit is still 30
    assert faster.exit_code == 4, faster.output
    assert "Note: rate 20/s for this segment (the run was started with 18/s)" in faster.stderr

    resumed = run_cli(["resume", str(run_dir), "--daily-limit", "100000"], env)
    assert resumed.exit_code == 0, resumed.output
    assert "daily limit 100,000 for this segment (the run was started with 30)" in resumed.stderr
    assert "Note: rate" not in resumed.stderr  # the rate was not overridden
    assert len(sandbox.store.users) == 120
    # the run's 18/s was kept: never above the server's limit (the default 190/s would be answered 429)
    assert summary_of(run_dir)["responses_429"] == 0


def test_resuming_a_completed_import_export_or_opt_out_sends_nothing(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 10)
    assert run_cli(["import", "users", str(users.path), "--run-dir", str(tmp_path / "i")], env).exit_code == 0
    export = ["export", "users", "-o", str(tmp_path / "out.csv"), "--run-dir", str(tmp_path / "e")]
    assert run_cli(export, env).exit_code == 0
    optout_list = tmp_path / "optout.csv"
    optout_list.write_text("identifyId\nu-missing\n" + next(iter(users.valid)) + "\n", encoding="utf-8")
    optout = run_cli(["optout", str(optout_list), "--run-dir", str(tmp_path / "o"), "--yes"], env)
    assert optout.exit_code == 1, optout.output  # one person not found
    before = requests_seen(sandbox)

    for run_dir, code in ((tmp_path / "i", 0), (tmp_path / "e", 0), (tmp_path / "o", 1)):
        again = run_cli(["resume", str(run_dir)], env)
        assert again.exit_code == code, again.output  # the run's own exit code
        assert "this run is complete: nothing to do" in again.stderr
    assert requests_seen(sandbox) == before  # counted at the sandbox: not one, not even the key check
