"""`batchgs.status` / `batchgs.quota` (batchgs.api_reads) and the CLI commands that print them: one code
path, so the CLI's --json is the API's result, and everything the commands showed before they became
callers of the API is still there (validate folders, stop reasons in words, a running run's share of
the key, per-key jobs, the coordinator as source, `-` for unknown counts, the `*` legend)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import batchgs
from batchgs.sandbox.server import SandboxThread
from batchgs.transport.coordination import describe_coordinator
from batchgs.transport.share import TickInput
from batchgs.transport.share_local import LocalShareBoard
from tests.api_helpers import creds
from tests.cli.cli_helpers import PRODUCT_KEY, WAIT_LIMIT_S, cli_env, run_cli
from tests.engine.imports.import_helpers import write_users
from tests.redis_server import RedisServer
from tests.sandbox_types import SandboxFactory


def cli_subprocess(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m batchgs ARGS` in its own process (safe while this process runs a job in a thread)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    return subprocess.run(
        [sys.executable, "-m", "batchgs", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_S,
    )


def test_status_of_a_validate_folder(tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 10, invalid_every=5)
    folder = tmp_path / "checked"
    batchgs.validate_file("users", users.path, run_dir=folder, offline=True, product_key=PRODUCT_KEY)
    result = batchgs.status(folder)
    assert (result.status, result.rows_total, result.rows_invalid, result.exit_code) == (
        "validated",
        10,
        2,
        1,
    )
    assert result.errors_csv == folder / "errors.csv" and result.summary["kind"] == "validate"
    printed = run_cli(["status", str(folder)], {})
    assert printed.exit_code == 0 and "Validated  nothing was sent" in printed.stdout
    assert json.loads(run_cli(["status", str(folder), "--json"], {}).stdout) == dict(result.summary)


def test_status_says_why_a_run_stopped_in_words(sandbox: SandboxThread, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 5)
    run_dir = tmp_path / "run"
    with pytest.raises(batchgs.FatalApiError):
        batchgs.import_file("users", users.path, run_dir=run_dir, credentials=creds(sandbox, key="wrong"))
    result = batchgs.status(run_dir)
    assert (result.status, result.exit_code, result.status_reason) == ("paused", 4, "FatalApiError")
    assert result.status_words is not None
    assert result.status_words.startswith("stopped: the API refused the key (HTTP 401)")
    assert result.share is None  # not running: no share
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "completed"  # type: ignore[misc]
    cli = run_cli(["status", str(run_dir), "--json"], {})
    assert json.loads(cli.stdout) == json.loads(json.dumps(dict(result.summary)))
    words = run_cli(["status", str(run_dir)], {})
    assert "paused — stopped: the API refused the key (HTTP 401)" in words.stdout
    assert f"Resume     batchgs resume {run_dir}" in words.stdout


def test_status_of_a_missing_folder_raises_not_resumable(tmp_path: Path) -> None:
    with pytest.raises(batchgs.NotResumableError) as raised:
        batchgs.status(tmp_path / "nothing-here")
    assert raised.value.exit_code == 5


def test_a_running_run_shows_its_share_in_status_and_its_job_in_quota(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """An import runs in this process (async, as in a notebook); meanwhile status and quota, from the
    API and from the CLI in another process, see it on the shared limiter's board."""
    sandbox = sandbox_factory(latency_ms=20)
    users = write_users(tmp_path / "users.csv", 400)
    run_dir, state = tmp_path / "run", tmp_path / "state"
    env = cli_env(sandbox, state)
    seen: dict[str, object] = {}

    async def watch() -> None:
        task = asyncio.create_task(
            batchgs.import_file_async(
                "users", users.path, run_dir=run_dir, credentials=creds(sandbox), state_dir=state, rate=20
            )
        )
        deadline = time.monotonic() + WAIT_LIMIT_S
        while "status" not in seen:
            assert not task.done(), "the run ended before status saw it running"
            assert time.monotonic() < deadline, "status never showed the running run's share"
            if not (run_dir / "journal.sqlite3").exists():  # the run has not created its folder yet
                await asyncio.sleep(0.01)
                continue
            try:
                status = await batchgs.status_async(run_dir, state_dir=state)
            except batchgs.NotResumableError:  # the journal file exists, its tables not yet: starting
                await asyncio.sleep(0.01)
                continue
            if status.status == "running" and status.share is not None:
                seen["status"] = status
                seen["quota"] = await batchgs.quota_async(state_dir=state, credentials=creds(sandbox))
                seen["cli_status"] = cli_subprocess(["status", str(run_dir), "--state-dir", str(state)], env)
                seen["cli_quota"] = cli_subprocess(["quota", "--json"], env)
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(watch())
    status = seen["status"]
    assert isinstance(status, batchgs.RunResult) and status.share is not None
    assert status.share.jobs == 1 and status.share.wants == 20 and status.share.window_s == 1
    assert 0 < status.share.requests_per_window <= status.share.key_rate
    assert status.summary["share"]["jobs"] == 1 and status.exit_code == 0

    quota = seen["quota"]
    assert isinstance(quota, batchgs.QuotaResult) and quota.source == str(state)
    [key] = quota.keys
    assert key.current_key and key.base_url == sandbox.url and key.key_rate == status.share.key_rate
    [job] = key.jobs
    assert (job.pid, job.run, job.wants) == (os.getpid(), str(run_dir.resolve()), 20)

    cli_status = seen["cli_status"]
    assert isinstance(cli_status, subprocess.CompletedProcess) and cli_status.returncode == 0
    assert "Share      " in cli_status.stdout and "(1 job(s) on this key)" in cli_status.stdout
    cli_quota = seen["cli_quota"]
    assert isinstance(cli_quota, subprocess.CompletedProcess) and cli_quota.returncode == 0
    [cli_key] = json.loads(cli_quota.stdout)["keys"]
    assert cli_key["jobs"][0]["pid"] == os.getpid() and cli_key["jobs"][0]["run"] == str(run_dir.resolve())

    paused = batchgs.status(run_dir, state_dir=state)  # cancelled as Ctrl-C would: paused, in words
    assert paused.status == "paused" and paused.share is None
    assert paused.status_words is not None and paused.status_words.startswith("stopped")


