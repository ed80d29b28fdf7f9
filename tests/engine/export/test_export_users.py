"""Users and accounts: every record exactly once, every field as the sandbox holds it, in CSV, XLSX,
Parquet and JSONL; one list request per 1,000 records with one cursor; slices equal to one cursor."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from batchgs.run.journal import Journal
from tests.engine.export.export_helpers import (
    ANCHOR,
    DAY_MS,
    add_formula_users,
    assert_rows_match,
    clumped_users,
    csv_header,
    no_temp_files,
    options_for,
    read_csv,
    read_jsonl,
    run_library,
    seeded_store,
)

USER_DATES = {
    "signUpDate",
    "firstVisitDate",
    "lastSeenDate",
    "createDate",
    "lastModifiedDate",
    "customAttributes.trialEndDate",
}
ACCOUNT_DATES = {
    "renewalDate",
    "createDate",
    "lastModifiedDate",
    "lastSeenDate",
    "customAttributes.contractEnd",
}


def test_25000_users_in_every_format_exactly_once_with_every_field(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=25_000, accounts=20)
    formulas = add_formula_users(store)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state = tmp_path / "state"

    # one cursor: ceil(25,000 / 1,000) list requests, no more
    out_csv = tmp_path / "users.csv"
    run = run_library(sandbox, state, tmp_path / "r-csv", options_for("users", out_csv, slices=1))
    assert run.error is None and run.result is not None
    assert len([c for c in run.calls if c[1] == "/v1/users"]) == 25
    assert run.result.records == 25_000 and run.result.expected == 25_000
    rows = read_csv(out_csv)
    assert_rows_match(rows, store.users, "identifyId", date_columns=USER_DATES, neutralised=True)
    by_id = {r["identifyId"]: r for r in rows}
    for key, name in formulas.items():
        assert by_id[key]["firstName"] == "'" + name
    header = csv_header(out_csv)
    assert header[:3] == ["identifyId", "propertyKeys", "type"]  # documented order first
    customs = [h for h in header if h.startswith("customAttributes.")]
    assert customs == sorted(customs) and header[-len(customs) :] == customs  # custom attributes last
    assert rows[0]["createDate"].endswith("Z") and "T" in rows[0]["createDate"]  # ISO-8601 UTC text

    # sliced cursors: the same records, in XLSX (typed cells) and Parquet
    out_xlsx = tmp_path / "users.xlsx"
    run = run_library(sandbox, state, tmp_path / "r-xlsx", options_for("users", out_xlsx, slices=4))
    assert run.error is None and run.result is not None and run.result.parts > 1
    frame = pl.read_excel(out_xlsx)
    assert frame.height == 25_000
    assert frame.schema["createDate"] == pl.Datetime("ms") or str(frame.schema["createDate"]).startswith(
        "Datetime"
    )
    assert frame.schema["identifyId"] == pl.String and frame.schema["aptrinsicId"] == pl.String
    # XLSX keeps formula-like text exact (the cell's quotePrefix style guards it, not a visible `'`)
    assert_rows_match(frame.to_dicts(), store.users, "identifyId", date_columns=USER_DATES, neutralised=False)

    out_parquet = tmp_path / "users.parquet"
    run = run_library(sandbox, state, tmp_path / "r-pq", options_for("users", out_parquet, slices=4))
    assert run.error is None
    frame = pl.read_parquet(out_parquet)
    assert frame.height == 25_000 and str(frame.schema["createDate"]).startswith("Datetime")
    assert_rows_match(frame.to_dicts(), store.users, "identifyId", date_columns=USER_DATES, neutralised=False)
    assert no_temp_files(tmp_path)


def test_accounts_to_jsonl_flat_columns_and_dates(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=30, accounts=120)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "accounts.jsonl"
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options_for("accounts", out, page_size=50))
    assert run.error is None
    rows = read_jsonl(out)
    expected = {
        key: {**acct, "numberOfUsers": sum(1 for u in store.users.values() if u["accountId"] == key)}
        for key, acct in store.accounts.items()
    }
    assert_rows_match(rows, expected, "id", date_columns=ACCOUNT_DATES, neutralised=False)
    first = rows[0]
    assert list(first)[:2] == ["id", "name"]
    assert "location.coordinates.latitude" in first and "customAttributes.tier" in first
    assert isinstance(first["numberOfEmployees"], int) and isinstance(first["dunsNumber"], str)


def test_sliced_equals_single_cursor_with_createdate_ties_at_boundaries(
    sandbox_factory, tmp_path: Path
) -> None:
    store = seeded_store(users=700)
    base = ANCHOR - 3 * DAY_MS
    clumped_users(store, 1500, clumps=7, base_ms=base)  # 7 createDates shared by ~214 users each
    clumped_users(store, 1200, clumps=1, base_ms=base + 2000, start=5000)  # 1,200 share one ms
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state = tmp_path / "state"
    single = run_library(
        sandbox, state, tmp_path / "r1", options_for("users", tmp_path / "one.csv", slices=1, page_size=50)
    )
    sliced = run_library(
        sandbox, state, tmp_path / "r2", options_for("users", tmp_path / "many.csv", slices=8, page_size=50)
    )
    assert single.error is None and sliced.error is None and sliced.result is not None
    one = [r["identifyId"] for r in read_csv(tmp_path / "one.csv")]
    many = [r["identifyId"] for r in read_csv(tmp_path / "many.csv")]
    assert len(many) == len(set(many)) == len(store.users) == sliced.result.expected
    assert set(one) == set(many)
    # the slices really cut through shared createDates, by date and (for the 1,200) by key
    with Journal.open(tmp_path / "r2", lock=False) as journal:
        plan = journal.get_progress("plan")
        parts = [journal.get_progress(f"part/{i}") for i in plan["parts"]]
    leaves = [p for p in parts if p["status"] == "done"]
    assert len(leaves) > 8
    assert any(p["klo"] is not None or p["khi"] is not None for p in leaves)  # split by identifyId
    shared = {base + k * 1000 for k in range(7)}
    assert any(p["lo"] in shared for p in leaves)  # a boundary on a createDate many users share
    assert sum(p["records"] for p in leaves) == len(store.users)
    assert all(p["records"] == p["total_hits"] for p in leaves)
