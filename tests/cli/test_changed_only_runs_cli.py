"""`--changed-only` as a run among runs: the read strategy shown in the plan, emails compared as the API
keeps their case, and resume (after kill -9 and after a quota pause), --strict, --rate working as for
any import. Every count is taken at the sandbox."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl

from batchgs.sandbox.server import SandboxThread
from tests.cli.changes_helpers import (
    edited_file,
    kill_9_after_writes,
    read_changes,
    rewrite,
    seeded_tenant,
    visible,
)
from tests.cli.cli_helpers import api_put_user, cli_env, run_cli, summary_of, writes_seen
from tests.engine.imports.import_helpers import USER_HEADERS, max_in_sliding_second


def user_reads(sandbox: SandboxThread) -> int:
    """GET /v1/users... requests the sandbox answered (list pages, lookups, probes)."""
    log = sandbox.stats(log=True)["log"]
    return sum(1 for entry in log if entry[1] == "GET" and str(entry[2]).startswith("/v1/users"))


def expected_state(path: Path, before: dict[str, dict[str, object]]) -> dict[str, tuple[str, str]]:
    """(firstName, plan) per user as the file says (the file wins over `before`)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(before) <= {r["identifyId"] for r in rows}
    return {r["identifyId"]: (r["firstName"], r["custom.plan"]) for r in rows}


def held(sandbox: SandboxThread) -> dict[str, tuple[str, str]]:
    return {
        uid: (u.get("firstName"), (u.get("customAttributes") or {}).get("plan"))
        for uid, u in sandbox.store.users.items()
    }


def test_the_plan_shows_the_cheaper_read_and_costs_what_it_says(sandbox_factory, tmp_path: Path) -> None:
    """A file that is most of the tenant is read as list pages; a small one by filtered lookups;
    preferences one user at a time; a plain put-first dry run states the before-images' reads."""
    sandbox = sandbox_factory(seed_users=3_000, rate_limit=0)
    env, _seed = seeded_tenant(sandbox, tmp_path, 2_500)  # 5,500 users in the tenant
    big = edited_file(tmp_path, 2_500, changed=3, new=0, name="big.csv")

    reads = user_reads(sandbox)
    plan = run_cli(
        ["import", "users", str(big), "--changed-only", "--dry-run", "--run-dir", str(tmp_path / "p1")], env
    )
    assert plan.exit_code == 0, plan.output
    assert "list all 5,500 users in 1 key range(s), 1,000 per page: ~7 requests" in plan.output
    assert "cheaper than looking up 2,500 keys" in plan.output
    assert user_reads(sandbox) - reads <= 1 + 7  # preflight, probe and 6 pages, not 25 lookups
    assert "updates             3" in plan.output and "unchanged           2,497" in plan.output

    small = edited_file(tmp_path, 150, changed=2, new=1, name="small.csv")
    reads = user_reads(sandbox)
    plan = run_cli(
        ["import", "users", str(small), "--changed-only", "--dry-run", "--run-dir", str(tmp_path / "p2")], env
    )
    assert plan.exit_code == 0, plan.output
    assert "look up 151 keys, 100 per filtered list request: ~3 requests" in plan.output
    assert user_reads(sandbox) - reads == 1 + 3  # preflight, probe and two filtered lists
    assert {line[0] for line in read_changes(tmp_path / "p2")} == {"U000000", "U000001", "N00000"}

    prefs = tmp_path / "prefs.csv"
    prefs.write_text("identifyId,trackUsage\nU000001,false\nU000002,true\n", encoding="utf-8")
    plan = run_cli(
        [
            "import",
            "preferences",
            str(prefs),
            "--changed-only",
            "--dry-run",
            "--run-dir",
            str(tmp_path / "p3"),
        ],
        env,
    )
    assert plan.exit_code == 0, plan.output
    assert "current preferences: one read per user (the API lists none): ~2 requests" in plan.output

    writes = len(writes_seen(sandbox))
    plain = run_cli(["import", "users", str(small), "--dry-run", "--strategy", "put-first"], env)
    assert plain.exit_code == 0, plain.output
    assert "before-images for undo: current records: look up 151 keys" in plain.output
    assert len(writes_seen(sandbox)) == writes


