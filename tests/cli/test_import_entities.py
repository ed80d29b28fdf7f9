"""Accounts, preferences and .xlsx input through `batchgs import`: what lands, and the xlsx error report."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl

from tests.cli.cli_helpers import cli_env, run_cli, writes_seen

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_accounts_land_with_nested_and_custom_fields_then_update(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    result = run_cli(
        ["import", "accounts", str(SAMPLES / "accounts.csv"), "--run-dir", str(tmp_path / "r")], env
    )
    assert result.exit_code == 0, result.output
    with (SAMPLES / "accounts.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert set(sandbox.store.accounts) == {row["id"] for row in rows}
    first = sandbox.store.accounts[rows[0]["id"]]
    assert first["name"] == rows[0]["name"] and first["location"]["city"] == rows[0]["location.city"]
    assert first["customAttributes"]["tier"] == rows[0]["custom.tier"]

    renamed = tmp_path / "rename.csv"
    with renamed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "name"], [rows[0]["id"], "Acme Renamed"]])
    sandbox.reset_stats()
    result = run_cli(
        ["import", "accounts", str(renamed), "--mode", "update", "--run-dir", str(tmp_path / "r2")], env
    )
    assert result.exit_code == 0, result.output
    after = sandbox.store.accounts[rows[0]["id"]]
    assert after["name"] == "Acme Renamed" and after["location"]["city"] == rows[0]["location.city"]
    assert [w[1] for w in writes_seen(sandbox)] == ["PUT"]


def test_preferences_blank_means_unchanged(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    users = tmp_path / "users.csv"
    with users.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["identifyId", "email"], ["P1", "p1@example.com"], ["P2", "p2@example.com"]]
        )
    assert run_cli(["import", "users", str(users), "--run-dir", str(tmp_path / "u")], env).exit_code == 0
    prefs = tmp_path / "prefs.csv"
    with prefs.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [["identifyId", "trackUsage", "surveys"], ["P1", "false", ""], ["P2", "", "0"]]
        )
    result = run_cli(["import", "preferences", str(prefs), "--run-dir", str(tmp_path / "p")], env)
    assert result.exit_code == 0, result.output
    stored = sandbox.store.preferences
    assert stored["P1"]["trackUsage"] is False and stored["P1"].get("surveys", True) is True
    assert stored["P2"]["surveys"] is False and stored["P2"].get("trackUsage", True) is True


def test_xlsx_input_gets_an_errors_xlsx_with_the_original_cells(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    book = tmp_path / "users.xlsx"
    shutil.copy(SAMPLES / "users.xlsx", book)
    workbook = openpyxl.load_workbook(book)
    sheet = workbook.active
    assert sheet is not None
    headers = [cell.value for cell in sheet[1]]
    email_col = headers.index("Email") + 1 if "Email" in headers else None
    assert email_col is not None, headers
    sheet.cell(row=3, column=email_col, value="not-an-email")
    workbook.save(book)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(book), "--run-dir", str(run_dir)], cli_env(sandbox, tmp_path / "s")
    )
    assert result.exit_code == 1, result.output
    report = openpyxl.load_workbook(run_dir / "errors.xlsx", read_only=True)
    report_sheet = report.active
    assert report_sheet is not None
    lines = list(report_sheet.iter_rows(values_only=True))
    assert list(lines[0][: len(headers)]) == headers and "_row" in lines[0] and "_code" in lines[0]
    assert len(lines) == 2 and lines[1][lines[0].index("_row")] in (3, "3")
    assert lines[1][email_col - 1] == "not-an-email"
    assert len(sandbox.store.users) == sheet.max_row - 2
