"""One key, many jobs, as users run them: real `batchgs import` processes against one sandbox, counted
at the sandbox (its busiest sliding second of arrivals, its 429s). Through one state folder, and through
a real redis-server with a state folder each (three "machines")."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.cli.cli_helpers import WAIT_LIMIT_S, cli_env, requests_seen, run_cli, spawn, summary_of, wait_until
from tests.engine.imports.import_helpers import assert_users_match, write_users
from tests.redis_server import RedisServer, free_port

KEY_RATE = 60


def import_args(path: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "import",
        "users",
        str(path),
        "--run-dir",
        str(run_dir),
        "--quiet",
        "--strategy",
        "post-first",
        *extra,
    ]


def test_three_processes_on_one_machine_stay_within_the_key_rate(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=5, rate_limit=KEY_RATE)
    env = cli_env(sandbox, tmp_path / "state", BATCHGS_KEY_RATE=str(KEY_RATE))
    files = [write_users(tmp_path / f"u{n}.csv", 150, seed=n, start=n * 1_000) for n in range(3)]
    runs = [tmp_path / f"run{n}" for n in range(3)]
    processes = [
        spawn(import_args(f.path, r, "--rate", str(KEY_RATE)), env, tmp_path)
        for f, r in zip(files, runs, strict=True)
    ]
    fair: dict[Path, dict[str, int]] = {}  # `batchgs status` shows each running run's share
    deadline = time.monotonic() + WAIT_LIMIT_S
    while len(fair) < 3 and all(p.poll() is None for p in processes):
        for run_dir in runs:
            status = (
                run_cli(["status", str(run_dir), "--json"], env)
                if (run_dir / "journal.sqlite3").exists()
                else None
            )
            share = json.loads(status.stdout).get("share") if status and status.exit_code == 0 else None
            if share and share["jobs"] == 3 and share["requests_per_window"] == KEY_RATE // 3:
                fair[run_dir] = share
        assert time.monotonic() < deadline
        time.sleep(0.05)
    results = [p.communicate(timeout=WAIT_LIMIT_S) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    stats = sandbox.stats(log=False)
    assert stats["responses_429"] == 0
    assert stats["max_arrivals_per_second"] <= KEY_RATE
    for f in files:
        assert_users_match(sandbox.store, f.valid)
    assert sorted(fair) == sorted(runs), "status did not show every run's fair share while the three ran"
    assert all(share["key_rate"] == KEY_RATE and share["window_s"] == 1 for share in fair.values())


def test_three_machines_share_one_daily_limit_through_redis_then_resume_when_it_frees(
    sandbox_factory, redis_server: RedisServer, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=2)
    files = [write_users(tmp_path / f"u{n}.csv", 150, seed=n, start=n * 1_000) for n in range(3)]
    runs = [tmp_path / f"run{n}" for n in range(3)]
    envs = [
        cli_env(
            sandbox, tmp_path / f"machine{n}", BATCHGS_COORDINATOR=redis_server.url, BATCHGS_KEY_RATE="30"
        )
        for n in range(3)
    ]
    processes = [
        spawn(import_args(f.path, r, "--daily-limit", "150"), env, tmp_path)
        for f, r, env in zip(files, runs, envs, strict=True)
    ]
    results = [p.communicate(timeout=WAIT_LIMIT_S) for p in processes]
    assert [p.returncode for p in processes] == [4, 4, 4], results  # 450 requests needed, 150 shared
    seen = requests_seen(sandbox)
    assert 150 - 3 * 20 <= seen <= 150, seen  # never past the limit; a stopped run's unsent lease is counted
    for run_dir, (_out, err) in zip(runs, results, strict=True):
        assert "daily request quota reached" in err and f"batchgs resume {run_dir}" in err, err
        status = run_cli(["status", str(run_dir), "--json"], envs[0])  # a late one may have sent nothing
        assert json.loads(status.stdout)["status"] == "paused"
    quota = json.loads(run_cli(["quota", "--json"], envs[0]).stdout)
    [px] = [row for row in quota["keys"] if row["api"] == "px"]
    assert px["daily_limit"] == 150 and px["used"] >= seen and px["left"] == 150 - px["used"]
    assert quota["source"] == redis_server.url

    redis_server.age_ledger()  # a day later
    for run_dir, env in zip(runs, envs, strict=True):
        resumed = run_cli(["resume", str(run_dir), "--quiet", "--daily-limit", "1000"], env)
        assert resumed.exit_code == 0, resumed.output
    for f in files:
        assert_users_match(sandbox.store, f.valid)
    assert len(sandbox.store.users) == 450


def test_an_unreachable_coordinator_is_exit_2_with_one_line_and_nothing_sent(sandbox, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 20)
    nobody = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    env = cli_env(sandbox, tmp_path / "state", BATCHGS_COORDINATOR=nobody)
    result = run_cli(import_args(users.path, tmp_path / "run"), env)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach the coordinator redis://127.0.0.1:")
    assert "Traceback" not in result.output and "s3cret" not in result.output
    assert requests_seen(sandbox) == 0


def test_a_coordinator_lost_mid_run_pauses_with_exit_4_and_resume_finishes(
    sandbox_factory, redis_server: RedisServer, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=2)
    users = write_users(tmp_path / "users.csv", 400)
    env = cli_env(sandbox, tmp_path / "state", BATCHGS_COORDINATOR=redis_server.url)
    run_dir = tmp_path / "run"
    process = spawn(import_args(users.path, run_dir, "--rate", "40"), env, tmp_path)
    assert wait_until(lambda: requests_seen(sandbox) >= 30, process), process.communicate()
    redis_server.stop()
    _out, err = process.communicate(timeout=WAIT_LIMIT_S)
    assert process.returncode == 4, err
    assert "Error: lost the coordinator redis://127.0.0.1:" in err and "Traceback" not in err
    paused = summary_of(run_dir)
    assert paused["status"] == "paused" and 0 < paused["rows_succeeded"] < 400

    redis_server.start()  # back on the same port
    resumed = run_cli(["resume", str(run_dir), "--quiet"], env)
    assert resumed.exit_code == 0, resumed.output
    assert_users_match(sandbox.store, users.valid)