def test_quota_shows_unknown_counts_as_dashes_and_explains_its_star(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = cli_env(sandbox, state)
    users = write_users(tmp_path / "users.csv", 3)
    batchgs.import_file(
        "users", users.path, run_dir=tmp_path / "run", credentials=creds(sandbox), state_dir=state
    )
    board = LocalShareBoard(  # a key with a job on the board but no request in the ledger yet
        state,
        "pool-cs",
        scope="cs",
        fingerprint="f" * 64,
        base_url="http://cs.example",
        capacity=50,
        window=1.0,
        stale_after=600.0,
    )
    board.tick_now(TickInput(job="j1", want=10, live=0, ending=False, host="box", pid=4242, label="/runs/cs"))

    report = batchgs.quota(state_dir=state, credentials=creds(sandbox))
    by_api = {key.api: key for key in report.keys}
    assert set(by_api) == {"px", "cs"}
    px, cs = by_api["px"], by_api["cs"]
    assert px.current_key and px.used is not None and px.used >= 3 and px.left == px.daily_limit - px.used
    assert not cs.current_key and (cs.used, cs.left, cs.daily_limit) == (None, None, None)
    assert cs.key_rate == 50 and [(j.host, j.pid, j.run, j.wants) for j in cs.jobs] == [
        ("box", 4242, "/runs/cs", 10)
    ]

    printed = run_cli(["quota", "--state-dir", str(state)], env)
    assert printed.exit_code == 0, printed.output
    cs_line = next(line for line in printed.stdout.splitlines() if line.startswith("cs "))
    assert cs_line.split()[2:5] == ["-", "-", "-"]
    assert (
        "1 job(s) running, sharing 50 requests/s:" in printed.stdout
        and "box pid 4242  /runs/cs" in printed.stdout
    )
    assert "* the key this shell uses" in printed.stdout
    assert json.loads(run_cli(["quota", "--state-dir", str(state), "--json"], env).stdout) == report.to_json()

    other = run_cli(["quota", "--state-dir", str(state)], {"GAINSIGHT_PX_API_KEY": "another-key"})
    assert "*" not in other.stdout  # no key of this shell: no star, no legend
    empty = batchgs.quota(state_dir=tmp_path / "fresh")
    assert empty.keys == () and empty.source == str(tmp_path / "fresh")
    assert "No requests recorded" in run_cli(["quota", "--state-dir", str(tmp_path / "fresh")], {}).stdout


def test_quota_reads_the_coordinator_and_names_it_without_its_password(
    sandbox: SandboxThread, redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHGS_COORDINATOR", redis_server.url)
    users = write_users(tmp_path / "users.csv", 4)
    batchgs.import_file("users", users.path, run_dir=tmp_path / "run", credentials=creds(sandbox))
    report = batchgs.quota(credentials=creds(sandbox))
    assert report.source == describe_coordinator(redis_server.url)
    [key] = [key for key in report.keys if key.api == "px"]
    assert key.current_key and key.used is not None and key.used >= 4
    cli = json.loads(run_cli(["quota", "--json"], {"BATCHGS_COORDINATOR": redis_server.url}).stdout)
    assert cli["source"] == report.source and cli["keys"][0]["used"] == key.used


def test_status_still_answers_while_a_first_run_creates_the_ledger(tmp_path: Path) -> None:
    """Seen in the running-run test: the ledger file exists before its tables. The share is then
    unknown (None), not an internal error of `batchgs status`."""
    from batchgs.api_reads import _share, settings_reader
    from batchgs.transport.ledger import ledger_path

    state = tmp_path / "state"
    state.mkdir()
    sqlite3.connect(ledger_path(state)).close()  # an empty database: no tables yet
    assert _share(settings_reader(state, None, None), tmp_path / "run") is None
