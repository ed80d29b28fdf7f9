"""The files of `--changed-only` and `undo` hold personal data (records as they were, values before and
after): like every run-folder file they are private (0600 in 0700 folders) even under umask 000 — the
dry run's plan folder, the run's changes.csv/changes.xlsx and before_images.sqlite3, and the undo's."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from tests.cli.cli_helpers import cli_env, run_cli
from tests.security.sec_helpers import modes, write_table

HEADERS = ["identifyId", "email", "firstName", "lastName"]


def private(root: Path) -> dict[str, tuple[str, str]]:
    """Everything under `root` that is not 0700 (folders) / 0600 (files)."""
    return {
        path: (kind, oct(mode))
        for path, (kind, mode) in modes(root).items()
        if mode != (0o700 if kind == "dir" else 0o600)
    }


def test_changes_and_before_images_are_private(sandbox_factory, tmp_path: Path) -> None:
    previous = os.umask(0)  # umask 000: without explicit modes every file would be world-readable
    try:
        check_folders(sandbox_factory, tmp_path)
    finally:
        os.umask(previous)


def check_folders(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    rows = [[f"U{i}", f"person{i}@example.com", "Ada", f"Name{i}"] for i in range(6)]
    seed = write_table(tmp_path / "seed.xlsx", HEADERS, rows)
    assert (
        run_cli(["import", "users", str(seed), "--run-dir", str(tmp_path / "r0"), "-q"], env).exit_code == 0
    )
    rows[1][2] = "Grace"
    edit = write_table(tmp_path / "edit.xlsx", HEADERS, [*rows, ["U9", "new@example.com", "Alan", "Turing"]])
    plan = run_cli(
        ["import", "users", str(edit), "--changed-only", "--dry-run", "--run-dir", str(tmp_path / "p")], env
    )
    assert plan.exit_code == 0, plan.output
    run = run_cli(
        ["import", "users", str(edit), "--changed-only", "--run-dir", str(tmp_path / "r1"), "-q"], env
    )
    assert run.exit_code == 0, run.output
    undo = run_cli(["undo", str(tmp_path / "r1"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output
    names = {p.name for p in (tmp_path / "r1").iterdir()}
    assert {"changes.csv", "changes.xlsx", "before_images.sqlite3"} <= names
    assert {"changes.csv", "before_images.sqlite3"} <= {p.name for p in (tmp_path / "u").iterdir()}
    for folder in ("p", "r0", "r1", "u"):
        assert private(tmp_path / folder) == {}, folder
    assert stat.S_IMODE((tmp_path / "p" / "changes.csv").stat().st_mode) == 0o600


def test_clean_removes_the_plan_folders_of_dry_runs(sandbox_factory, tmp_path: Path) -> None:
    """A --changed-only or undo dry run leaves changes.csv (values before and after) in a folder of its
    own: its summary.json (kind "plan") makes it a folder `batchgs clean` removes like a run folder."""
    sandbox = sandbox_factory(rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    runs = tmp_path / "batchgs-runs"
    users = write_table(tmp_path / "u.csv", HEADERS, [["U1", "a@example.com", "Ada", "Lovelace"]])
    assert run_cli(["import", "users", str(users), "--run-dir", str(runs / "r0"), "-q"], env).exit_code == 0
    args = ["--changed-only", "--dry-run", "--run-dir", str(runs / "plan")]
    assert run_cli(["import", "users", str(users), *args], env).exit_code == 0
    assert (
        run_cli(["undo", str(runs / "r0"), "--dry-run", "--run-dir", str(runs / "undo-plan")], env).exit_code
        == 0
    )
    summary = json.loads((runs / "plan" / "summary.json").read_text(encoding="utf-8"))
    assert summary["kind"] == "plan" and summary["plan"]["unchanged"] == 1
    assert json.loads((runs / "undo-plan" / "summary.json").read_text(encoding="utf-8"))["plan"]["send"] == 1
    old = time.time() - 40 * 86_400
    for folder in runs.iterdir():
        for path in [folder, *folder.iterdir()]:
            os.utime(path, (old, old))
    cleaned = run_cli(["clean", "--runs-root", str(runs), "--older-than", "30d", "--yes"], env)
    assert cleaned.exit_code == 0, cleaned.output
    assert list(runs.iterdir()) == []