def test_emails_compare_as_the_api_keeps_their_case(sandbox: SandboxThread, tmp_path: Path) -> None:
    """While every stored email is lower case the API may be folding case: a case-only difference is no
    change (it would be sent on every run). Once a stored email shows capitals, the API keeps case, and
    a case-only edit in the file is a change like any other."""
    env, seed = seeded_tenant(sandbox, tmp_path, 6)
    rows = [dict(cells) for cells in seed.valid.values()]
    rows[1]["email"] = "User1@Example.com"
    rewrite(seed.path, rows)
    writes = len(writes_seen(sandbox))
    folded = run_cli(
        ["import", "users", str(seed.path), "--changed-only", "--run-dir", str(tmp_path / "a"), "-q"], env
    )
    assert folded.exit_code == 0, folded.output
    assert len(writes_seen(sandbox)) == writes
    assert summary_of(tmp_path / "a")["rows_unchanged"] == 6

    api_put_user(sandbox, "U000005", {"email": "Mixed.Case@Example.com"})  # the API kept the capitals
    rows[5]["email"] = "Mixed.Case@Example.com"  # the file agrees with Gainsight: still no change
    rewrite(seed.path, rows)
    kept = run_cli(
        ["import", "users", str(seed.path), "--changed-only", "--run-dir", str(tmp_path / "b"), "-q"], env
    )
    assert kept.exit_code == 0, kept.output
    assert read_changes(tmp_path / "b") == [
        ("U000001", "update", "email", "user1@example.com", "User1@Example.com")
    ]
    assert sandbox.store.users["U000001"]["email"] == "User1@Example.com"
    assert [entry[2] for entry in writes_seen(sandbox)[writes:]] == ["/v1/users/U000005", "/v1/users/U000001"]


def test_kill_9_then_resume_writes_each_change_once(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=15)
    n, changed, new = 300, 150, 20
    env, _seed = seeded_tenant(sandbox, tmp_path, n)
    edit = edited_file(tmp_path, n, changed=changed, new=new)
    expected = expected_state(edit, visible(sandbox.store))
    writes = len(writes_seen(sandbox))
    run_dir = tmp_path / "run"
    args = ["import", "users", str(edit), "--changed-only", "--workers", "4", "--run-dir", str(run_dir), "-q"]
    kill_9_after_writes(sandbox, args, env, tmp_path, writes + 40)
    assert held(sandbox) != expected  # stopped half way
    resumed = run_cli(["resume", str(run_dir), "-q"], env)
    assert resumed.exit_code == 0, resumed.output
    assert held(sandbox) == expected
    sent = writes_seen(sandbox)[writes:]
    paths = [entry[2] for entry in sent]
    wanted = {f"/v1/users/U{i:06d}" for i in range(changed)} | {"/v1/users"}
    assert set(paths) == wanted
    assert paths.count("/v1/users") == new  # creates are never sent twice
    # Answers reach the journal in batches: idempotent PUTs answered just before the kill may be sent
    # once more by the resume; a POST never is, and nothing is sent a third time.
    assert all(count <= 2 for count in Counter(p for p in paths if p != "/v1/users").values())
    summary = summary_of(run_dir)
    assert summary["rows_unchanged"] == n - changed
    assert summary["rows_succeeded"] == n + new
    assert summary["changes"] == {"create": new, "update": changed}
    lines = read_changes(run_dir)
    assert len([line for line in lines if line[1] == "update"]) == 2 * changed  # firstName and plan
    assert {line[0] for line in lines if line[1] == "create"} == {f"N{i:05d}" for i in range(new)}


def test_a_quota_pause_resumes_to_exactly_the_changed_rows(sandbox: SandboxThread, tmp_path: Path) -> None:
    seeded_tenant(sandbox, tmp_path, 100)
    env = cli_env(sandbox, tmp_path / "state-nightly")  # a ledger of its own: the seed run is not counted
    edit = edited_file(tmp_path, 100, changed=30, new=0)
    expected = expected_state(edit, visible(sandbox.store))
    writes = len(writes_seen(sandbox))
    run_dir = tmp_path / "run"
    paused = run_cli(
        [
            "import",
            "users",
            str(edit),
            "--changed-only",
            "--daily-limit",
            "20",
            "--run-dir",
            str(run_dir),
            "-q",
        ],
        env,
    )
    assert paused.exit_code == 4, paused.output
    assert summary_of(run_dir)["status"] == "paused"
    assert 0 < len(writes_seen(sandbox)) - writes < 30
    resumed = run_cli(["resume", str(run_dir), "--daily-limit", "1000", "-q"], env)
    assert resumed.exit_code == 0, resumed.output
    paths = [entry[2] for entry in writes_seen(sandbox)[writes:]]
    assert sorted(paths) == sorted(f"/v1/users/U{i:06d}" for i in range(30))  # each once, nothing else
    assert held(sandbox) == expected
    assert summary_of(run_dir)["rows_unchanged"] == 70
    assert len(read_changes(run_dir)) == 60


