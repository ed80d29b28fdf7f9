"""The small pure parts: mapping a CTA call's answer back to rows, the picklist, CS settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import pytest

from batchgs.cli.cs_import import cs_settings
from batchgs.cli.main import cli
from batchgs.engine.cs.ctas import CREATE, UPDATE, CtaBatch, outcomes_for, request_body
from batchgs.engine.cs.picklists import CtaPicklist
from batchgs.errors import ConfigError, UsageError
from batchgs.io.rows import ValidatedRow
from batchgs.transport.client import cs_client
from batchgs.transport.result import ApiResult, Outcome


def rows(*numbers: int, key: str | None = None) -> tuple[ValidatedRow, ...]:
    return tuple(ValidatedRow(n, {}, {"Name": f"n{n}", "Gsid": key}, key=key) for n in numbers)


def answer(data: object, outcome: Outcome = Outcome.SUCCESS, *, empty: bool = False) -> ApiResult:
    body = {"result": True, "errorCode": None, "errorDesc": None, "requestId": "r", "data": data}
    return ApiResult(outcome, 200, body, "", 1, empty=empty)


def test_results_map_back_by_reference_id_whatever_their_order() -> None:
    batch = CtaBatch(CREATE, rows(2, 3, 4, 5))
    body = request_body(batch)
    assert [r["record"]["referenceId"] for r in body["requests"]] == ["row-2", "row-3", "row-4", "row-5"]
    assert all("Gsid" not in r["record"] for r in body["requests"])  # never on a create
    data = {
        "success": [{"referenceId": "row-4", "Gsid": "G4"}, {"referenceId": "row-2", "Gsid": "G2"}],
        "errors": [{"referenceId": "row-3", "errorCode": "GSOBJ_1005", "errorDesc": "bad date"}],
    }
    by_row = {o.row: o for o in outcomes_for(batch, answer(data))}
    assert (by_row[2].status, by_row[2].key, by_row[2].op) == ("succeeded", "G2", "created")
    assert (by_row[4].status, by_row[4].key) == ("succeeded", "G4")
    assert (by_row[3].status, by_row[3].message) == ("failed", "GSOBJ_1005: bad date")
    # not mentioned at all: a create may exist now (uncertain), an update is simply retried later
    assert by_row[5].status == "uncertain"
    update = CtaBatch(UPDATE, rows(7, key="G7"))
    assert request_body(update)["requests"][0]["record"]["Gsid"] == "G7"
    (missing,) = outcomes_for(update, answer({"success": [], "errors": []}))
    assert missing.status == "failed" and missing.transient


def test_a_failed_call_gives_every_row_the_calls_fate() -> None:
    batch = CtaBatch(CREATE, rows(2, 3))
    refused = ApiResult(Outcome.ROW_ERROR, 400, None, "COCKPIT_5101: bad body", 1, code="api-rejected")
    assert {(o.status, o.code) for o in outcomes_for(batch, refused)} == {("failed", "api-rejected")}
    lost = ApiResult(Outcome.UNCERTAIN, 500, None, "server failed", 1, code="uncertain")
    assert {o.status for o in outcomes_for(batch, lost)} == {"uncertain"}
    tired = ApiResult(Outcome.RETRIES_EXHAUSTED, 503, None, "gave up", 8, code="retries-exhausted")
    assert all(o.status == "failed" and o.transient for o in outcomes_for(batch, tired))
    nothing = answer(None, empty=True)
    assert {o.code for o in outcomes_for(batch, nothing)} == {"not-found"}
    with pytest.raises(ValueError):
        CtaBatch(CREATE, rows(*range(2, 53)))  # 51 records


def test_picklist_names_match_ignoring_case_and_spaces_and_suggest_the_closest() -> None:
    picklist = CtaPicklist.from_data(
        {
            "types": [{"id": "1", "name": "Risk"}, "Expansion"],
            "statuses": [{"id": "2", "name": "Work In Progress"}],
        }
    )
    assert (
        picklist.resolve("types", " risk ") == "Risk"
        and picklist.resolve("types", "expansion") == "Expansion"
    )
    fixed, issues = picklist.check(9, {"type": "RISK", "status": "work  in progress"}, {"type": "Type"})
    assert issues == [] and fixed == {"type": "Risk", "status": "Work In Progress"}
    _, issues = picklist.check(9, {"type": "Expanson", "priority": "High"}, {"type": "CTA Type"})
    assert [(i.column, i.code) for i in issues] == [
        ("CTA Type", "unknown-name"),
        ("priority", "unknown-name"),
    ]
    assert "did you mean 'Expansion'?" in issues[0].message
    assert "known: none configured" in issues[1].message


def test_cs_settings_take_the_tenant_limits_and_the_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = click.Context(cli, obj={})
    monkeypatch.setenv("GAINSIGHT_CS_BASE_URL", "https://acme.gainsightcloud.com")
    with pytest.raises(ConfigError, match="no Gainsight CS access key"):
        cs_settings(ctx, {})
    monkeypatch.setenv("GAINSIGHT_CS_ACCESS_KEY", "k")
    settings = cs_settings(ctx, {})
    assert (settings.cs_per_minute, settings.cs_daily_limit) == (100, 50_000)
    lowered = cs_settings(ctx, {"rate": 0.5, "daily_limit": 900})
    assert (lowered.cs_pace, lowered.cs_daily_limit) == (30, 900)
    assert lowered.cs_per_minute == 100  # the key's limit stays whole: --rate is this job's pace
    assert cs_settings(ctx, {"rate": 190}).cs_pace == 100  # --rate never raises the CS limit
    with pytest.raises(UsageError):
        cs_settings(ctx, {"rate": 0})
    (tmp_path / "batchgs.toml").write_text("[default]\ncs_per_minute = 250\ncs_daily_limit = 90000\n")
    monkeypatch.chdir(tmp_path)
    profiled = cs_settings(ctx, {})
    assert (profiled.cs_per_minute, profiled.cs_pace, profiled.cs_daily_limit) == (250, 250, 90_000)
    with pytest.raises(ConfigError, match="shared secret"):
        cs_settings(ctx, {}, events=True)


def test_a_cs_job_at_its_own_rate_leaves_the_rest_of_the_key_to_the_next_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job killed at `--rate 8` holds 480 of the key's 100,000 calls a minute until its record
    expires (a window and a margin): the resumed job must get its own 480 at once, not wait a minute."""
    monkeypatch.setenv("GAINSIGHT_CS_BASE_URL", "http://127.0.0.1:9")  # never called: no request is sent
    monkeypatch.setenv("GAINSIGHT_CS_ACCESS_KEY", "k")
    monkeypatch.setenv("BATCHGS_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "batchgs.toml").write_text("[default]\ncs_per_minute = 100000\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = cs_settings(click.Context(cli, obj={}), {"rate": 8})

    async def shares() -> tuple[int, int]:
        killed = await cs_client(settings, use_ledger=False).__aenter__()
        keeper = killed.sharing.keeper if killed.sharing else None
        assert keeper is not None and keeper._task is not None
        keeper._task.cancel()  # kill -9: no heartbeat, no goodbye; its record stays on the board
        try:
            async with cs_client(settings, use_ledger=False) as resumed:
                return killed.limiter.share, resumed.limiter.share
        finally:
            await killed.close()

    assert asyncio.run(asyncio.wait_for(shares(), 60)) == (480, 480)
