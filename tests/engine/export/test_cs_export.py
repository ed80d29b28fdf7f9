"""`batchgs export ctas`: every CTA, paging by 1,000, filters, columns, the deleted list, resume."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from batchgs.cli import cs_export
from batchgs.cli.main import cli
from batchgs.cli.runner import ResumeFlags
from batchgs.engine.export.ctas import CtaExportOptions, build_where, export_ctas, parse_sort
from batchgs.errors import Interrupted, OutputFileError, QuotaExhausted, UsageError
from batchgs.sandbox.server import SandboxThread
from batchgs.transport.client import cs_client
from tests.engine.cs.cs_helpers import (
    cli_env,
    cs_settings,
    fast_limiter,
    read_csv,
    read_rows,
    run_cli,
    write_ctas,
)

LIST_PATH = "/v2/cockpit/cta/list"


@pytest.fixture
def cs_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[SandboxThread], None]:
    """Point the environment at a sandbox (run_export reads settings like the CLI does)."""

    def use(sandbox: SandboxThread) -> None:
        for name, value in cli_env(sandbox, tmp_path / "state").items():
            monkeypatch.setenv(name, value)

    return use


def ctx() -> click.Context:
    return click.Context(cli, obj={})


def seed_ctas(sandbox: SandboxThread, n: int, *, seed: int = 3) -> dict[str, dict[str, Any]]:
    """`n` CTAs straight into the sandbox state (fast), with varied statuses, types and owners."""
    rng = random.Random(seed)
    picklist = sandbox.cs.picklist
    companies, owners = sandbox.cs.company_gsids(), sandbox.cs.user_gsids()

    def pick(group: str, name: str) -> str:
        item = picklist.find_by_name(group, name)
        assert item is not None
        return item.id

    for i in range(n):
        sandbox.cs.insert_cta(
            {
                "Name": f"seeded {i:05d}",
                "CompanyId": rng.choice(companies),
                "OwnerId": owners[i % 3],
                "TypeId": pick("types", rng.choice(["Risk", "Expansion"])),
                "StatusId": pick("statuses", rng.choice(["Open", "Work In Progress"])),
                "PriorityId": pick("priorities", "High"),
                "ReasonId": pick("reasons", "Churn"),
                "DueDate": "2026-03-01",
                "Comments": "+cmd" if i == 0 else None,
                "health__gc": i % 10,
            }
        )
    return sandbox.cs.ctas_by_gsid()


def test_import_then_export_returns_every_created_cta(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 130, typo_rows=range(3, 130, 13))
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state")
    assert run_cli(["import", "ctas", str(cta_file.path), "--run-dir", str(run_dir)], env).exit_code == 1
    out = tmp_path / "ctas-out.csv"
    assert (
        cs_export.run_export(ctx(), {"output": str(out), "run_dir": str(tmp_path / "x"), "quiet": True}) == 0
    )
    exported = {r["Gsid"]: r for r in read_csv(out)}
    assert set(exported) == {r["Gsid"] for r in read_rows(run_dir / "success.csv").values()}
    assert len(exported) == 120
    by_name = {r["Name"]: r for r in exported.values()}
    for cells in cta_file.valid.values():
        row = by_name[cells["Name"]]
        assert row["CompanyId"] == cells["Company"] and row["OwnerId"] == cells["Owner"]
        assert row["TypeId__gr.Name"] == cells["Type"] and row["DueDate"] == cells["Due Date"]
        assert row["StatusId__gr.Name"].casefold() == cells["Status"].casefold()
        assert row["score__gc"] == cells["score__gc"]
    header = list(read_csv(out)[0])
    assert header[:4] == ["Gsid", "Name", "CompanyId", "CompanyId__gr.Name"]  # the API's order


def test_export_pages_by_1000_and_writes_every_record_once(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    stored = seed_ctas(sandbox, 2345)
    out = tmp_path / "all.csv"
    run_dir = tmp_path / "run"
    assert cs_export.run_export(ctx(), {"output": str(out), "run_dir": str(run_dir), "quiet": True}) == 0
    rows = read_csv(out)
    assert len(rows) == 2345 and {r["Gsid"] for r in rows} == set(stored)
    assert len(sandbox.cs.calls(LIST_PATH)) == 3  # 1000 + 1000 + 345
    first = next(r for r in rows if r["Name"] == "seeded 00000")
    assert first["Comments"] == "'+cmd"  # neutralised for spreadsheets
    assert first["IsClosed"] == "false" and first["health__gc"] == "0"
    assert first["CreatedDate"].endswith("Z")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["rows_exported"] == 2345 and summary["pages"] == 3
    assert summary["kind"] == "export" and summary["entity"] == "ctas"
    assert not list(tmp_path.glob(".all.csv.*"))  # no temporary file left


def test_filters_columns_and_sort(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    stored = seed_ctas(sandbox, 300)
    picklist = sandbox.cs.picklist
    owner = sandbox.cs.user_gsids()[1]

    def export(name: str, **opts: Any) -> list[dict[str, str]]:
        out = tmp_path / f"{name}.csv"
        opts = {"output": str(out), "run_dir": str(tmp_path / f"run-{name}"), "quiet": True, **opts}
        assert cs_export.run_export(ctx(), opts) == 0
        return read_csv(out)

    def names(cta: dict[str, Any], field: str) -> str:
        return picklist.name_of(cta[field]) or ""

    open_risk = export("open-risk", filter=("status==open;type==Risk",))
    expected = {
        g for g, c in stored.items() if names(c, "StatusId") == "Open" and names(c, "TypeId") == "Risk"
    }
    assert {r["Gsid"] for r in open_risk} == expected and expected

    either = export("either", filter=(f"owner=={owner}", "type==Expansion"))
    expected = {g for g, c in stored.items() if c["OwnerId"] == owner or names(c, "TypeId") == "Expansion"}
    assert {r["Gsid"] for r in either} == expected

    narrow = export("narrow", columns="Gsid,Name,health__gc", filter=("health__gc>=8",), sort="-Name")
    assert list(narrow[0]) == ["Gsid", "Name", "health__gc"]
    assert {r["Gsid"] for r in narrow} == {g for g, c in stored.items() if c["health__gc"] >= 8}
    assert [r["Name"] for r in narrow] == sorted((r["Name"] for r in narrow), reverse=True)

    nothing = export("nothing", filter=("Name==no such cta",))
    assert nothing == []
    header = (tmp_path / "nothing.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Gsid,Name,CompanyId")  # GSOBJ_1011 is an empty export, not an error


def test_deleted_flag_exports_the_deleted_list(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    stored = seed_ctas(sandbox, 40)
    gone = list(stored)[:7]
    for gsid in gone:
        assert sandbox.cs.delete_cta(gsid)
    out = tmp_path / "deleted.xlsx"
    assert (
        cs_export.run_export(ctx(), {"output": str(out), "deleted": True, "run_dir": str(tmp_path / "r")})
        == 0
    )
    import openpyxl

    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    assert "DeletedDate" in header
    assert {row[header.index("Gsid")] for row in body} == set(gone)
    assert [c.path for c in sandbox.cs.calls()] == ["/v2/cockpit/cta/deleted/list"]


def test_bad_options_are_refused_before_any_request(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    existing = tmp_path / "exists.csv"
    existing.write_text("x\n", encoding="utf-8")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"output": str(existing)}, OutputFileError, "already exists"),
        ({"output": str(tmp_path / "out.txt")}, OutputFileError, "cannot tell the output format"),
        ({"output": str(tmp_path / "o.csv"), "filter": ("status",)}, UsageError, "no operator"),
        ({"output": str(tmp_path / "o.csv"), "since": "2024-01-01"}, UsageError, "--since is not available"),
        ({}, UsageError, "export needs -o OUT"),
    ]
    for opts, error, message in cases:
        with pytest.raises(error, match=message):
            cs_export.run_export(ctx(), {"run_dir": str(tmp_path / "never"), **opts})
    assert sandbox.cs.calls() == []
    assert not (tmp_path / "never").exists()


def test_a_stop_between_pages_leaves_no_file(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    seed_ctas(sandbox, 2100)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "stopped.parquet"
    settings = cs_settings(sandbox, tmp_path / "state")

    async def go() -> None:
        stop = asyncio.Event()
        async with cs_client(settings, limiter=fast_limiter()) as client:
            await export_ctas(
                client, CtaExportOptions(str(out)), stop_event=stop, on_page=lambda r: stop.set()
            )

    with pytest.raises(Interrupted):
        asyncio.run(go())
    assert list(folder.iterdir()) == []  # neither the file nor a temporary one
    assert len(sandbox.cs.calls(LIST_PATH)) == 1


def test_quota_pause_then_resume_completes_the_export(sandbox_factory, tmp_path: Path, cs_env) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cs_env(sandbox)
    stored = seed_ctas(sandbox, 1500)
    sandbox.cs.daily_limit = 1  # the second page meets the tenant's daily limit
    out = tmp_path / "out.jsonl"
    run_dir = tmp_path / "run"
    with pytest.raises(QuotaExhausted) as paused:
        cs_export.run_export(ctx(), {"output": str(out), "run_dir": str(run_dir), "quiet": True})
    assert paused.value.hint is not None and f"batchgs resume {run_dir}" in paused.value.hint
    assert not out.exists()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "paused" and summary["status_reason"] == "quota"

    sandbox.cs.daily_limit = 0
    assert cs_export.resume_run(ctx(), run_dir, ResumeFlags(quiet=True)) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["Gsid"] for line in lines} == set(stored) and len(lines) == 1500
    assert cs_export.resume_run(ctx(), run_dir, ResumeFlags(quiet=True)) == 0  # already complete


def test_filter_and_sort_syntax() -> None:
    gsid = "1P01RBQ269DIYF0JVZSMD68HP9IO8WIJXDK8"
    where = build_where(
        [f"status==Open;owner=={gsid}", "company==Cedar Labs", "Name~Acme*", "DueDate<=2026-01-01"]
    )
    assert where is not None
    assert [(c["fieldName"], c["operator"], c["value"]) for c in where["conditions"]] == [
        ("StatusId__gr.Name", "EQ", ["Open"]),
        ("OwnerId", "EQ", [gsid]),
        ("CompanyId__gr.Name", "EQ", ["Cedar Labs"]),
        ("Name", "STARTS_WITH", ["Acme"]),
        ("DueDate", "LTE", ["2026-01-01"]),
    ]
    assert where["expression"] == "(C1 AND C2) OR C3 OR C4 OR C5"
    assert build_where(["", " ; "]) is None
    assert parse_sort("Name;-DueDate;status") == {
        "Name": "ASC",
        "DueDate": "DESC",
        "StatusId__gr.Name": "ASC",
    }
    with pytest.raises(UsageError, match="not a field name"):
        build_where(["a b==c"])