def test_strict_and_rate_work_with_changed_only(sandbox: SandboxThread, tmp_path: Path) -> None:
    env, _seed = seeded_tenant(sandbox, tmp_path, 40)
    edit = edited_file(tmp_path, 40, changed=12, new=0)
    rows = list(csv.DictReader(edit.open(encoding="utf-8")))
    writes = len(writes_seen(sandbox))
    broken = tmp_path / "broken.csv"
    rewrite(broken, [*rows, {**rows[0], "identifyId": "X1", "signUpDate": "not a date"}], USER_HEADERS)
    strict = run_cli(["import", "users", str(broken), "--changed-only", "--strict", "-q"], env)
    assert strict.exit_code == 3, strict.output
    assert len(writes_seen(sandbox)) == writes

    started = len(sandbox.stats(log=True)["log"])
    slow = run_cli(
        [
            "import",
            "users",
            str(edit),
            "--changed-only",
            "--rate",
            "4",
            "--run-dir",
            str(tmp_path / "r"),
            "-q",
        ],
        env,
    )
    assert slow.exit_code == 0, slow.output
    arrivals = [entry[0] for entry in sandbox.stats(log=True)["log"][started:]]
    assert len(writes_seen(sandbox)) - writes == 12
    # reads and writes alike, under the --rate (the limiter spaces its grants; the first request's
    # arrival is delayed by the connection set-up, so it is left out of the windows)
    assert max_in_sliding_second(arrivals[1:]) <= 4


def test_an_xlsx_input_gets_changes_xlsx(sandbox: SandboxThread, tmp_path: Path) -> None:
    env, seed = seeded_tenant(sandbox, tmp_path, 5)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(USER_HEADERS)
    for i, cells in enumerate(seed.valid.values()):
        sheet.append([("Renamed" if i == 2 and h == "firstName" else cells[h]) for h in USER_HEADERS])
    path = tmp_path / "users.xlsx"
    workbook.save(path)
    run = run_cli(
        ["import", "users", str(path), "--changed-only", "--run-dir", str(tmp_path / "x"), "-q"], env
    )
    assert run.exit_code == 0, run.output
    expected = [("U000002", "update", "firstName", seed.valid["U000002"]["firstName"], "Renamed")]
    assert read_changes(tmp_path / "x") == expected
    book = openpyxl.load_workbook(tmp_path / "x" / "changes.xlsx", read_only=True)
    cells = [
        tuple("" if c is None else str(c) for c in row) for row in book.active.iter_rows(values_only=True)
    ]
    assert cells == [("key", "action", "field", "before", "after"), *expected]


def test_an_empty_cell_leaves_the_field_as_it_is(sandbox: SandboxThread, tmp_path: Path) -> None:
    """Blank cells are no change (not "set to empty"): a row whose only differences are blanks is
    unchanged, and a row with one real edit sends that edit alone."""
    env, seed = seeded_tenant(sandbox, tmp_path, 3)
    rows = [dict(cells) for cells in seed.valid.values()]
    rows[0].update({"lastName": "", "custom.plan": "", "signUpDate": ""})
    rows[1].update({"lastName": "", "firstName": "Renamed"})
    rewrite(seed.path, rows)
    writes = len(writes_seen(sandbox))
    run = run_cli(
        ["import", "users", str(seed.path), "--changed-only", "--run-dir", str(tmp_path / "r")], env
    )
    assert run.exit_code == 0, run.output
    assert read_changes(tmp_path / "r") == [
        ("U000001", "update", "firstName", seed.valid["U000001"]["firstName"], "Renamed")
    ]
    summary = " ".join(run.stdout.split())  # the human summary: counts per action, the fields most changed
    assert "Changes update 1, unchanged 2" in summary and "Most changed firstName 1" in summary
    assert [entry[2] for entry in writes_seen(sandbox)[writes:]] == ["/v1/users/U000001"]
    assert sandbox.store.users["U000000"]["lastName"] == seed.valid["U000000"]["lastName"]
    assert sandbox.store.users["U000001"]["lastName"] == seed.valid["U000001"]["lastName"]
    assert summary_of(tmp_path / "r")["rows_unchanged"] == 2
