"""Issue 22.10, the validate parts: what a newcomer hits on first contact.

- a wrong API key says 401 / refused (also with -q), not only "the catalog could not be fetched";
- a CSV renamed .xlsx is called a CSV, not "not a zip file";
- validate writes its reports to one folder per entity that it replaces (no pile of copies of personal
  data), which `status` describes (exit 0) and `clean` removes;
- one event attribute sent as `100` in one row and `"1,000"` in another is a warning.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_helpers import cli_env, run_cli

USERS = "identifyId,email,custom.plan\nu1,a@example.com,gold\nu2,b@example.com,silver\n"


def test_a_refused_key_says_401_even_with_quiet(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    source = tmp_path / "users.csv"
    source.write_text(USERS, encoding="utf-8")
    env = cli_env(sandbox, tmp_path / "state", GAINSIGHT_PX_API_KEY="not-the-key-at-all")
    for extra in ([], ["-q"]):
        result = run_cli(["validate", "users", str(source), "--run-dir", str(tmp_path / "v"), *extra], env)
        assert result.exit_code == 0, result.output
        assert "the PX API key was refused (401 Unauthorized)" in result.stderr, extra
    result = run_cli(["validate", "users", str(source), "--run-dir", str(tmp_path / "v"), "--json"], env)
    assert any("401" in notice for notice in json.loads(result.stdout)["notices"])


def test_a_csv_renamed_xlsx_is_called_a_csv(tmp_path: Path) -> None:
    source = tmp_path / "users.xlsx"
    source.write_text(USERS, encoding="utf-8")
    result = run_cli(["validate", "users", str(source), "--offline"], {})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"Error: {source}: is named .xlsx but is not a workbook: it is CSV (comma-separated) text"
    )
    assert "not a zip file" not in result.stderr and "Traceback" not in result.stderr


def test_validate_keeps_one_folder_per_entity_that_status_and_clean_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(USERS, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("identifyId,email\nu1,not-an-email\n", encoding="utf-8")
    first = run_cli(["validate", "users", str(bad), "--offline", "--mode", "update"], {})
    assert first.exit_code == 1
    again = run_cli(["validate", "users", str(good), "--offline", "--mode", "update"], {})
    assert again.exit_code == 0
    folders = sorted(p.name for p in (tmp_path / "batchgs-runs").iterdir())
    assert folders == ["validate-users"]  # replaced, not piled up
    folder = tmp_path / "batchgs-runs" / "validate-users"
    with (folder / "errors.csv").open(encoding="utf-8", newline="") as handle:
        assert list(csv.DictReader(handle)) == []  # the second run's report, not the first's
    assert oct(folder.stat().st_mode & 0o777) == "0o700"

    status = run_cli(["status", str(folder)], {})
    assert status.exit_code == 0, status.output
    assert "validated" in status.stdout and "nothing was sent" in status.stdout
    status = run_cli(["status", str(folder), "--json"], {})
    assert json.loads(status.stdout)["rows_total"] == 2

    old = 1_000_000_000  # 2001: older than any --older-than
    for path in [folder, *folder.iterdir()]:
        os.utime(path, (old, old))
    cleaned = run_cli(["clean", "--older-than", "30d", "--yes"], {})
    assert cleaned.exit_code == 0, cleaned.output
    assert not folder.exists()


def test_a_number_written_with_a_separator_among_numbers_is_a_warning(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(
        "eventName,identifyId,propertyKey,attributes.seats\n"
        'signup,u1,AP-1,100\nsignup,u2,AP-1,"1,000"\nsignup,u3,AP-1,7\n',
        encoding="utf-8",
    )
    result = run_cli(["validate", "events", str(source), "--run-dir", str(tmp_path / "v")], {})
    assert result.exit_code == 0, result.output
    assert "3 valid, 0 invalid, 1 with warnings." in result.stdout
    assert "mixed-number-format: 1 problem" in result.stdout
    with (tmp_path / "v" / "warnings.csv").open(encoding="utf-8", newline="") as handle:
        (line,) = list(csv.DictReader(handle))
    assert (line["_row"], line["attributes.seats"], line["_code"]) == ("3", "1,000", "mixed-number-format")
