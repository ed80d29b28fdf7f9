"""Issue 22.1 end to end: an 18-digit id in an .xlsx never becomes another id at the sandbox.

A workbook written by openpyxl or xlsxwriter stores `123456789012345678` as `1.234567890123457E+17`
(the digits are gone): the row is an error and no user is created under any neighbouring id. A
workbook whose sheet XML holds every digit, and a CSV, create the users under exactly those ids.
Mixed text/number id columns and all-number ones.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_helpers import cli_env, run_cli
from tests.io.read.test_xlsx_digits import (
    ALL_NUMBERS,
    BIG,
    BIGGER,
    MIXED,
    write_exact_digits,
    write_openpyxl,
    write_xlsxwriter,
)
from tests.sandbox_types import SandboxFactory


def _import(sandbox: Any, tmp_path: Path, source: Path) -> Any:
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state")
    return run_cli(["import", "users", str(source), "--run-dir", str(run_dir), "--yes"], env), run_dir


@pytest.mark.parametrize("writer", [write_openpyxl, write_xlsxwriter], ids=["openpyxl", "xlsxwriter"])
@pytest.mark.parametrize("ids", [MIXED, ALL_NUMBERS], ids=["mixed", "all-numbers"])
def test_lost_digits_are_an_error_and_no_other_id_is_created(
    sandbox_factory: SandboxFactory, tmp_path: Path, writer: Any, ids: list[Any]
) -> None:
    sandbox = sandbox_factory()
    result, run_dir = _import(sandbox, tmp_path, writer(tmp_path / "users.xlsx", ids))
    assert result.exit_code == 1, result.output
    assert set(sandbox.store.users) == {str(ids[1]), str(ids[2])}  # only the ids a float64 holds
    with (run_dir / "errors.csv").open(encoding="utf-8", newline="") as handle:
        errors = {(line["_row"], line["_code"]) for line in csv.DictReader(handle)}
    assert errors == {("2", "excel-damaged-id"), ("5", "excel-damaged-id")}


@pytest.mark.parametrize("ids", [MIXED, ALL_NUMBERS], ids=["mixed", "all-numbers"])
def test_digits_in_the_sheet_xml_create_exactly_those_ids(
    sandbox_factory: SandboxFactory, tmp_path: Path, ids: list[Any]
) -> None:
    sandbox = sandbox_factory()
    result, _run_dir = _import(sandbox, tmp_path, write_exact_digits(tmp_path / "users.xlsx", ids))
    assert result.exit_code == 0, result.output
    assert set(sandbox.store.users) == {str(v) for v in ids}
    assert sandbox.store.users[str(BIG)]["accountId"] == str(BIG)


def test_long_ids_in_a_csv_create_exactly_those_ids(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    source = tmp_path / "users.csv"
    source.write_text(
        f"identifyId,email,accountId\n{BIG},a@example.com,{BIGGER}\nuser-7,b@example.com,{BIG}\n",
        encoding="utf-8",
    )
    result, _run_dir = _import(sandbox, tmp_path, source)
    assert result.exit_code == 0, result.output
    assert set(sandbox.store.users) == {str(BIG), "user-7"}
    assert sandbox.store.users[str(BIG)]["accountId"] == str(BIGGER)


def test_a_float_id_is_refused_and_a_code_with_an_e_is_sent(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """Issue 15: `123.0` (pandas wrote the id column as floats) is certain damage; `12E4`, a site code,
    is not scientific notation as a float printer writes it, and is sent as written."""
    sandbox = sandbox_factory()
    source = tmp_path / "users.csv"
    source.write_text(
        "identifyId,email\n123.0,a@example.com\n12E4,b@example.com\n1.23457E+19,c@example.com\n",
        encoding="utf-8",
    )
    result, run_dir = _import(sandbox, tmp_path, source)
    assert result.exit_code == 1, result.output
    assert set(sandbox.store.users) == {"12E4"}
    with (run_dir / "errors.csv").open(encoding="utf-8", newline="") as handle:
        errors = {line["_row"]: (line["_code"], line["_message"]) for line in csv.DictReader(handle)}
    assert errors["2"][0] == "float-id" and "the id was '123'" in errors["2"][1]
    assert errors["4"][0] == "excel-damaged-id" and set(errors) == {"2", "4"}
