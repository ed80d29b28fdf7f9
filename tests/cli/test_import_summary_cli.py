"""Issue 22.10: the import summary names errors.csv, and rows/s counts only rows the API answered."""

from __future__ import annotations

from pathlib import Path

from tests.cli.cli_helpers import cli_env, run_cli, summary_of
from tests.engine.imports.import_helpers import write_users
from tests.sandbox_types import SandboxFactory


def test_the_summary_names_errors_csv_and_rows_per_second_leaves_invalid_rows_out(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    users = write_users(tmp_path / "users.csv", 60, invalid_every=3)
    run_dir = tmp_path / "run"

    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir)], cli_env(sandbox, tmp_path / "state")
    )

    assert result.exit_code == 1, result.output  # some rows invalid
    assert f"Errors      {run_dir / 'errors.csv'}" in result.stdout
    summary = summary_of(run_dir)
    answered = summary["rows_succeeded"] + summary["rows_failed"] + summary["rows_uncertain"]
    assert summary["rows_invalid"] == len(users.invalid_rows) > 0 and answered == len(users.valid)
    expected = answered / summary["duration_seconds"]
    assert abs(summary["rows_per_second"] - expected) <= 0.05 * expected + 0.1, (summary, expected)


def test_a_clean_import_prints_no_errors_line(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    users = write_users(tmp_path / "users.csv", 5)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir)], cli_env(sandbox, tmp_path / "state")
    )
    assert result.exit_code == 0, result.output
    assert "Errors " not in result.stdout
