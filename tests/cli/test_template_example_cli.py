"""Issue 22.3: a template's example row is never sent, and the placeholder product key is refused.

`template users -o users.xlsx` writes row 2 as an example (user-000123, Ada Lovelace, propertyKeys
AP-XXXXXXXXXX-2) marked in the `_example` column. validate and import skip it and say so; a row
someone adds below is sent (with --product-key), and `AP-XXXXXXXXXX-2` typed as data is refused.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl

from tests.cli.cli_helpers import cli_env, run_cli, writes_seen


def test_the_example_row_of_a_template_is_never_sent(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    template = tmp_path / "users.xlsx"
    assert run_cli(["template", "users", "-o", str(template)], env).exit_code == 0
    checked = run_cli(["validate", "users", str(template), "--run-dir", str(tmp_path / "v"), "--json"], env)
    assert checked.exit_code == 0, checked.output
    data = json.loads(checked.stdout)
    assert data["rows_total"] == 0 and data["payloads"] == []
    assert any("_example" in notice and "never sent" in notice for notice in data["notices"])

    book = openpyxl.load_workbook(template)
    sheet = book["users"]
    header = [cell.value for cell in sheet[1]]
    sheet.append([{"identifyId": "real-1", "email": "real@example.com"}.get(str(name)) for name in header])
    book.save(template)
    result = run_cli(["import", "users", str(template), "--run-dir", str(tmp_path / "run")], env)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["rows_total"] == 1
    assert "template's example rows: skipped, never sent" in result.stderr  # says so
    assert set(sandbox.store.users) == {"real-1"}
    assert sandbox.store.users["real-1"]["propertyKeys"] == [env["GAINSIGHT_PX_PRODUCT_KEY"]]
    assert "user-000123" not in sandbox.store.users


def test_the_placeholder_product_key_is_refused_with_a_clear_message(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    source = tmp_path / "users.csv"
    source.write_text("identifyId,propertyKeys\nu1,AP-XXXXXXXXXX-2\nu2,\n", encoding="utf-8")
    result = run_cli(
        ["import", "users", str(source), "--run-dir", str(tmp_path / "run"), "--quiet"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code == 1, result.output
    with (tmp_path / "run" / "errors.csv").open(encoding="utf-8", newline="") as handle:
        (line,) = list(csv.DictReader(handle))
    assert (line["_row"], line["_code"]) == ("2", "placeholder-value")
    assert "'AP-XXXXXXXXXX-2' is the placeholder of the documentation and templates" in line["_message"]
    assert set(sandbox.store.users) == {"u2"}
    assert len(writes_seen(sandbox)) == 1  # only u2 was sent
