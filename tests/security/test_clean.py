"""`batchgs clean --older-than AGE`: old run folders go; recent runs, folders that are not batchgs runs,
symlinks and runs a live process holds stay. `--dry-run` lists without deleting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchgs.errors import UsageError
from batchgs.run.cleanup import parse_duration
from batchgs.run.journal import Journal
from tests.cli.cli_helpers import run_cli
from tests.security.sec_helpers import error_lines

DAY = 86_400


def _age(path: Path, days: float) -> None:
    """Set the mtime of `path` and everything in it to `days` ago."""
    when = time.time() - days * DAY
    for dirpath, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.utime(Path(dirpath) / name, (when, when), follow_symlinks=False)
    os.utime(path, (when, when))


def _run_folder(root: Path, name: str, days: float) -> Path:
    folder = root / name
    Journal.create(folder, kind="import", entity="users", input_path=None, options={}).close()
    (folder / "errors.csv").write_text("identifyId,email\nU1,person@example.com\n", encoding="utf-8")
    _age(folder, days)
    return folder


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "batchgs-runs"
    root.mkdir()
    found = {
        "old": _run_folder(root, "users-old", 45),
        "older": _run_folder(root, "accounts-older", 400),
        "recent": _run_folder(root, "users-recent", 3),
        "resumed": _run_folder(root, "users-resumed", 60),
    }
    os.utime(found["resumed"] / "errors.csv")  # touched now: a resume wrote its reports today
    other = root / "my-notes"
    other.mkdir()
    (other / "important.txt").write_text("not a batchgs run", encoding="utf-8")
    _age(other, 90)
    elsewhere = _run_folder(tmp_path / "elsewhere", "users-linked", 90)
    (root / "link-to-run").symlink_to(elsewhere, target_is_directory=True)
    (root / "stray.txt").write_text("a file", encoding="utf-8")
    found |= {"other": other, "elsewhere": elsewhere, "root": root}
    return found


def test_durations() -> None:
    assert parse_duration("30d") == 30 * DAY
    assert parse_duration("12h") == 12 * 3600 and parse_duration("2w") == 14 * DAY
    assert parse_duration(" 1.5D ") == 1.5 * DAY
    for bad in ("30", "30x", "-1d", "0d", "d", "30 days", ""):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_dry_run_lists_and_deletes_nothing(runs: dict[str, Path]) -> None:
    result = run_cli(["clean", "--older-than", "30d", "--dry-run"], {})
    assert result.exit_code == 0, result.output
    assert "would remove" in result.stdout
    listed = [line.split()[2] for line in result.stdout.splitlines() if line.startswith("would remove")]
    assert sorted(Path(p).name for p in listed) == ["accounts-older", "users-old"]
    assert all(path.exists() for path in runs.values())


def test_clean_removes_old_run_folders_only(runs: dict[str, Path]) -> None:
    refused = run_cli(["clean", "--older-than", "30d"], {})  # no terminal and no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr and len(error_lines(refused.stderr)) == 1
    assert runs["old"].exists()
    result = run_cli(["clean", "--older-than", "30d", "--yes", "--json"], {})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert sorted(Path(p).name for p in summary["removed"]) == ["accounts-older", "users-old"]
    assert summary["in_use"] == [] and summary["bytes_freed"] > 0
    assert not runs["old"].exists() and not runs["older"].exists()
    for kept in ("recent", "resumed", "other", "elsewhere"):
        assert runs[kept].exists(), kept
    assert (runs["other"] / "important.txt").exists() and (runs["root"] / "stray.txt").exists()
    assert (runs["root"] / "link-to-run").is_symlink() and (runs["elsewhere"] / "journal.sqlite3").exists()
    # a shorter age takes the 3-day-old run; the one resumed today and the non-run folder stay
    again = run_cli(["clean", "--older-than", "2d", "--yes"], {})
    assert again.exit_code == 0 and not runs["recent"].exists()
    assert runs["resumed"].exists() and runs["other"].exists()


_HOLD = """
import sys
from batchgs.run.journal import Journal
journal = Journal.open(sys.argv[1])  # takes the run lock, as a running import or resume does
print("holding", flush=True)
sys.stdin.readline()
journal.close()
"""


def test_a_folder_held_by_a_running_process_is_kept(runs: dict[str, Path], tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(runs["old"])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        _age(runs["old"], 45)  # opening the journal touched it
        result = run_cli(["clean", "--older-than", "30d", "--yes"], {})
        assert result.exit_code == 1, result.output
        assert "skipped batchgs-runs/users-old: in use by a running batchgs process" in result.stderr
        assert runs["old"].exists() and (runs["old"] / "journal.sqlite3").exists()
        assert not runs["older"].exists()
        dry = run_cli(["clean", "--older-than", "30d", "--dry-run"], {})
        assert "in use" in dry.stderr and runs["old"].exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    _age(runs["old"], 45)
    done = run_cli(["clean", "--older-than", "30d", "--yes"], {})  # released: now it goes
    assert done.exit_code == 0 and not runs["old"].exists()


def test_runs_root_option_and_a_missing_root(tmp_path: Path) -> None:
    root = tmp_path / "elsewhere-runs"
    root.mkdir()
    old = _run_folder(root, "export-users", 31)
    assert run_cli(["clean", "--older-than", "30d", "--runs-root", str(root), "--yes"], {}).exit_code == 0
    assert not old.exists()
    missing = run_cli(["clean", "--older-than", "30d", "--runs-root", str(tmp_path / "none"), "--yes"], {})
    assert missing.exit_code == 0 and "0 run folder(s) removed" in missing.stdout
    bad = run_cli(["clean", "--older-than", "soon"], {})
    assert bad.exit_code == 2 and len(error_lines(bad.stderr)) == 1 and "12h" in bad.stderr
