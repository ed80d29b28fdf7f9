"""Issue 15 "Also": errors.csv protects cells a spreadsheet would run as a formula with a leading `'`,
and batchgs removes that quote when the fixed errors.csv is imported back: the API receives the
value as first written, not the protected form."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.cli.cli_helpers import cli_env, run_cli

ROWS = [
    ["identifyId", "email", "firstName", "phone", "title"],
    ["u1", "broken-email", "=1+1", "+33 1 23 45 67 89", "@home"],
    ["u2", "ok@example.com", "Ana", "-5", "-"],
]


def test_formula_cells_are_quoted_in_errors_csv_and_unquoted_when_fed_back(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    source = tmp_path / "users.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(ROWS)
    first = run_cli(["import", "users", str(source), "--run-dir", str(tmp_path / "r1"), "--quiet"], env)
    assert first.exit_code == 1, first.output
    report = tmp_path / "r1" / "errors.csv"
    with report.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [(x["firstName"], x["phone"], x["title"]) for x in lines] == [
        ("'=1+1", "'+33 1 23 45 67 89", "'@home")
    ]

    fixed = report.read_text(encoding="utf-8").replace("broken-email", "fixed@example.com")
    report.write_text(fixed, encoding="utf-8")
    second = run_cli(["import", "users", str(report), "--run-dir", str(tmp_path / "r2"), "--quiet"], env)
    assert second.exit_code == 0, second.output
    stored = sandbox.store.users["u1"]
    assert (stored["firstName"], stored["phone"], stored["title"]) == ("=1+1", "+33 1 23 45 67 89", "@home")
    assert stored["email"] == "fixed@example.com"
    assert sandbox.store.users["u2"]["phone"] == "-5"  # a plain number is never quoted
