"""The import engine against the sandbox, through the library: correctness under faults, resume, rates."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from batchgs.cli.runner import exit_code_for
from batchgs.engine.imports.importer import Importer, ImportOptions, RunControl
from batchgs.entities import registry
from batchgs.run.journal import Journal
from tests.engine.imports.import_helpers import (
    assert_users_match,
    error_rows,
    fast_client_factory,
    fast_settings,
    max_in_sliding_second,
    run_library_import,
    stored_event_copies,
    success_rows,
    write_events,
    write_users,
)


def test_ten_thousand_users_with_faults_land_exactly_once(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, seed=5)
    settings = fast_settings(sandbox, tmp_path / "state")
    # half of the users exist already, with other values: the upsert must update them
    old = write_users(tmp_path / "old.csv", 5_000, seed=99)
    first = run_library_import(
        tmp_path / "run-old", old.path, settings, ImportOptions("users", product_key="AP-TEST-1")
    )
    assert first["rows_succeeded"] == 5_000
    sandbox.configure(fail_rate=0.03, fail_statuses=(429, 500, 503), drop_rate=0.005, retry_after=False)
    sandbox.reset_stats()

    users = write_users(tmp_path / "users.csv", 10_000, seed=1, invalid_every=97)
    run_dir = tmp_path / "run"
    summary = run_library_import(
        run_dir, users.path, settings, ImportOptions("users", product_key="AP-TEST-1")
    )

    assert_users_match(sandbox.store, users.valid)
    stats = sandbox.stats(log=True)
    assert stats["faults"], "the faults were not injected: the test would prove nothing"
    creates = [e for e in stats["log"] if e[1] == "POST" and e[2] == "/v1/users"]
    new_users = [uid for uid in users.valid if int(uid[1:]) >= 5_000]
    assert sum(1 for e in creates if e[3] == 201) == len(new_users) == summary["operations"]["created"]
    assert not [e for e in creates if e[3] == 400], "a create was sent for a user that already existed"
    # the invalid rows, and only them, are in errors.csv by row number
    assert set(error_rows(run_dir)) == users.invalid_rows
    assert len(success_rows(run_dir)) == len(users.valid)
    # summary.json adds up
    on_disk = (run_dir / "summary.json").read_text(encoding="utf-8")
    assert '"status": "completed"' in on_disk
    assert summary["rows_total"] == 10_000
    assert summary["rows_invalid"] == len(users.invalid_rows)
    assert summary["rows_succeeded"] == len(users.valid)
    assert summary["rows_failed"] == summary["rows_uncertain"] == summary["rows_pending"] == 0
    ops = summary["operations"]
    assert ops.get("created", 0) + ops.get("updated", 0) == len(users.valid)
    assert summary["retries"] > 0 and summary["requests"] >= len(users.valid)
    assert exit_code_for(summary) == 1  # some rows were invalid


@pytest.mark.parametrize("strategy", ["put-first", "post-first", "auto"])
def test_each_strategy_upserts_a_half_new_file(sandbox_factory, tmp_path: Path, strategy: str) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    settings = fast_settings(sandbox, tmp_path / "state")
    run_library_import(
        tmp_path / "seed",
        write_users(tmp_path / "a.csv", 100, seed=4).path,
        settings,
        ImportOptions("users", product_key="AP-TEST-1"),
    )
    users = write_users(tmp_path / "b.csv", 200, seed=8)  # 100 existing, 100 new
    summary = run_library_import(
        tmp_path / "run",
        users.path,
        settings,
        # the strategy's own cost; before-images add their reads (see tests/cli/test_undo_cli.py)
        ImportOptions("users", product_key="AP-TEST-1", strategy=strategy, backup=strategy == "auto"),
    )
    assert_users_match(sandbox.store, users.valid)
    assert summary["operations"] == {"created": 100, "updated": 100}
    sent = summary["requests"]
    if strategy == "auto":  # preflight + scroll of 100 keys, then one request per row
        assert sent <= 200 + 3
    else:  # half of the rows needed a fallback request
        assert 300 <= sent <= 302


def test_rate_is_never_exceeded_at_the_server_and_sandbox_sends_no_429(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()  # the real 200/s limit
    settings = fast_settings(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 700)
    summary = run_library_import(
        tmp_path / "run",
        users.path,
        settings,
        ImportOptions("users", product_key="AP-TEST-1", strategy="put-first"),
        rate=200,
    )
    stats = sandbox.stats(log=True)
    assert stats["responses_429"] == 0
    assert summary["rows_succeeded"] == 700
    arrivals = [entry[0] for entry in stats["log"]]
    assert len(arrivals) >= 1_400  # PUT 404 then POST for each row: long enough to fill many windows
    assert max_in_sliding_second(arrivals) <= 200


def test_rate_holds_after_429_pauses(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, fail_rate=0.03, fail_statuses=(429,), retry_after=False, seed=2)
    settings = fast_settings(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 300)
    summary = run_library_import(
        tmp_path / "run",
        users.path,
        settings,
        ImportOptions("users", product_key="AP-TEST-1", mode="insert"),
        rate=100,
    )
    stats = sandbox.stats(log=True)
    assert stats["by_status"].get("429", stats["by_status"].get(429, 0)) > 0
    assert summary["responses_429"] > 0 and summary["rows_succeeded"] == 300
    assert max_in_sliding_second(entry[0] for entry in stats["log"]) <= 100


def test_ambiguous_event_failures_are_uncertain_and_never_resent(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, ambiguous_rate=0.05, seed=9)
    settings = fast_settings(sandbox, tmp_path / "state")
    path = write_events(tmp_path / "events.csv", 400)
    options = ImportOptions("events", product_key="AP-TEST-1")
    run_dir = tmp_path / "run"
    summary = run_library_import(run_dir, path, settings, options)
    copies = stored_event_copies(sandbox.store)
    assert summary["rows_uncertain"] > 0
    assert all(n == 1 for n in copies.values()), "an event was stored twice"
    errors = error_rows(run_dir)
    uncertain = {row for row, r in errors.items() if r["_code"] == "uncertain"}
    assert len(uncertain) == summary["rows_uncertain"]
    # a plain resume sends nothing more; --resend-uncertain sends exactly the uncertain rows again
    again = run_library_import(run_dir, path, settings, options, resume=True)
    assert (
        stored_event_copies(sandbox.store) == copies and again["rows_uncertain"] == summary["rows_uncertain"]
    )
    sandbox.configure(ambiguous_rate=0.0)
    run_library_import(
        run_dir,
        path,
        settings,
        options,
        resume=True,
        control=RunControl(progress=False, resend_uncertain=True),
    )
    final = stored_event_copies(sandbox.store)
    assert set(final) == set(range(400))
    assert sum(n - 1 for n in final.values()) <= len(uncertain)


def test_stop_event_pauses_and_resume_finishes(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    settings = fast_settings(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 2_000)
    run_dir = tmp_path / "run"
    options = ImportOptions("users", product_key="AP-TEST-1", mode="insert")
    journal = Journal.create(
        run_dir, kind="import", entity="users", input_path=users.path, options=options.to_journal()
    )

    async def interrupted() -> dict:
        stop = asyncio.Event()
        importer = Importer(
            spec=registry.get("users"),
            input_path=users.path,
            options=options,
            journal=journal,
            client_factory=fast_client_factory(settings, rate=500),
            control=RunControl(progress=False),
            stop_event=stop,
        )
        task = asyncio.create_task(importer.run())
        while len(sandbox.store.users) < 200:  # the run is well under way
            await asyncio.sleep(0.01)
        stop.set()
        return await task

    summary = asyncio.run(interrupted())
    journal.close()
    assert summary["status"] == "paused" and summary["status_reason"] == "interrupted"
    assert 200 <= summary["rows_succeeded"] < 2_000
    done = summary["rows_succeeded"]
    final = run_library_import(run_dir, users.path, settings, options, resume=True)
    assert final["status"] == "completed" and final["rows_succeeded"] == 2_000
    assert final["rows_failed"] == 0  # an insert re-sent for an existing user would fail as a duplicate
    assert_users_match(sandbox.store, users.valid)
    assert done < 2_000


def test_resume_refuses_a_changed_input(sandbox_factory, tmp_path: Path) -> None:
    from batchgs.errors import NotResumableError

    sandbox = sandbox_factory(rate_limit=0)
    settings = fast_settings(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 20)
    run_library_import(
        tmp_path / "run", users.path, settings, ImportOptions("users", product_key="AP-TEST-1")
    )
    with users.path.open("a", encoding="utf-8") as handle:
        handle.write("U999999,late@example.com,Late,Comer,2024-01-01T00:00:00Z,free,1\n")
    with Journal.open(tmp_path / "run") as journal, pytest.raises(NotResumableError):
        journal.check_input(users.path)


def test_errors_csv_feeds_back_after_fixing(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    settings = fast_settings(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 60, invalid_every=10)
    run_library_import(
        tmp_path / "run", users.path, settings, ImportOptions("users", product_key="AP-TEST-1")
    )
    errors_csv = tmp_path / "run" / "errors.csv"
    with errors_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for n, row in enumerate(rows):
            row["signUpDate"] = "2024-05-05T00:00:00Z"
            row["identifyId"] = row["identifyId"] or f"FIXED{n}"
            writer.writerow(row)
    summary = run_library_import(
        tmp_path / "run2", fixed, settings, ImportOptions("users", product_key="AP-TEST-1")
    )
    assert summary["rows_succeeded"] == len(rows) == len(users.invalid_rows)
    assert summary["rows_invalid"] == 0
