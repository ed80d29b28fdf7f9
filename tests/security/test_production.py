"""A profile marked `production = true` asks before deletes and large preference changes: a typed
count in a terminal, and `--yes` is not enough without BATCHGS_CONFIRM_PRODUCTION=<profile>."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.cli_helpers import run_cli, writes_seen
from tests.security.sec_helpers import PX_KEY, error_lines, write_table


def _profile(folder: Path, url: str) -> None:
    (folder / "batchgs.toml").write_text(
        f'[profiles.prod]\nbase_url = "{url}"\nproduction = true\nproduct_key = "AP-1"\n'
        f'[profiles.staging]\nbase_url = "{url}"\nproduct_key = "AP-1"\n',
        encoding="utf-8",
    )


def _seed(sandbox, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [f"U{i:04d}" for i in range(n)]

    def add() -> None:
        for uid in ids:
            sandbox.store.users[uid] = {
                "identifyId": uid,
                "email": f"{uid}@example.com",
                "propertyKeys": ["AP-1"],
            }

    sandbox.call(add)
    return ids


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GAINSIGHT_PX_API_KEY": PX_KEY, "BATCHGS_STATE_DIR": str(tmp_path / "state"), **extra}


def test_yes_alone_does_not_delete_in_production(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    _profile(tmp_path, sandbox.url)
    monkeypatch.chdir(tmp_path)
    ids = _seed(sandbox, 8)
    doomed = write_table(tmp_path / "del.csv", ["identifyId"], [[uid] for uid in ids[:3]])
    base = ["--profile", "prod", "import", "users", str(doomed), "--mode", "delete", "--yes"]

    refused = run_cli([*base, "--run-dir", str(tmp_path / "r1")], _env(tmp_path))
    assert refused.exit_code == 2, refused.output
    assert len(error_lines(refused.stderr)) == 1 and "production" in refused.stderr
    assert "BATCHGS_CONFIRM_PRODUCTION=prod" in refused.stderr
    wrong = run_cli(
        [*base, "--run-dir", str(tmp_path / "r2")], _env(tmp_path, BATCHGS_CONFIRM_PRODUCTION="staging")
    )
    assert wrong.exit_code == 2
    assert not [w for w in writes_seen(sandbox) if w[1] == "DELETE"] and len(sandbox.store.users) == 8

    done = run_cli(
        [*base, "--run-dir", str(tmp_path / "r3")], _env(tmp_path, BATCHGS_CONFIRM_PRODUCTION="prod")
    )
    assert done.exit_code == 0, done.output
    assert sorted(sandbox.store.users) == ids[3:]
    # the same file on a profile that is not production: --yes is enough, as before
    staging = write_table(tmp_path / "del2.csv", ["identifyId"], [[ids[3]]])
    plain = run_cli(
        [
            "--profile",
            "staging",
            "import",
            "users",
            str(staging),
            "--mode",
            "delete",
            "--yes",
            "--run-dir",
            str(tmp_path / "r4"),
        ],
        _env(tmp_path),
    )
    assert plain.exit_code == 0, plain.output
    assert ids[3] not in sandbox.store.users
    # BATCHGS_PROFILE names the production profile just as --profile does
    again = write_table(tmp_path / "del3.csv", ["identifyId"], [[ids[4]]])
    by_env = run_cli(
        ["import", "users", str(again), "--mode", "delete", "--yes", "--run-dir", str(tmp_path / "r5")],
        _env(tmp_path, BATCHGS_PROFILE="prod"),
    )
    assert by_env.exit_code == 2 and "production" in by_env.stderr and ids[4] in sandbox.store.users


def test_a_terminal_must_type_the_count_in_production_even_with_yes(sandbox_factory, tmp_path: Path) -> None:
    """A real process on a pseudo-terminal: the prompt names the production profile; a wrong count
    deletes nothing, the right one deletes."""
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    _profile(tmp_path, sandbox.url)
    ids = _seed(sandbox, 5)
    doomed = write_table(tmp_path / "del.csv", ["identifyId"], [[uid] for uid in ids[:2]])
    results = []
    for typed, run in (("3", "t1"), ("2", "t2")):
        results.append(_with_terminal(
            ["--profile", "prod", "import", "users", str(doomed), "--mode", "delete", "--yes",
             "--run-dir", str(tmp_path / run)],
            _env(tmp_path), tmp_path, typed,
        ))  # fmt: skip
        if typed == "3":
            assert len(sandbox.store.users) == 5, "a wrong count deletes nothing"
    (wrong_code, wrong_err), (right_code, right_err) = results
    assert "prod, production" in wrong_err and "Type 2 to confirm" in wrong_err
    assert wrong_code == 2 and "did not match" in wrong_err
    assert right_code == 0, right_err
    assert sorted(sandbox.store.users) == ids[2:]


def _with_terminal(args: list[str], env: dict[str, str], cwd: Path, typed: str) -> tuple[int, str]:
    master, slave = os.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "batchgs", *args],
        env={**base, **env},
        cwd=cwd,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + 120
        # the prompt goes to stderr (a pipe); answer once the process waits on the terminal
        os.write(master, f"{typed}\n".encode())
        _out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return process.returncode, err


def test_large_preference_changes_ask_in_production(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    _profile(tmp_path, sandbox.url)
    path = tmp_path / "prefs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["identifyId", "trackUsage"])
        writer.writerows([f"U{i:05d}", "true"] for i in range(1_001))
    env = {**_env(tmp_path), "BATCHGS_PROFILE": "prod"}
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        refused = run_cli(
            ["import", "preferences", str(path), "--yes", "--run-dir", str(tmp_path / "p1")], env
        )
        assert refused.exit_code == 2 and "production" in refused.stderr, refused.output
        assert "BATCHGS_CONFIRM_PRODUCTION=prod" in refused.stderr
        assert writes_seen(sandbox) == []
        _seed(sandbox, 2)
        small = write_table(tmp_path / "small.csv", ["identifyId", "trackUsage"], [["U0001", "true"]])
        fine = run_cli(["import", "preferences", str(small), "--run-dir", str(tmp_path / "p2")], env)
        assert fine.exit_code == 0, fine.output  # a small change needs no confirmation
        assert len(writes_seen(sandbox)) >= 1
    finally:
        os.chdir(cwd)
