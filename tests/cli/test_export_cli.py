"""`batchgs export` as a user runs it: options, exit codes, one-line errors, formats read back,
formula neutralisation, ctas handed to the CS export, and an export → edit → import round trip."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchgs.cli import cs_export
from batchgs.entities import registry
from batchgs.io.write.safe_cells import is_formula_like
from batchgs.run.journal import Journal
from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.export.export_helpers import FORMULAS, add_formula_users, csv_header, read_csv, seeded_store


@pytest.fixture
def users_sandbox(sandbox_factory: Any) -> Any:
    store = seeded_store(users=300, accounts=10)
    add_formula_users(store, every=50)
    return sandbox_factory(store=store, rate_limit=0)


def test_existing_output_is_refused_without_force_and_left_untouched(users_sandbox, tmp_path: Path) -> None:
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "users.csv"
    out.write_text("keep me\n", encoding="utf-8")
    result = run_cli(["export", "users", "-o", str(out), "--run-dir", str(tmp_path / "r1")], env)
    assert result.exit_code == 2
    assert "already exists" in result.output and "Hint: use --force" in result.output
    assert "Traceback" not in result.output
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert not (tmp_path / "r1").exists() and users_sandbox.stats()["requests_total"] == 0
    result = run_cli(
        ["export", "users", "-o", str(out), "--force", "--run-dir", str(tmp_path / "r2"), "-q"], env
    )
    assert result.exit_code == 0 and len(read_csv(out)) == 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "user", "-o", "x.csv"], "did you mean 'users'"),
        (["export", "users", "-o", "x.txt"], "cannot tell the output format"),
        (["export", "users", "-o", "x.csv", "--filter", "plan=pro"], "is not field<op>value"),
        (["export", "users", "-o", "x.csv", "--sort", "last name"], "is not a field name"),
        (["export", "users", "-o", "x.csv", "--deleted"], "--deleted is for ctas only"),
        (["export", "accounts", "-o", "x.csv", "--since", "2024-01-01"], "are for the event histories"),
        (["export", "sessions", "-o", "x.csv", "--since", "yesterday"], "is not a date"),
        (["export", "users", "-o", "x.csv", "--slices", "0"], "--slices must be between 1 and 64"),
        (["export", "users", "-o", "x.xlsx", "--bom"], "--bom is for .csv output"),
        (["export", "preferences", "-o", "x.csv", "--sort", "identifyId"], "--sort is not available"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    users_sandbox, tmp_path: Path, args: list[str], message: str, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = cli_env(users_sandbox, tmp_path / "state")
    result = run_cli(args, env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert not list(tmp_path.glob("x.*")) and not (tmp_path / "batchgs-runs").exists()


def test_ids_only_for_per_user_entities(users_sandbox, tmp_path: Path) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("identifyId\nuser-000001\n", encoding="utf-8")
    env = cli_env(users_sandbox, tmp_path / "state")
    result = run_cli(["export", "users", "-o", str(tmp_path / "u.csv"), "--ids", str(ids)], env)
    assert result.exit_code == 2 and "--ids is for preferences and denylist" in result.output


def test_missing_key_is_exit_2_and_a_refused_key_exit_4_without_output(users_sandbox, tmp_path: Path) -> None:
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "u.csv"
    no_key = {k: v for k, v in env.items() if k != "GAINSIGHT_PX_API_KEY"}
    assert run_cli(["export", "users", "-o", str(out)], no_key).exit_code == 2
    env["GAINSIGHT_PX_API_KEY"] = "wrong-key-value"
    run_dir = tmp_path / "run"
    result = run_cli(["export", "users", "-o", str(out), "--run-dir", str(run_dir), "-q"], env)
    assert result.exit_code == 4 and "wrong-key-value" not in result.output
    assert f"batchgs resume {run_dir}" in result.output
    assert not out.exists()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "paused" and summary["status_reason"] == "fatal-api-error"


def test_filter_or_sort_columns_and_json_summary(users_sandbox, tmp_path: Path) -> None:
    store = users_sandbox.store
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "some.csv"
    args = ["export", "users", "-o", str(out), "--filter", "customAttributes.plan==team;type==USER"]
    args += ["--filter", "score>95", "--columns", "identifyId,email,location,customAttributes.plan"]
    args += ["--sort", "lastName;-createDate", "--json", "--run-dir", str(tmp_path / "r")]
    result = run_cli(args, env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["unknown_columns"] == []
    expected = [
        u
        for u in store.users.values()
        if (u["customAttributes"]["plan"] == "team" and u["type"] == "USER") or u["score"] > 95
    ]
    expected.sort(key=lambda u: -u["createDate"])
    expected.sort(key=lambda u: u["lastName"].lower())
    rows = read_csv(out)
    assert [r["identifyId"] for r in rows] == [u["identifyId"] for u in expected]
    assert summary["rows_exported"] == len(expected) and summary["total_hits"] == len(expected)
    locations = [c.name for c in registry.get("users").columns if c.name.startswith("location.")]
    assert len(locations) == 12  # a documented column is there even when no record has a value
    assert csv_header(out) == ["identifyId", "email", *locations, "customAttributes.plan"]


@pytest.mark.parametrize(
    ("entity", "args", "message", "hint"),
    [
        ("users", ["--filter", "plan==Gold"], "users have no field 'plan'", "'customAttributes.plan'"),
        ("users", ["--columns", "identifyId,emial"], "users have no field 'emial'", "'email'"),
        ("users", ["--sort", "-lastName;creationDate"], "no field 'creationDate'", "'createDate'"),
        ("users", ["--filter", "signUpDate>=03/04/2024"], "is not a date PX can compare", "ISO date"),
        ("users", ["--filter", "customAttributes.trialEndDate<31.12.2026"], "not a date", "ISO"),
        ("users", ["--filter", "score>high"], "score is a number, 'high' is not", None),
        ("users", ["--filter", "customAttributes.isBeta==yes"], "is true or false", None),
        ("accounts", ["--filter", "tier==gold"], "accounts have no field 'tier'", "'customAttributes.tier'"),
        ("preferences", ["--filter", "emial~*@example.com"], "users have no field 'emial'", "'email'"),
        ("preferences", ["--columns", "identifyId,trackusage,surveyz"], "no field 'surveyz'", "'surveys'"),
    ],
)
def test_unknown_fields_and_unreadable_values_are_usage_errors_before_anything_is_written(
    users_sandbox, tmp_path: Path, entity: str, args: list[str], message: str, hint: str | None
) -> None:
    """Issue 22 item 5: a typo in --filter/--sort/--columns used to return every user, no user or an
    empty column with exit 0. Now: exit 2, one line naming the field, a did-you-mean, no file, no run
    folder, and nothing but the attribute list asked from the API."""
    env = cli_env(users_sandbox, tmp_path / "state")
    out, run_dir = tmp_path / "out.csv", tmp_path / "run"
    before = users_sandbox.stats()["requests_total"]
    result = run_cli(["export", entity, "-o", str(out), "--run-dir", str(run_dir), *args], env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output.splitlines()[0], result.output
    assert "Traceback" not in result.output
    if hint is not None:
        assert f"Hint: did you mean {hint}?" in result.output or hint in result.output, result.output
    assert not out.exists() and not run_dir.exists()
    assert users_sandbox.stats()["requests_total"] - before <= 1  # the attribute list, no list page


def test_history_columns_are_checked_against_the_fetched_records(users_sandbox, tmp_path: Path) -> None:
    """Histories have no complete field list before the fetch: an unknown --columns name is refused
    once the records are in, still before the file is written (exit 2, no output)."""
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "events.csv"
    result = run_cli(["export", "events", "-o", str(out), "--columns", "eventId,identifyld", "-q"], env)
    assert result.exit_code == 2, result.output
    assert "--columns identifyld: events records have no such field" in result.output
    assert "did you mean 'identifyId'?" in result.output and not out.exists()


def test_iso_dates_and_known_fields_still_filter(users_sandbox, tmp_path: Path) -> None:
    """The check refuses nothing valid: an ISO date-time on a custom DATE_TIME attribute becomes epoch
    ms; a column name spelt with another case still selects its column."""
    store = users_sandbox.store
    cutoff = sorted(u["customAttributes"]["trialEndDate"] for u in store.users.values())[150]
    day = dt.datetime.fromtimestamp(cutoff / 1000, tz=dt.UTC)
    iso = day.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cutoff % 1000:03d}Z"
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "trial.csv"
    args = ["export", "users", "-o", str(out), "--filter", f"customAttributes.trialEndDate>={iso}"]
    result = run_cli([*args, "--columns", "IDENTIFYID,customAttributes.trialEndDate", "-q"], env)
    assert result.exit_code == 0, result.output
    expected = {
        u["identifyId"] for u in store.users.values() if u["customAttributes"]["trialEndDate"] >= cutoff
    }
    assert {r["identifyId"] for r in read_csv(out)} == expected and 0 < len(expected) < len(store.users)


def test_sort_on_create_date_keeps_the_order_across_slices(users_sandbox, tmp_path: Path) -> None:
    env = cli_env(users_sandbox, tmp_path / "state")
    for direction in ("createDate", "-createDate"):
        out = tmp_path / f"{direction}.csv"
        args = [
            "export",
            "users",
            "-o",
            str(out),
            "--sort",
            direction,
            "--slices",
            "4",
            "--page-size",
            "20",
            "-q",
        ]
        run_dir = tmp_path / f"r{direction}"
        assert run_cli([*args, "--run-dir", str(run_dir)], env).exit_code == 0
        dates = [r["createDate"] for r in read_csv(out)]
        assert len(dates) == 300 and dates == sorted(dates, reverse=direction.startswith("-"))
        assert json.loads((run_dir / "summary.json").read_text())["parts"] > 1


def test_formulas_get_a_quote_in_csv_and_the_quote_prefix_style_in_xlsx_unless_raw(
    users_sandbox, tmp_path: Path
) -> None:
    """CSV keeps the OWASP `'`; XLSX keeps the exact text (`+41 44 123 45 67`, not `'+41...`) in a
    quotePrefix cell, which a spreadsheet shows as typed and keeps as text when edited."""
    phone = "+41 44 123 45 67"
    users_sandbox.call(lambda: users_sandbox.store.users["user-000001"].update(phone=phone))
    env = cli_env(users_sandbox, tmp_path / "state")
    cells: dict[str, list[Any]] = {}
    for name, extra in (("safe", []), ("raw", ["--raw"])):
        for suffix in ("csv", "xlsx"):
            out = tmp_path / f"{name}.{suffix}"
            result = run_cli(
                ["export", "users", "-o", str(out), "--columns", "identifyId,firstName,phone", "-q", *extra],
                env,
            )
            assert result.exit_code == 0, result.output
            if suffix == "csv":
                rows = read_csv(out)
                cells[f"{name}.csv"] = [r["firstName"] for r in rows] + [r["phone"] for r in rows]
            else:
                sheet = openpyxl.load_workbook(out).worksheets[0]
                values = [[(c.value, c.quotePrefix) for c in row] for row in sheet.iter_rows(min_row=2)]
                cells[f"{name}.xlsx"] = [v[1] for v in values] + [v[2] for v in values]
                assert all(isinstance(v[0][0], str) for v in values)  # ids are text cells
    for formula in FORMULAS:
        assert "'" + formula in cells["safe.csv"] and formula in cells["raw.csv"]
        assert (formula, True) in cells["safe.xlsx"] and (formula, False) in cells["raw.xlsx"]
    assert "'" + phone in cells["safe.csv"] and (phone, True) in cells["safe.xlsx"]
    assert not any(str(value).startswith("'") for value, _ in cells["safe.xlsx"])
    assert all(not quoted for value, quoted in cells["safe.xlsx"] if value and not is_formula_like(value))
    assert not any(c.startswith("=") for c in cells["safe.csv"])


def test_xlsx_has_date_cells_and_csv_a_bom_on_request(users_sandbox, tmp_path: Path) -> None:

    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "u.xlsx"
    assert (
        run_cli(
            ["export", "users", "-o", str(out), "--columns", "identifyId,createDate,score", "-q"], env
        ).exit_code
        == 0
    )
    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    first = next(sheet.iter_rows(min_row=2, values_only=True))
    user = users_sandbox.store.users[first[0]]
    assert isinstance(first[1], dt.datetime)
    assert round(first[1].replace(tzinfo=dt.UTC).timestamp() * 1000) == user["createDate"]
    assert first[2] == user["score"]
    out_csv = tmp_path / "bom.csv"
    assert run_cli(["export", "users", "-o", str(out_csv), "--bom", "-q"], env).exit_code == 0
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")


def test_ctas_go_to_the_cs_export_and_their_resume_too(sandbox_factory, tmp_path: Path, monkeypatch) -> None:
    from tests.engine.cs.cs_helpers import cli_env as cs_env

    sandbox = sandbox_factory(rate_limit=0)
    companies, owners = sandbox.cs.company_gsids(), sandbox.cs.user_gsids()
    open_status = sandbox.cs.picklist.find_by_name("statuses", "Open")
    assert open_status is not None
    for i in range(12):
        sandbox.cs.insert_cta(
            {"Name": f"cta {i}", "CompanyId": companies[0], "OwnerId": owners[0], "StatusId": open_status.id}
        )
    env = cs_env(sandbox, tmp_path / "state")
    out = tmp_path / "ctas.csv"
    run_dir = tmp_path / "run"
    result = run_cli(["export", "ctas", "-o", str(out), "--run-dir", str(run_dir), "-q"], env)
    assert result.exit_code == 0, result.output
    assert sorted(r["Name"] for r in read_csv(out)) == sorted(f"cta {i}" for i in range(12))
    refused = run_cli(["export", "ctas", "-o", str(tmp_path / "x.csv"), "--since", "2024-01-01"], env)
    assert refused.exit_code == 2 and "--since is not available for ctas" in refused.output
    called: list[Path] = []
    monkeypatch.setattr(cs_export, "resume_run", lambda ctx, rd, flags: called.append(rd) or 0)
    finished = run_cli(["resume", str(run_dir)], env)
    assert finished.exit_code == 0 and "nothing to do" in finished.stderr and called == []
    with Journal.open(run_dir) as journal:  # as if it had been stopped: resume goes to the CS export
        journal.set_status("paused", reason="interrupted")
    assert run_cli(["resume", str(run_dir)], env).exit_code == 0
    assert called == [run_dir]


def test_export_edit_import_round_trip(users_sandbox, tmp_path: Path) -> None:
    store = users_sandbox.store
    env = cli_env(users_sandbox, tmp_path / "state")
    out = tmp_path / "users.csv"
    assert run_cli(["export", "users", "-o", str(out), "-q", "--raw"], env).exit_code == 0
    rows = read_csv(out)
    header = csv_header(out)
    before = {k: json.dumps(v, sort_keys=True) for k, v in store.users.items()}
    edited = tmp_path / "edited.csv"
    target = rows[5]["identifyId"]
    rows[5]["firstName"] = "Edited"
    rows[5]["customAttributes.plan"] = "enterprise"
    with edited.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    result = run_cli(["import", "users", str(edited), "--run-dir", str(tmp_path / "imp"), "--yes"], env)
    assert result.exit_code == 0, result.output
    assert store.users[target]["firstName"] == "Edited"
    assert store.users[target]["customAttributes"]["plan"] == "enterprise"
    volatile = ("lastModifiedDate",)
    for key, text in before.items():
        if key == target:
            continue
        was, now = json.loads(text), dict(store.users[key])
        for name in volatile:
            was.pop(name, None)
            now.pop(name, None)
        assert now == was, key


def test_the_attribute_list_is_read_once_per_export(users_sandbox, tmp_path: Path) -> None:
    """The CLI reads the attribute list to check --filter/--columns before the run folder exists; the
    run uses that list instead of asking again (one request less, one round trip less to the first
    page). A resume, with nothing checked before, reads it itself."""
    env = cli_env(users_sandbox, tmp_path / "state")
    args = ["export", "users", "-o", str(tmp_path / "u.csv"), "--filter", "customAttributes.plan==team"]
    result = run_cli([*args, "--run-dir", str(tmp_path / "r"), "-q"], env)
    assert result.exit_code == 0, result.output
    paths = [entry[2] for entry in users_sandbox.stats(log=True)["log"]]
    assert paths.count("/v1/admin/model/user/attributes") == 1, paths[:5]
    assert paths.count("/v1/users") >= 1
