"""CTA imports against the CS sandbox: picklist checks, 50 per call, per-row results, updates, limits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from batchgs.cli.runner import exit_code_for
from batchgs.engine.cs.ctas import MAX_RECORDS_PER_CALL
from batchgs.engine.imports.cs_import import CsImportOptions
from batchgs.sandbox.server import SandboxThread
from batchgs.transport.client import cs_client
from tests.engine.cs.cs_helpers import (
    Recorder,
    VirtualTime,
    client_factory,
    cs_settings,
    max_in_window,
    read_csv,
    read_rows,
    run_cs_import,
    virtual_limiter,
    write_csv,
    write_ctas,
)

CTA_PATH = "/v2/cockpit/cta"
PICKLIST_PATH = "/v2/cockpit/admin/picklist/lite"
TYPO_ROWS = range(3, 130, 13)  # ten rows, spread over all three create calls


def stored_by_name(sandbox: SandboxThread) -> dict[str, dict[str, Any]]:
    return {cta["Name"]: cta for cta in sandbox.cs.ctas_by_gsid().values()}


def picked(sandbox: SandboxThread, item_id: str | None) -> str:
    return (sandbox.cs.picklist.name_of(item_id) or "").casefold()


def test_130_rows_with_10_unknown_names(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 130, typo_rows=TYPO_ROWS)
    assert len(cta_file.typos) == 10
    recorder = Recorder()
    run_dir = tmp_path / "run"
    summary = run_cs_import(
        run_dir,
        cta_file.path,
        CsImportOptions("ctas"),
        client_factory(cs_settings(sandbox, tmp_path / "state"), recorder=recorder),
    )

    # 120 CTAs exist in the sandbox, each with exactly the row's values
    stored = stored_by_name(sandbox)
    assert sandbox.cs.created_count == len(stored) == 120
    for cells in cta_file.valid.values():
        cta = stored[cells["Name"]]
        assert cta["CompanyId"] == cells["Company"] and cta["OwnerId"] == cells["Owner"]
        for column, field in (("Type", "TypeId"), ("Reason", "ReasonId"), ("Status", "StatusId")):
            assert picked(sandbox, cta[field]) == cells[column].casefold()
        assert picked(sandbox, cta["PriorityId"]) == cells["Priority"].casefold()
        assert cta["DueDate"] == cells["Due Date"]
        assert (cta["Comments"] or "") == cells["Comments"]
        assert str(cta["score__gc"]) == cells["score__gc"]

    # the ten unknown names are in errors.csv by row, with a did-you-mean, and were never sent
    errors = read_rows(run_dir / "errors.csv")
    assert set(errors) == set(cta_file.typos)
    for row, (column, bad, good) in cta_file.typos.items():
        assert errors[row]["_code"] == "unknown-name"
        assert errors[row]["_message"].startswith(f"{column}: '{bad}' is not a CTA")
        assert f"did you mean '{good}'?" in errors[row]["_message"]
        assert errors[row][column] == bad  # the original cells, unchanged
    sent_names = {r["record"]["Name"] for b in recorder.bodies("POST", CTA_PATH) for r in b["requests"]}
    assert sent_names == {cells["Name"] for cells in cta_file.valid.values()}

    # 50 records per call at most, each tagged with its row, names in the tenant's spelling
    creates = recorder.bodies("POST", CTA_PATH)
    assert [len(b["requests"]) for b in creates] == [50, 50, 20]
    tags = [r["record"]["referenceId"] for b in creates for r in b["requests"]]
    assert sorted(tags) == sorted(f"row-{row}" for row in cta_file.valid)
    statuses = {r["record"]["status"] for b in creates for r in b["requests"]}
    assert statuses == {"Open", "Work In Progress"}
    assert all(call.status == 200 for call in sandbox.cs.calls(CTA_PATH))

    # success.csv maps every valid row to the Gsid the sandbox gave it
    success = read_rows(run_dir / "success.csv")
    assert set(success) == set(cta_file.valid)
    for row, cells in cta_file.valid.items():
        assert success[row]["Gsid"] == stored[cells["Name"]]["Gsid"]
        assert success[row]["_operation"] == "created"
    assert summary["rows_succeeded"] == 120 and summary["rows_invalid"] == 10
    assert summary["requests"] == 4  # the picklist and three create calls
    assert exit_code_for(summary) == 1


def test_one_bad_record_does_not_fail_its_batch_mates(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    company = sandbox.cs.company_gsids()[0]
    path = write_csv(
        tmp_path / "ctas.csv",
        ["Name", "Company", "Type", "Due Date"],
        [
            [f"cta {i}", "1P02NOSUCHCOMPANY000000000000000000" if i == 7 else company, "Risk", "2026-05-01"]
            for i in range(12)
        ],
    )
    run_dir = tmp_path / "run"
    summary = run_cs_import(
        run_dir, path, CsImportOptions("ctas"), client_factory(cs_settings(sandbox, tmp_path / "s"))
    )
    assert sandbox.cs.created_count == 11
    assert len(sandbox.cs.calls(CTA_PATH)) == 1  # the bad record travelled with the good ones
    errors = read_rows(run_dir / "errors.csv")
    assert list(errors) == [9]
    assert errors[9]["_code"] == "api-rejected"
    assert "COCKPIT_5101" in errors[9]["_message"] and "not a known company" in errors[9]["_message"]
    assert summary["rows_succeeded"] == 11 and summary["rows_failed"] == 1


def test_update_mode_changes_only_what_the_file_says(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    settings = cs_settings(sandbox, tmp_path / "state")
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 60)
    run_cs_import(tmp_path / "create", cta_file.path, CsImportOptions("ctas"), client_factory(settings))
    before = sandbox.cs.ctas_by_gsid()
    gsids = list(before)
    # update 55 CTAs: status for all, comments for some (blank cells mean "leave as it is"), and one
    # unknown Gsid that must fail alone
    rows = []
    for i, gsid in enumerate(gsids[:55]):
        rows.append(
            [gsid, "Closed Success" if i % 2 else "closed lost", f"updated {i}" if i % 3 == 0 else ""]
        )
    rows.insert(20, ["1S01NOSUCHCTA000000000000000000000000", "Open", "x"])
    path = write_csv(tmp_path / "update.csv", ["Gsid", "Status", "Comments"], rows)
    recorder = Recorder()
    run_dir = tmp_path / "update"
    summary = run_cs_import(
        run_dir, path, CsImportOptions("ctas", mode="update"), client_factory(settings, recorder=recorder)
    )

    assert recorder.bodies("POST", CTA_PATH) == []
    puts = recorder.bodies("PUT", CTA_PATH)
    assert [len(b["requests"]) for b in puts] == [50, 6]
    assert all(
        set(r["record"]) <= {"Gsid", "status", "Comments", "referenceId"} for b in puts for r in b["requests"]
    )
    after = sandbox.cs.ctas_by_gsid()
    assert sandbox.cs.created_count == 60  # nothing was created
    for i, gsid in enumerate(gsids):
        old, new = before[gsid], after[gsid]
        changed = {k for k in old if old[k] != new[k]}
        if i >= 55:
            assert changed == set(), gsid
            continue
        assert picked(sandbox, new["StatusId"]) == ("closed success" if i % 2 else "closed lost")
        assert new["IsClosed"] is True
        expected = {"StatusId", "IsClosed", "ClosedDate", "ModifiedDate"}
        if i % 3 == 0:
            assert new["Comments"] == f"updated {i}"
            expected.add("Comments")
        assert changed <= expected, (gsid, changed - expected)
    errors = read_rows(run_dir / "errors.csv")
    assert list(errors) == [22]
    assert "GSOBJ_1011" in errors[22]["_message"]
    success = read_rows(run_dir / "success.csv")
    assert len(success) == 55 and {r["_operation"] for r in success.values()} == {"updated"}
    assert summary["rows_succeeded"] == 55 and summary["rows_failed"] == 1


def test_upsert_sends_rows_with_a_gsid_as_updates_and_the_rest_as_creates(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    settings = cs_settings(sandbox, tmp_path / "state")
    company = sandbox.cs.company_gsids()[1]
    first = write_csv(tmp_path / "a.csv", ["Name", "Company"], [["keep me", company], ["rename me", company]])
    run_cs_import(tmp_path / "a", first, CsImportOptions("ctas"), client_factory(settings))
    by_name = {c["Name"]: g for g, c in sandbox.cs.ctas_by_gsid().items()}
    mixed = write_csv(
        tmp_path / "b.csv",
        ["Gsid", "Name", "Company", "Priority"],
        [[by_name["rename me"], "renamed", "", "low"], ["", "brand new", company, "High"]],
    )
    summary = run_cs_import(tmp_path / "b", mixed, CsImportOptions("ctas"), client_factory(settings))
    assert summary["operations"] == {"created": 1, "updated": 1}
    names = sorted(c["Name"] for c in sandbox.cs.ctas_by_gsid().values())
    assert names == ["brand new", "keep me", "renamed"]
    renamed = sandbox.cs.cta(by_name["rename me"])
    assert renamed is not None and picked(sandbox, renamed["PriorityId"]) == "low"


def test_insert_mode_refuses_rows_that_carry_a_gsid(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    company = sandbox.cs.company_gsids()[0]
    path = write_csv(
        tmp_path / "i.csv", ["Gsid", "Name", "Company"], [["", "new", company], ["1S01X", "old", company]]
    )
    run_dir = tmp_path / "run"
    summary = run_cs_import(
        run_dir,
        path,
        CsImportOptions("ctas", mode="insert"),
        client_factory(cs_settings(sandbox, tmp_path / "s")),
    )
    assert summary["rows_succeeded"] == 1 and summary["rows_invalid"] == 1
    assert read_rows(run_dir / "errors.csv")[3]["_code"] == "unexpected-key"


def test_no_sliding_minute_holds_more_calls_than_the_per_minute_limit(
    sandbox_factory, tmp_path: Path
) -> None:
    """A small limit (3 a minute) on a virtual clock: 13 calls must spread over five minutes."""
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=3)  # the sandbox's own fixed windows too
    vt = VirtualTime(sandbox)
    settings = cs_settings(sandbox, tmp_path / "state", cs_per_minute=3)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 600)
    summary = run_cs_import(
        tmp_path / "run",
        cta_file.path,
        CsImportOptions("ctas"),
        client_factory(settings, limiter=virtual_limiter(vt, settings.cs_per_minute)),
    )
    assert summary["rows_succeeded"] == 600 and sandbox.cs.created_count == 600
    calls = sandbox.cs.calls()
    assert len(calls) == 1 + math.ceil(600 / MAX_RECORDS_PER_CALL)
    assert all(call.status == 200 for call in calls), "the sandbox refused a call (429)"
    assert max_in_window((c.at_ms for c in calls), 60_000) <= 3
    assert vt.offset >= 4 * 60  # the limiter did wait: 13 calls at 3 a minute


def test_the_default_cs_client_allows_100_calls_a_minute_and_50000_a_day(tmp_path: Path) -> None:
    from batchgs.config import Secret, Settings

    settings = Settings(
        cs_base_url="https://tenant.gainsightcloud.com", cs_access_key=Secret("k"), state_dir=tmp_path
    )
    assert settings.cs_per_minute == 100 and settings.cs_daily_limit == 50_000
    client = cs_client(settings)
    assert client.limiter.configured_rate == 100 and client.limiter.window == 60.0
    assert client.ledger is not None and client.ledger.daily_limit == 50_000
    assert client.ledger.scope == "cs"


def test_an_invalid_file_row_and_picklist_rows_all_stop_a_strict_run(sandbox_factory, tmp_path: Path) -> None:
    import pytest

    from batchgs.errors import StrictValidationError

    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 30, typo_rows=[4])
    run_dir = tmp_path / "run"
    with pytest.raises(StrictValidationError, match="1 of 30 rows are invalid"):
        run_cs_import(
            run_dir,
            cta_file.path,
            CsImportOptions("ctas", strict=True),
            client_factory(cs_settings(sandbox, tmp_path / "s")),
        )
    assert sandbox.cs.created_count == 0
    assert [c.path for c in sandbox.cs.calls()] == [PICKLIST_PATH]
    assert list(read_rows(run_dir / "errors.csv")) == [6]
    assert read_csv(run_dir / "success.csv") == []


def test_resume_after_a_stop_creates_every_cta_exactly_once(sandbox_factory, tmp_path: Path) -> None:
    import asyncio

    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 230)
    run_dir = tmp_path / "run"
    recorder = Recorder()
    stops: list[asyncio.Event] = []

    def stop_after_first_create(method: str, api_path: str, body: object) -> None:
        if method == "POST" and api_path == CTA_PATH:
            stops[0].set()

    recorder.before = stop_after_first_create
    factory = client_factory(cs_settings(sandbox, tmp_path / "s"), recorder=recorder)
    first = run_cs_import(run_dir, cta_file.path, CsImportOptions("ctas"), factory, make_stop=stops.append)
    assert first["status"] == "paused" and first["status_reason"] == "interrupted"
    assert first["rows_succeeded"] == sandbox.cs.created_count < 230
    assert first["rows_succeeded"] % MAX_RECORDS_PER_CALL == 0 and first["rows_uncertain"] == 0
    recorder.before = None
    second = run_cs_import(run_dir, cta_file.path, CsImportOptions("ctas"), factory, resume=True)
    assert second["status"] == "completed" and second["rows_succeeded"] == 230
    assert sorted(c["Name"] for c in sandbox.cs.ctas_by_gsid().values()) == sorted(
        cells["Name"] for cells in cta_file.valid.values()
    )
    assert len(read_rows(run_dir / "success.csv")) == 230


def test_an_ambiguous_create_is_uncertain_but_an_ambiguous_update_is_retried(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    settings = cs_settings(sandbox, tmp_path / "s")
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 120)
    sandbox.configure(ambiguous_rate=0.5, seed=1)  # stored, then answered 500
    run_dir = tmp_path / "run"
    summary = run_cs_import(run_dir, cta_file.path, CsImportOptions("ctas"), client_factory(settings))
    creates = sandbox.cs.calls(CTA_PATH)
    assert len(creates) == 3  # a create is never sent twice
    assert 0 < summary["rows_uncertain"] < 120 and summary["rows_uncertain"] % 10 == 0
    assert sandbox.cs.created_count == 120  # the ambiguous calls did create their CTAs
    errors = read_rows(run_dir / "errors.csv")
    assert len(errors) == summary["rows_uncertain"] and {e["_code"] for e in errors.values()} == {"uncertain"}
    again = run_cs_import(
        run_dir, cta_file.path, CsImportOptions("ctas"), client_factory(settings), resume=True
    )
    assert len(sandbox.cs.calls(CTA_PATH)) == 3 and again["rows_uncertain"] == summary["rows_uncertain"]

    gsids = list(sandbox.cs.ctas_by_gsid())[:40]
    path = write_csv(tmp_path / "u.csv", ["Gsid", "Comments"], [[g, "checked"] for g in gsids])
    updated = run_cs_import(
        tmp_path / "update", path, CsImportOptions("ctas", mode="update"), client_factory(settings)
    )
    assert updated["rows_succeeded"] == 40 and updated["retries"] > 0
    assert all(sandbox.cs.ctas_by_gsid()[g]["Comments"] == "checked" for g in gsids)
