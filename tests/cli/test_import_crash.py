"""Real processes: Ctrl-C, `kill -9` at random moments, and two processes sharing one daily quota.

Each case runs `python -m batchgs import ...` as a subprocess against an in-process sandbox, interrupts it
at a point chosen by a seeded random generator (counted in requests the server has seen, not in time),
then finishes with `batchgs resume` and compares the sandbox with what an uninterrupted run leaves.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_helpers import (
    all_served,
    cli_env,
    interrupt,
    interrupt_twice,
    requests_seen,
    run_cli,
    spawn,
    summary_of,
    wait_until,
    writes_seen,
)
from tests.engine.imports.import_helpers import (
    assert_users_match,
    error_rows,
    stored_event_copies,
    write_events,
    write_users,
)

USERS = 300
EVENTS = 300


def _users_import_under_way(
    sandbox: Any, tmp_path: Path, rate: int
) -> tuple[Any, dict[str, str], Path, subprocess.Popen[str]]:
    """A 1,000-user import as its own process, once the sandbox has seen 60 of its requests."""
    users = write_users(tmp_path / "users.csv", 1_000)
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"
    process = spawn(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--rate", str(rate)], env, tmp_path
    )
    assert wait_until(lambda: requests_seen(sandbox) >= 60, process), process.communicate()
    return users, env, run_dir, process


def test_ctrl_c_finishes_in_flight_requests_and_resume_completes(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=5)
    users, env, run_dir, process = _users_import_under_way(sandbox, tmp_path, rate=50)
    code, _out, err = interrupt(process, signal.SIGINT)
    assert code == 4, err
    assert "Traceback" not in err and f"batchgs resume {run_dir}" in err
    paused = summary_of(run_dir)
    assert paused["status"] == "paused" and 0 < paused["rows_succeeded"] < 1_000
    assert paused["rows_succeeded"] == len(
        sandbox.store.users
    )  # in-flight requests were finished and recorded
    status = run_cli(["status", str(run_dir), "--json"], {})
    assert json.loads(status.stdout)["status"] == "paused"

    resumed = run_cli(["resume", str(run_dir), "--quiet", "--rate", "200"], env)
    assert resumed.exit_code == 0, resumed.output
    assert_users_match(sandbox.store, users.valid)
    assert summary_of(run_dir)["rows_succeeded"] == 1_000
    assert not [w for w in writes_seen(sandbox) if w[3] == 400], "a user was created twice"


def test_ctrl_c_twice_then_resume_repeats_only_what_was_in_flight(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=300)  # the second Ctrl-C comes while requests are in flight
    users, env, run_dir, process = _users_import_under_way(sandbox, tmp_path, rate=100)
    code, _out, err = interrupt_twice(process)
    assert code == 4, err
    assert "interrupted twice" in err and f"batchgs resume {run_dir}" in err and "Traceback" not in err
    paused = json.loads(run_cli(["status", str(run_dir), "--json"], {}).stdout)
    assert paused["status"] == "paused"  # not left "running" as after kill -9
    assert wait_until(lambda: all_served(sandbox))  # the abandoned ones are stored after their latency
    stored = len(sandbox.store.users)
    abandoned = stored - paused["rows_succeeded"]  # stored, but their answers never read
    assert 0 < stored < 1_000 and abandoned >= 0

    sandbox.configure(latency_ms=0)
    resumed = run_cli(["resume", str(run_dir), "--quiet", "--rate", "200"], env)
    assert resumed.exit_code == 0, resumed.output
    assert_users_match(sandbox.store, users.valid)
    assert summary_of(run_dir)["rows_succeeded"] == 1_000
    refused_creates = [w for w in writes_seen(sandbox) if w[1] == "POST" and w[3] == 400]
    assert len(refused_creates) <= abandoned  # only a row in flight at the stop is asked again


def test_ctrl_c_twice_on_events_leaves_the_abandoned_ones_uncertain_never_sent_twice(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=300)
    path = write_events(tmp_path / "events.csv", EVENTS)
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"
    command = ["import", "events", str(path), "--run-dir", str(run_dir), "--rate", "100"]
    process = spawn(command, env, tmp_path)
    assert wait_until(lambda: requests_seen(sandbox) >= 40, process), process.communicate()
    code, _out, err = interrupt_twice(process)
    assert code == 4 and "Traceback" not in err, err
    paused = json.loads(run_cli(["status", str(run_dir), "--json"], {}).stdout)
    assert paused["status"] == "paused" and paused["rows_uncertain"] > 0  # the abandoned requests

    sandbox.configure(latency_ms=0)
    resumed = run_cli(["resume", str(run_dir), "--quiet", "--rate", "200"], env)
    assert resumed.exit_code in (0, 1), resumed.output  # 1: the uncertain rows are reported
    final = summary_of(run_dir)
    assert final["rows_uncertain"] == paused["rows_uncertain"]  # not re-sent by a plain resume
    assert final["rows_succeeded"] + final["rows_uncertain"] == EVENTS
    uncertain = {row - 2 for row, line in error_rows(run_dir).items() if line["_code"] == "uncertain"}
    copies = stored_event_copies(sandbox.store)
    assert all(copies.get(seq) == 1 for seq in range(EVENTS) if seq not in uncertain)
    assert all(copies.get(seq, 0) <= 1 for seq in uncertain)  # stored once at most, never twice


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_at_a_random_moment_then_resume_equals_an_uninterrupted_run(
    sandbox_factory, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    sandbox = sandbox_factory(latency_ms=3)
    existing = write_users(tmp_path / "old.csv", USERS // 2, seed=50 + seed)  # half the file exists already
    env = cli_env(sandbox, tmp_path / "state")
    assert (
        run_cli(["import", "users", str(existing.path), "--run-dir", str(tmp_path / "seed")], env).exit_code
        == 0
    )
    sandbox.reset_stats()
    users = write_users(tmp_path / "users.csv", USERS, seed=seed, invalid_every=41)
    run_dir = tmp_path / "run"
    kill_at = rng.randrange(
        1, USERS + 5
    )  # in requests seen by the server: early, middle, late, after the end
    mode = rng.choice(["auto", "put-first", "post-first"])
    process = spawn(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--strategy", mode, "--quiet"],
        env,
        tmp_path,
    )
    wait_until(lambda: requests_seen(sandbox) >= kill_at, process)
    process.kill()
    process.communicate(timeout=60)

    resumed = run_cli(["resume", str(run_dir), "--quiet"], env)
    assert resumed.exit_code == 1, resumed.output  # 1: the file's invalid rows
    assert_users_match(sandbox.store, users.valid)
    assert set(sandbox.store.users) == set(users.valid) | set(existing.valid)
    final = summary_of(run_dir)
    assert final["status"] == "completed"
    assert final["rows_succeeded"] == len(users.valid) and final["rows_invalid"] == len(users.invalid_rows)
    assert final["rows_failed"] == final["rows_pending"] == 0
    if mode != "post-first":  # only post-first meets existing users with a refused create, by design
        duplicate_creates = [w for w in writes_seen(sandbox) if w[1] == "POST" and w[3] == 400]
        assert not duplicate_creates


@pytest.mark.parametrize("seed", range(3))
def test_kill_9_on_events_with_ambiguous_failures_never_duplicates_beyond_uncertain(
    sandbox_factory, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(100 + seed)
    sandbox = sandbox_factory(latency_ms=3, ambiguous_rate=0.04, seed=seed)
    path = write_events(tmp_path / "events.csv", EVENTS, seed=seed)
    env = cli_env(sandbox, tmp_path / "state")
    run_dir = tmp_path / "run"
    process = spawn(["import", "events", str(path), "--run-dir", str(run_dir), "--quiet"], env, tmp_path)
    wait_until(lambda: requests_seen(sandbox) >= rng.randrange(1, EVENTS), process)
    process.kill()
    process.communicate(timeout=60)

    resumed = run_cli(["resume", str(run_dir), "--quiet"], env)
    assert resumed.exit_code in (0, 1), resumed.output
    final = summary_of(run_dir)
    copies = stored_event_copies(sandbox.store)
    duplicated = sum(1 for n in copies.values() if n > 1)
    missing = EVENTS - len(copies)
    assert final["rows_succeeded"] + final["rows_uncertain"] == EVENTS
    assert duplicated + missing <= final["rows_uncertain"]
    uncertain = set()
    if final["rows_uncertain"]:  # row n of the sheet holds event seq n - 2
        uncertain = {row - 2 for row, line in error_rows(run_dir).items() if line["_code"] == "uncertain"}
    assert len(uncertain) == final["rows_uncertain"]
    assert all(copies.get(seq) == 1 for seq in range(EVENTS) if seq not in uncertain)


def test_two_processes_share_one_daily_quota_then_resume_to_completion(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(latency_ms=2)
    env = cli_env(sandbox, tmp_path / "state")
    files = [write_users(tmp_path / f"u{n}.csv", 150, seed=n, start=n * 1_000) for n in range(2)]
    runs = [tmp_path / f"run{n}" for n in range(2)]
    processes = [
        spawn(
            [
                "import",
                "users",
                str(f.path),
                "--run-dir",
                str(r),
                "--daily-limit",
                "200",
                "--quiet",
                "--strategy",
                "put-first",
            ],
            env,
            tmp_path,
        )
        for f, r in zip(files, runs, strict=True)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    codes = [p.returncode for p in processes]
    assert 4 in codes, (codes, results)  # 300+ requests needed, 200 allowed between the two
    assert requests_seen(sandbox) <= 200, "the processes did not share the ledger"
    paused = [r for r, code in zip(runs, codes, strict=True) if code == 4]
    for run_dir, (_out, err) in zip(runs, results, strict=True):
        if run_dir in paused:
            assert "capacity returns" in err and f"batchgs resume {run_dir}" in err, err
            assert summary_of(run_dir)["status"] == "paused"
    quota = json.loads(run_cli(["quota", "--json"], env).stdout)
    px = [e for e in (quota if isinstance(quota, list) else quota["keys"]) if e["api"] == "px"]
    assert px[0]["used"] == requests_seen(sandbox) and px[0]["left"] == 200 - requests_seen(sandbox)

    for run_dir in paused:  # the next day's budget (here: a larger limit) lets them finish
        resumed = run_cli(["resume", str(run_dir), "--quiet", "--daily-limit", "10000"], env)
        assert resumed.exit_code == 0, resumed.output
    for f in files:
        assert_users_match(sandbox.store, f.valid)
    assert len(sandbox.store.users) == 300
