"""`batchgs validate` end to end on real-world-shaped files: exact rows, codes, payloads, exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result

from batchgs.cli.main import cli

HEADER = [
    "Identify ID",
    "Email",
    "First Name",
    "Type",
    "Sign Up Date",
    "Score",
    "location.city",
    "custom.plan",
    "propertyKeys",
]
ROWS = [
    ["U001", "ana@example.com", "Ana", "user", "2024-03-31 09:30", "12.5", "Paris", "gold", "AP-1"],
    ["U002", "bob@example", "Bob", "USER", "31/03/2024", "7", "Lyon", "", "AP-1"],
    ["U003", "chloé@example.com", "Chloé", "Customer", "2024-10-27 02:30", "", "Köln", "silver", "AP-1"],
    ["U001", "dup@example.com", "Dup", "LEAD", "", "", "", "", "AP-1"],
    ["1,23E+15", "f@example.com", "Fay", "USER", "", "", "", "", "AP-1"],
    ["", "g@example.com", "Gus", "USER", "", "", "", "", "AP-1"],
    ["U008", "e@example.com", "Eve", "USER", "2024-03-31 02:15", "", "", "", "AP-1"],
]
EXPECTED_CODES = {
    3: ["bad-email"],
    4: ["bad-enum"],
    5: ["duplicate-key"],
    6: ["excel-damaged-id"],
    7: ["missing-required"],
    8: ["bad-date"],
}
EXPECTED_PAYLOADS = [
    {
        "identifyId": "U001",
        "email": "ana@example.com",
        "firstName": "Ana",
        "type": "USER",
        "signUpDate": 1711870200000,  # 09:30 CEST = 07:30Z
        "score": 12.5,
        "location": {"city": "Paris"},
        "customAttributes": {"plan": "gold"},
        "propertyKeys": ["AP-1"],
    }
]


def write_text(path: Path, *, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\n") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=newline)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    return path


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["validate", *map(str, args)])


def summary(result: Result) -> dict[str, Any]:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def error_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("plain.csv", {}),
        ("excel-utf8-bom-semicolon.csv", {"delimiter": ";", "encoding": "utf-8-sig", "newline": "\r\n"}),
        ("unicode-text.txt", {"delimiter": "\t", "encoding": "utf-16", "newline": "\r\n"}),
        ("pipes.csv", {"delimiter": "|"}),
    ],
)
def test_text_files_give_the_exact_invalid_rows_and_payloads(
    tmp_path: Path, name: str, options: dict[str, str]
) -> None:
    source = write_text(tmp_path / name, **options)
    run_dir = tmp_path / "run"
    result = invoke(
        "users", source, "--timezone", "Europe/Paris", "--run-dir", run_dir, "--json", "--show-payload", "1"
    )
    assert result.exit_code == 1, result.stderr
    data = summary(result)
    assert (data["rows_total"], data["rows_valid"], data["rows_invalid"]) == (7, 1, 6)
    assert data["payloads"] == EXPECTED_PAYLOADS
    assert data["issues_by_code"] == {code[0]: 1 for code in EXPECTED_CODES.values()}
    lines = error_rows(run_dir / "errors.csv")
    assert {int(line["_row"]): [line["_code"]] for line in lines} == EXPECTED_CODES
    assert [lines[0][h] for h in HEADER] == ROWS[1]  # the original cells, unchanged
    assert lines[0]["_message"] == "Email: 'bob@example' is not an email address"
    assert lines[2]["_message"] == "Identify ID: 'U001' already appears in row 2"
    assert lines[5]["_message"] == (
        "Sign Up Date: '2024-03-31 02:15' does not exist in Europe/Paris "
        "(the clocks skip that hour for daylight saving)"
    )
    assert lines[0]["_http_status"] == ""


def test_dst_and_day_first_payloads(tmp_path: Path) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(
        "identifyId,signUpDate,firstVisitDate,propertyKeys\n"
        "U1,2024-10-27 02:30,31/03/2024,AP-1\n"
        "U2,2024-03-10T02:59:59-05:00,2024-03-31T03:00:00,AP-1\n",
        encoding="utf-8",
    )
    result = invoke(
        "users",
        source,
        "--timezone",
        "Europe/Paris",
        "--report",
        tmp_path / "e.csv",
        "--json",
        "--show-payload",
        "5",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary(result)["payloads"] == [
        {
            "identifyId": "U1",
            "signUpDate": 1729989000000,
            "firstVisitDate": 1711839600000,
            "propertyKeys": ["AP-1"],
        },
        {
            "identifyId": "U2",
            "signUpDate": 1710057599000,
            "firstVisitDate": 1711846800000,
            "propertyKeys": ["AP-1"],
        },
    ]
    assert error_rows(tmp_path / "e.csv") == []


def test_typed_xlsx_and_errors_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "People"
    sheet.append(
        ["identifyId", "email", "signUpDate", "score", "globalUnsubscribe", "accountId", "propertyKeys"]
    )
    sheet.append(["U1", "a@x.io", dt.datetime(2024, 7, 1, 9, 30), 3, True, 1001, "AP-1"])
    sheet.append(
        ["U2", "b@x.io", dt.datetime(2024, 1, 1), 2.5, False, 1234567890123456789, "AP-1"]
    )  # a 19-digit id as a number cell: the file holds 1.234567890123457e+18, the digits are gone
    sheet.append(["U3", "c@x.io", "2024-13-01", "lots", "perhaps", 1003, "AP-1"])
    source = tmp_path / "people.xlsx"
    book.save(source)
    run_dir = tmp_path / "run"
    result = invoke(
        "users",
        source,
        "--sheet",
        "People",
        "--timezone",
        "America/New_York",
        "--run-dir",
        run_dir,
        "--json",
        "--show-payload",
        "1",
    )
    assert result.exit_code == 1, result.stderr
    data = summary(result)
    assert data["payloads"] == [
        {
            "identifyId": "U1",
            "email": "a@x.io",
            "signUpDate": 1719840600000,  # 09:30 EDT = 13:30Z
            "score": 3,
            "globalUnsubscribe": True,
            "accountId": "1001",
            "propertyKeys": ["AP-1"],
        }
    ]
    lines = error_rows(run_dir / "errors.csv")
    assert [(line["_row"], line["_code"]) for line in lines] == [("3", "excel-damaged-id"), ("4", "bad-date")]
    assert lines[1]["_message"] == (
        "signUpDate: '2024-13-01' is not a real date; score: 'lots' is not a number; "
        "globalUnsubscribe: 'perhaps' is not a boolean (use true/yes/y/1 or false/no/n/0)"
    )
    assert (run_dir / "errors.xlsx").is_file()
    assert data["errors_xlsx"] == str(run_dir / "errors.xlsx")


def test_errors_csv_feeds_back_as_is(tmp_path: Path) -> None:
    source = write_text(tmp_path / "in.csv")
    invoke("users", source, "--timezone", "Europe/Paris", "--run-dir", tmp_path / "first")
    again = invoke(
        "users",
        tmp_path / "first" / "errors.csv",
        "--timezone",
        "Europe/Paris",
        "--run-dir",
        tmp_path / "second",
    )
    assert again.exit_code == 1, again.stderr
    codes = {int(line["_row"]): line["_code"] for line in error_rows(tmp_path / "second" / "errors.csv")}
    # _row/_code/_message/_http_status are ignored; the duplicate's first occurrence is not in the file
    assert codes == {
        2: "bad-email",
        3: "bad-enum",
        5: "excel-damaged-id",
        6: "missing-required",
        7: "bad-date",
    }


def test_human_summary_groups_by_code(tmp_path: Path) -> None:
    source = write_text(tmp_path / "in.csv")
    result = invoke(
        "users", source, "--timezone", "Europe/Paris", "--run-dir", tmp_path / "run", "--show-payload", "1"
    )
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[0] == f"Validated 7 rows of {source} (users, --mode upsert): 1 valid, 6 invalid."
    assert "  bad-email: 1 problem" in out
    assert "    row 3, Email: 'bob@example' is not an email address" in out
    assert f"Errors: {tmp_path / 'run' / 'errors.csv'}" in out
    assert json.loads("\n".join(out[out.index("{") :])) == EXPECTED_PAYLOADS[0]


def test_strict_exits_3_and_a_clean_file_exits_0(tmp_path: Path) -> None:
    source = write_text(tmp_path / "in.csv")
    strict = invoke("users", source, "--strict", "--run-dir", tmp_path / "a")
    assert strict.exit_code == 3
    assert (
        strict.stderr.strip().splitlines()[-1] == "Error: 5 invalid row(s) with --strict"
    )  # UTC: no DST gap
    clean = tmp_path / "clean.csv"
    clean.write_text("identifyId,email\nU1,a@x.io\n", encoding="utf-8")
    ok = invoke("users", clean, "--mode", "update", "--strict", "--run-dir", tmp_path / "b")
    assert ok.exit_code == 0, ok.stderr
    assert (
        ok.stdout.splitlines()[0] == f"Validated 1 row of {clean} (users, --mode update): 1 valid, 0 invalid."
    )


def test_product_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "events.csv"
    source.write_text("identifyId,eventName,attributes.n\nU1,Paid,3\n", encoding="utf-8")
    missing = invoke("events", source, "--run-dir", tmp_path / "a")
    assert missing.exit_code == 2
    assert (
        "missing required column for events --mode insert: propertyKey (or --product-key)" in missing.stderr
    )
    monkeypatch.setenv("GAINSIGHT_PX_PRODUCT_KEY", "AP-ENV")
    result = invoke("events", source, "--run-dir", tmp_path / "b", "--json", "--show-payload", "1")
    assert result.exit_code == 0, result.stderr
    assert summary(result)["payloads"] == [
        {
            "identifyId": "U1",
            "eventName": "Paid",
            "attributes": {"n": 3},
            "userType": "USER",
            "propertyKey": "AP-ENV",
        }
    ]


def test_map_file(tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    source.write_text("Contact,Mail,Notes\nC-1,a@x.io,vip\n", encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        'ignore = ["Notes"]\n[columns]\nContact = "identifyId"\nMail = "email"\n'
        '[constants]\npropertyKeys = "AP-7"\n',
        encoding="utf-8",
    )
    result = invoke(
        "users", source, "--map", mapping, "--run-dir", tmp_path / "run", "--json", "--show-payload", "1"
    )
    assert result.exit_code == 0, result.stderr
    assert summary(result)["payloads"] == [{"identifyId": "C-1", "email": "a@x.io", "propertyKeys": ["AP-7"]}]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (None, ".csv", "does not exist"),
        (b"PK\x03\x04 not really a workbook", ".xlsx", ""),
        (
            b"identifyId,Emial\nU1,a@x.io\n",
            ".csv",
            "unknown column for users: 'Emial' (did you mean 'email'?)",
        ),
        (b"a,b\n1,2\n", ".xls", "legacy Excel"),
    ],
)
def test_unreadable_input_is_one_line_exit_2(
    tmp_path: Path, content: bytes | None, suffix: str, message: str
) -> None:
    path = tmp_path / f"input{suffix}"
    if content is not None:
        path.write_bytes(content)
    result = invoke("users", path, "--run-dir", tmp_path / "run")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {path}") and message in first
    assert not (tmp_path / "run" / "errors.csv").exists()


def test_unknown_entity_and_mode(tmp_path: Path) -> None:
    source = write_text(tmp_path / "in.csv")
    result = invoke("user", source)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: unknown entity 'user'",
        "Hint: did you mean 'users'? known entities: users, accounts, events, preferences, ctas, cs-events",
    ]
    result = invoke("preferences", source, "--mode", "delete")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: --mode delete is not available for preferences"
