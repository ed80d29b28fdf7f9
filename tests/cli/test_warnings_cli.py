"""Issue 15.1 end to end: a guess never blocks a row the API accepts.

A users file with international postal codes and mixed-width numeric ids, as CSV and as XLSX with
number cells, imports with exit 0 and every value is stored at the sandbox exactly as written; the
rows that only look suspicious are listed in warnings.csv and counted as `rows_warned`.
`--strict-warnings` (or `strict_warnings = true` in the profile) refuses them instead.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.cli.cli_helpers import cli_env, run_cli, summary_of

# identifyId: most are zero-padded to 8 digits; 900050 and 7001 are other people, not damaged ids
IDS = [
    *("00000005", "00000017", "00000123", "900050", "7001", "00004711", "00000042", "00000777"),
    *("00000999", "31337", "00001000", "4", "00000064", "00123456"),
]
# US, Zurich, Sydney, Oslo, UK, Portugal, Canada, Paris, India, Singapore, Brazil, Japan, Poland, NL
POSTAL = [
    *("02139", "8001", "2000", "0150", "SW1A 1AA", "1010-123", "H3Z 2Y7", "75001"),
    *("110001", "018956", "01310-100", "100-0001", "00-950", "1012 AB"),
]
# spreadsheet rows of the ids shorter than the padded width: other people, sent as written
WARNED_ROWS = {5: "900050", 6: "7001", 11: "31337", 13: "4"}
NUMBER_CELLS = {"900050", "7001", "31337", "4", "8001", "2000", "75001", "110001"}  # numbers in the .xlsx


def write_file(path: Path) -> Path:
    header = ["identifyId", "email", "location.postalCode", "location.city"]
    rows = [
        [uid, f"user{n}@example.com", code, "City"]
        for n, (uid, code) in enumerate(zip(IDS, POSTAL, strict=True))
    ]
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        return path
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append([int(cell) if cell in NUMBER_CELLS else cell for cell in row])
    book.save(path)
    return path


def import_file(
    sandbox: Any, tmp_path: Path, source: Path, *extra: str, env: dict[str, str] | None = None
) -> Any:
    run_dir = tmp_path / f"run-{source.suffix[1:]}{len(extra)}"
    result = run_cli(
        ["import", "users", str(source), "--run-dir", str(run_dir), "--json", *extra],
        env or cli_env(sandbox, tmp_path / "state"),
    )
    return result, run_dir


def warning_lines(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_international_postal_codes_and_mixed_width_ids_import_exactly(
    sandbox_factory: Any, tmp_path: Path, suffix: str
) -> None:
    sandbox = sandbox_factory()
    source = write_file(tmp_path / f"users{suffix}")
    result, run_dir = import_file(sandbox, tmp_path, source)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_succeeded"] == len(IDS) and summary["rows_invalid"] == 0
    assert summary["rows_warned"] == len(WARNED_ROWS) == summary_of(run_dir)["rows_warned"]
    assert set(sandbox.store.users) == set(IDS)  # no id padded, trimmed or turned into a float
    stored = {uid: sandbox.store.users[uid] for uid in IDS}
    assert [stored[uid]["location"]["postalCode"] for uid in IDS] == POSTAL
    lines = warning_lines(run_dir / "warnings.csv")
    assert {int(line["_row"]): line["identifyId"] for line in lines} == WARNED_ROWS
    assert {line["_code"] for line in lines} == {"excel-lost-leading-zeros"}
    assert list(lines[0])[:4] == ["identifyId", "email", "location.postalCode", "location.city"]
    assert "if Excel dropped leading zeros it was '00900050'" in lines[0]["_message"]
    assert "excel-lost-leading-zeros: 4 problems" in result.stderr  # shown before sending, grouped
    assert "row 5, identifyId:" in result.stderr


def test_strict_warnings_refuses_the_suspicious_rows(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    source = write_file(tmp_path / "users.csv")
    result, run_dir = import_file(sandbox, tmp_path, source, "--strict-warnings")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["rows_invalid"] == len(WARNED_ROWS)
    assert set(sandbox.store.users) == set(IDS) - set(WARNED_ROWS.values())
    with (run_dir / "errors.csv").open(encoding="utf-8", newline="") as handle:
        errors = {int(line["_row"]): line["_code"] for line in csv.DictReader(handle)}
    assert errors == dict.fromkeys(WARNED_ROWS, "excel-lost-leading-zeros")


def test_the_profile_setting_turns_warnings_into_errors(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory()
    source = write_file(tmp_path / "users.csv")
    (tmp_path / "batchgs.toml").write_text("[default]\nstrict_warnings = true\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run_cli(
        ["validate", "users", str(source), "--run-dir", str(tmp_path / "v")], cli_env(sandbox, tmp_path / "s")
    )
    assert result.exit_code == 1, result.output
    assert "excel-lost-leading-zeros: 4 problems" in result.stdout and "4 invalid" in result.stdout
    relaxed = run_cli(
        ["validate", "users", str(source), "--run-dir", str(tmp_path / "w")], cli_env(sandbox, tmp_path / "s")
    )
    assert relaxed.exit_code == 1  # the profile wins when the option is not given
    (tmp_path / "batchgs.toml").unlink()
    relaxed = run_cli(
        ["validate", "users", str(source), "--run-dir", str(tmp_path / "x")], cli_env(sandbox, tmp_path / "s")
    )
    assert relaxed.exit_code == 0, relaxed.output
    assert "0 invalid, 4 with warnings" in relaxed.stdout
    assert (tmp_path / "x" / "warnings.csv").is_file()
