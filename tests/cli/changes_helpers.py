"""Files and views shared by the `--changed-only` and `undo` CLI tests."""

from __future__ import annotations

import copy
import csv
import signal
from pathlib import Path
from typing import Any

import pytest

from batchgs.sandbox.server import SandboxThread
from tests.cli.cli_helpers import cli_env, run_cli, spawn, wait_until, writes_seen
from tests.engine.imports.import_helpers import USER_HEADERS, UserFile, write_users

FIELDS = ("email", "firstName", "lastName", "signUpDate", "customAttributes")


def visible(store: Any) -> dict[str, dict[str, Any]]:
    """The fields the test files write, per user, as the sandbox holds them."""
    return {uid: {f: copy.deepcopy(u.get(f)) for f in FIELDS} for uid, u in store.users.items()}


def rewrite(path: Path, rows: list[dict[str, str]], headers: list[str] = USER_HEADERS) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers)
        writer.writeheader()
        writer.writerows(rows)


def edited_file(tmp_path: Path, n: int, *, changed: int, new: int, name: str = "edit.csv") -> Path:
    """The users of `write_users(n)`; the first `changed` get a new first name and plan; `new` are added."""
    source = write_users(tmp_path / name, n)
    rows = [dict(cells) for cells in source.valid.values()]
    for i in range(changed):
        rows[i]["firstName"] = f"Edited{i}"
        rows[i]["custom.plan"] = "enterprise"
    for i in range(new):
        rows.append({**rows[0], "identifyId": f"N{i:05d}", "email": f"n{i}@example.com"})
    rewrite(source.path, rows)
    return source.path


def read_changes(run_dir: Path) -> list[tuple[str, str, str, str, str]]:
    """changes.csv's lines, sorted (its header checked)."""
    with (run_dir / "changes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["key", "action", "field", "before", "after"]
    return sorted((r[0], r[1], r[2], r[3], r[4]) for r in rows[1:])


def seeded_tenant(sandbox: SandboxThread, tmp_path: Path, n: int) -> tuple[dict[str, str], UserFile]:
    """Import `write_users(n)` (plain run); returns the CLI environment and the file."""
    env = cli_env(sandbox, tmp_path / "state")
    seed = write_users(tmp_path / "seed.csv", n)
    first = run_cli(["import", "users", str(seed.path), "--run-dir", str(tmp_path / "seed-run"), "-q"], env)
    assert first.exit_code == 0, first.output
    return env, seed


def kill_9_after_writes(
    sandbox: SandboxThread, args: list[str], env: dict[str, str], cwd: Path, writes: int
) -> None:
    """`batchgs ARGS` as its own process, killed with SIGKILL once the sandbox has seen `writes` writes
    (the test fails if the process ends first); the process is always reaped."""
    process = spawn(args, env, cwd)
    try:
        if not wait_until(lambda: len(writes_seen(sandbox)) >= writes, process):
            pytest.fail(f"batchgs {args[0]} ended before it could be killed: {process.communicate()}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
