"""A stopped export (Ctrl-C, quota, kill -9, expired cursors) leaves no OUT file, and `batchgs resume`
finishes it into the very file an uninterrupted export writes, without paging done parts again."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from batchgs.errors import Interrupted
from batchgs.run.journal import Journal
from tests.cli.cli_helpers import cli_env, interrupt, interrupt_twice, run_cli, spawn, wait_until
from tests.engine.export.export_helpers import (
    no_temp_files,
    options_for,
    read_csv,
    run_library,
    seeded_store,
    summary_of,
)

ARGS = ["--slices", "4", "--page-size", "20"]


@pytest.fixture
def store() -> Any:
    return seeded_store(users=600, accounts=10)


def reference(sandbox: Any, tmp_path: Path, env: dict[str, str], suffix: str = "csv") -> bytes:
    out = tmp_path / f"reference.{suffix}"
    result = run_cli(
        ["export", "users", "-o", str(out), *ARGS, "-q", "--run-dir", str(tmp_path / "ref")], env
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def pages_done(run_dir: Path) -> int:
    if not (run_dir / "journal.sqlite3").exists():
        return 0
    try:
        with Journal.open(run_dir, lock=False) as journal:
            plan = journal.get_progress("plan") or {}
            return sum(
                int((journal.get_progress(f"part/{i}") or {}).get("pages", 0)) for i in plan.get("parts", [])
            )
    except Exception:  # the file is being created
        return 0


def test_interrupted_then_resumed_gives_the_same_file(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state, out = tmp_path / "state", tmp_path / "users.csv"
    expected = reference(sandbox, tmp_path, cli_env(sandbox, state))
    sandbox.reset_stats()
    options = options_for("users", out, slices=4, page_size=20)
    first = run_library(sandbox, state, tmp_path / "run", options, stop_when=lambda p: p.pages >= 10)
    assert isinstance(first.error, Interrupted)
    assert not out.exists() and no_temp_files(tmp_path)
    second = run_library(sandbox, state, tmp_path / "run")
    assert second.error is None
    assert out.read_bytes() == expected
    # the resume continued the plan and the cursors: no metadata, no probe again
    assert all(path == "/v1/users" and ("pageSize", 1) not in pairs for _, path, pairs in second.calls)
    total = len(first.calls) + len(second.calls)
    assert total <= 3 + 30 + 8 + 4  # metadata + probes, 600/20 pages, a partial page per part, in flight


def test_resume_after_the_cursors_expired_pages_again_cleanly(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state, out = tmp_path / "state", tmp_path / "users.csv"
    expected = reference(sandbox, tmp_path, cli_env(sandbox, state))
    options = options_for("users", out, slices=4, page_size=20)
    first = run_library(sandbox, state, tmp_path / "run", options, stop_when=lambda p: p.pages >= 6)
    assert isinstance(first.error, Interrupted)
    sandbox.advance_clock(3600)  # every scroll expires (300 s)
    second = run_library(sandbox, state, tmp_path / "run")
    assert second.error is None and second.result is not None
    assert out.read_bytes() == expected
    assert any("refused (expired)" in note for note in second.result.notes)


def test_quota_pause_exit_4_then_resume(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    expected = reference(sandbox, tmp_path, env)
    sandbox.configure(daily_limit=sandbox.stats(log=False)["requests_total"] + 20)  # half of an export
    out, run_dir = tmp_path / "users.csv", tmp_path / "run"
    result = run_cli(["export", "users", "-o", str(out), *ARGS, "--run-dir", str(run_dir), "-q"], env)
    assert result.exit_code == 4, result.output
    assert "daily request limit" in result.output and f"batchgs resume {run_dir}" in result.output
    assert not out.exists() and no_temp_files(tmp_path)
    assert summary_of(run_dir)["status"] == "paused" and summary_of(run_dir)["status_reason"] == "quota"
    done_before = pages_done(run_dir)
    assert done_before > 5
    sandbox.configure(daily_limit=0)
    sandbox.reset_stats()
    result = run_cli(["resume", str(run_dir), "-q"], env)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected
    assert sandbox.stats()["requests_total"] <= 30 + 8 - done_before + 4  # only what was left
    assert summary_of(run_dir)["status"] == "completed"
    assert not (run_dir / "spool").exists()  # page spools are dropped after the commit
    assert run_cli(["resume", str(run_dir)], env).exit_code == 0  # complete: nothing to do


def test_local_daily_limit_pauses_and_a_larger_one_resumes(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    out, run_dir = tmp_path / "users.jsonl", tmp_path / "run"
    args = ["export", "users", "-o", str(out), *ARGS, "--run-dir", str(run_dir), "--daily-limit", "15"]
    result = run_cli(args, env)
    assert result.exit_code == 4 and not out.exists()
    result = run_cli(["resume", str(run_dir), "--daily-limit", "1000", "-q"], env)
    assert result.exit_code == 0, result.output
    assert sorted(line for line in out.read_text().splitlines()) and len(out.read_text().splitlines()) == 600


def test_changed_ids_file_is_refused_on_resume(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0, daily_limit=8)
    env = cli_env(sandbox, tmp_path / "state")
    ids = tmp_path / "ids.csv"
    ids.write_text("identifyId\n" + "\n".join(sorted(store.users)[:50]) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    args = [
        "export",
        "preferences",
        "-o",
        str(tmp_path / "p.csv"),
        "--ids",
        str(ids),
        "--run-dir",
        str(run_dir),
    ]
    assert run_cli(args, env).exit_code == 4
    ids.write_text("identifyId\nsomeone-else\n", encoding="utf-8")
    sandbox.configure(daily_limit=0)
    result = run_cli(["resume", str(run_dir)], env)
    assert result.exit_code == 5 and "changed" in result.output.lower()


def test_ctrl_c_on_a_real_process_then_resume(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    expected = reference(sandbox, tmp_path, env)
    sandbox.configure(latency_ms=25)
    out, run_dir = tmp_path / "users.csv", tmp_path / "run"
    proc = spawn(["export", "users", "-o", str(out), *ARGS, "--run-dir", str(run_dir)], env, tmp_path)
    assert wait_until(lambda: pages_done(run_dir) >= 4, proc)
    code, _, err = interrupt(proc, signal.SIGINT)
    assert code == 4, err
    assert f"batchgs resume {run_dir}" in err and "Traceback" not in err
    assert not out.exists() and no_temp_files(tmp_path)
    sandbox.configure(latency_ms=0)
    assert run_cli(["resume", str(run_dir), "-q"], env).exit_code == 0
    assert out.read_bytes() == expected


def test_ctrl_c_twice_stops_at_once_and_the_run_still_resumes(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    expected = reference(sandbox, tmp_path, env)
    sandbox.configure(latency_ms=400)  # the second Ctrl-C comes while requests are in flight
    out, run_dir = tmp_path / "users.csv", tmp_path / "run"
    proc = spawn(["export", "users", "-o", str(out), *ARGS, "--run-dir", str(run_dir)], env, tmp_path)
    assert wait_until(lambda: pages_done(run_dir) >= 4, proc)
    code, _, err = interrupt_twice(proc)
    assert code == 4, err
    assert "interrupted twice" in err and f"batchgs resume {run_dir}" in err and "Traceback" not in err
    assert not out.exists()
    assert json.loads(run_cli(["status", str(run_dir), "--json"], {}).stdout)["status"] == "paused"
    sandbox.configure(latency_ms=0)
    assert run_cli(["resume", str(run_dir), "-q"], env).exit_code == 0
    assert out.read_bytes() == expected and no_temp_files(tmp_path)


def test_kill_9_midway_then_resume_gives_the_same_file(sandbox_factory, tmp_path: Path, store) -> None:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    reference(sandbox, tmp_path, env, "xlsx")
    sandbox.configure(latency_ms=20)
    out, run_dir = tmp_path / "users.xlsx", tmp_path / "run"
    proc = spawn(["export", "users", "-o", str(out), *ARGS, "--run-dir", str(run_dir)], env, tmp_path)
    assert wait_until(lambda: pages_done(run_dir) >= 9, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and 9 <= pages_done(run_dir) < 30  # killed midway
    assert not out.exists()
    sandbox.configure(latency_ms=0)
    result = run_cli(["resume", str(run_dir), "-q"], env)
    assert result.exit_code == 0, result.output
    assert _xlsx_rows(out) == _xlsx_rows(tmp_path / "reference.xlsx")
    assert len(_xlsx_rows(out)) == 600 and no_temp_files(tmp_path)


def _xlsx_rows(path: Path) -> list[tuple[Any, ...]]:
    import openpyxl

    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    return list(sheet.iter_rows(min_row=2, values_only=True))


def test_denylist_of_every_user_resumes_across_its_two_stages(sandbox_factory, tmp_path: Path) -> None:
    store = seeded_store(users=1200)  # three chunks of per-user GETs (500, 500, 200)
    store.denylist.update(sorted(store.users)[::9])
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state, out = tmp_path / "state", tmp_path / "deny.csv"
    options = options_for("denylist", out, slices=3, page_size=40)
    first = run_library(sandbox, state, tmp_path / "run", options, stop_when=lambda p: p.pages >= 4)
    assert isinstance(first.error, Interrupted) and not out.exists()
    second = run_library(sandbox, state, tmp_path / "run", stop_when=lambda p: p.parts_done >= 1)
    assert isinstance(second.error, Interrupted)  # this time inside the per-user stage
    assert any(c[1].startswith("/v1/users/denylist/") for c in second.calls)
    third = run_library(sandbox, state, tmp_path / "run")
    assert third.error is None
    rows = {r["identifyId"]: r["denied"] for r in read_csv(out)}
    assert len(rows) == 1200 and rows == {u: "true" if u in store.denylist else "false" for u in store.users}
    gets = [c for c in first.calls + second.calls + third.calls if c[1].startswith("/v1/users/denylist/")]
    assert len(gets) <= 1200 + 2 * 500  # a chunk cut short is asked again, nothing more
    assert not [c for c in third.calls if c[1] == "/v1/users"]  # the ids were not listed again


def test_a_stop_asked_for_as_the_last_part_ended_writes_no_file_and_resumes(
    sandbox_factory, tmp_path: Path
) -> None:
    """A stop that arrives with the last part must still stop the run before the file is written: a
    one-frame file (a per-user export of one chunk) was written before an asynchronous watcher saw it."""
    store = seeded_store(users=90)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    state, out = tmp_path / "state", tmp_path / "deny.csv"
    options = options_for("denylist", out, slices=1, page_size=50)
    every_part_done = lambda p: p.phase == "fetch" and p.parts > 0 and p.parts_done == p.parts  # noqa: E731
    first = run_library(sandbox, state, tmp_path / "run", options, stop_when=every_part_done)
    assert isinstance(first.error, Interrupted), first.progress[-1]
    assert not out.exists() and no_temp_files(tmp_path)
    second = run_library(sandbox, state, tmp_path / "run")
    assert second.error is None and len(read_csv(out)) == 90
    assert not [c for c in second.calls if c[1].startswith("/v1/users")]  # every answer was kept
