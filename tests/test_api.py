"""The Python API (batchgs.api, re-exported by `batchgs`) against the sandbox: each job sync, async and
inside a running event loop, its results and its typed errors, and a scheduler-style call from a thread."""

from __future__ import annotations

import asyncio
import csv
import inspect
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

import batchgs
from batchgs.sandbox.server import SandboxThread
from tests.api_helpers import creds
from tests.cli.cli_helpers import PRODUCT_KEY, WAIT_LIMIT_S, run_cli
from tests.engine.imports.import_helpers import write_users
from tests.engine.optout.optout_helpers import populate, write_list


def test_import_file_sends_the_rows_and_reports_progress(sandbox: SandboxThread, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 30, invalid_every=10)
    seen: list[tuple[int, int | None]] = []
    result = batchgs.import_file(
        "users",
        users.path,
        run_dir=tmp_path / "run",
        credentials=creds(sandbox),
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert result.status == "completed" and result.exit_code == 1 and not result.ok
    assert (result.rows_total, result.rows_succeeded, result.rows_invalid) == (30, 27, 3)
    assert result.run_dir == tmp_path / "run"
    assert result.errors_csv == tmp_path / "run" / "errors.csv" and result.success_csv is not None
    assert result.summary["operations"] == {"created": 27}
    assert set(sandbox.store.users) == set(users.valid)
    assert seen and seen[-1] == (30, 30) and all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_the_sync_call_works_inside_a_running_loop_and_the_async_twin_too(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    first = write_users(tmp_path / "a.csv", 8)
    second = write_users(tmp_path / "b.csv", 6, start=100)

    async def notebook_cell() -> tuple[batchgs.RunResult, batchgs.RunResult]:
        in_loop = batchgs.import_file("users", first.path, run_dir=tmp_path / "a", credentials=creds(sandbox))
        awaited = await batchgs.import_file_async(
            "users", second.path, run_dir=tmp_path / "b", credentials=creds(sandbox)
        )
        return in_loop, awaited

    in_loop, awaited = asyncio.run(notebook_cell())
    assert (in_loop.status, in_loop.rows_succeeded, in_loop.exit_code) == ("completed", 8, 0)
    assert (awaited.status, awaited.rows_succeeded, awaited.exit_code) == ("completed", 6, 0)
    assert len(sandbox.store.users) == 14


def test_export_to_parquet_sync_and_async(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed_users=120)
    result = batchgs.export(
        "users", tmp_path / "users.parquet", credentials=creds(sandbox), run_dir=tmp_path / "r1"
    )
    assert result.status == "completed" and result.output == tmp_path / "users.parquet"
    frame = pl.read_parquet(result.output)
    assert frame.height == 120 == result.summary["rows_exported"]
    assert set(frame["identifyId"]) == set(sandbox.store.users)
    done_already = batchgs.resume(tmp_path / "r1", credentials=creds(sandbox))  # nothing left to do
    assert (done_already.status, done_already.exit_code, done_already.run_dir) == (
        "completed",
        0,
        tmp_path / "r1",
    )

    again = asyncio.run(
        batchgs.export_async(
            "users",
            tmp_path / "users.csv",
            credentials=creds(sandbox),
            run_dir=tmp_path / "r2",
            columns=["identifyId"],
        )
    )
    assert again.status == "completed"
    assert pl.read_csv(tmp_path / "users.csv").columns == ["identifyId"]


def test_validate_file_counts_and_strict_raises(tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 20, invalid_every=5)
    result = batchgs.validate_file(
        "users", users.path, run_dir=tmp_path / "v", offline=True, product_key=PRODUCT_KEY
    )
    assert (result.rows_total, result.rows_valid, result.rows_invalid, result.exit_code) == (20, 16, 4, 1)
    assert result.errors_csv is not None and result.errors_csv.is_file()
    assert sum(result.issues_by_code.values()) >= 4
    with pytest.raises(batchgs.StrictValidationError) as raised:
        batchgs.validate_file(
            "users", users.path, run_dir=tmp_path / "v2", offline=True, strict=True, product_key=PRODUCT_KEY
        )
    assert raised.value.exit_code == 3
    clean = asyncio.run(
        batchgs.validate_file_async(
            "users",
            write_users(tmp_path / "ok.csv", 3).path,
            run_dir=tmp_path / "v3",
            offline=True,
            product_key=PRODUCT_KEY,
        )
    )
    assert clean.ok and clean.exit_code == 0


def test_optout_writes_a_receipt(sandbox: SandboxThread, tmp_path: Path) -> None:
    populate(sandbox.store, 10)
    people = write_list(tmp_path / "list.csv", [(f"U{i:05d}", "") for i in range(4)])
    result = batchgs.optout(people, run_dir=tmp_path / "o", credentials=creds(sandbox), yes=True)
    assert result.status == "completed" and result.exit_code == 0
    assert result.receipt_csv is not None and result.receipt_json is not None
    receipt = json.loads(result.receipt_json.read_text())
    assert receipt  # the receipt exists and parses
    with result.receipt_csv.open(newline="", encoding="utf-8") as handle:
        statuses = {row["status"] for row in csv.DictReader(handle)}
    assert statuses <= {"opted-out", "already-opted-out"} and statuses
    assert all(not any(sandbox.store.preferences[f"U{i:05d}"].values()) for i in range(4))


def test_a_bad_key_raises_the_fatal_error_and_resume_finishes_the_run(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    users = write_users(tmp_path / "users.csv", 12)
    run_dir = tmp_path / "run"
    with pytest.raises(batchgs.FatalApiError) as raised:
        batchgs.import_file("users", users.path, run_dir=run_dir, credentials=creds(sandbox, key="wrong-key"))
    assert raised.value.exit_code == 4 and "batchgs resume" in (raised.value.hint or "")
    assert isinstance(raised.value, batchgs.ResumableStop)
    assert "wrong-key" not in str(raised.value) + (raised.value.hint or "")
    assert batchgs.status(run_dir).status == "paused"

    resumed = batchgs.resume(run_dir, credentials=creds(sandbox))
    assert (resumed.status, resumed.rows_succeeded, resumed.exit_code) == ("completed", 12, 0)
    after = batchgs.status(run_dir)
    assert (after.status, after.rows_succeeded, after.run_dir) == ("completed", 12, run_dir)
    assert after.summary["options"]["strategy"] == "auto"  # the CLI's default, from the same definition


def test_undo_takes_an_import_back(sandbox: SandboxThread, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 7)
    batchgs.import_file("users", users.path, run_dir=tmp_path / "run", credentials=creds(sandbox))
    assert len(sandbox.store.users) == 7
    with pytest.raises(batchgs.UsageError):  # it asks for confirmation, and code has no terminal
        batchgs.undo(tmp_path / "run", undo_dir=tmp_path / "undo0", credentials=creds(sandbox))
    assert len(sandbox.store.users) == 7
    undone = asyncio.run(
        batchgs.undo_async(tmp_path / "run", undo_dir=tmp_path / "undo", yes=True, credentials=creds(sandbox))
    )
    assert (undone.status, undone.exit_code, undone.run_dir) == ("completed", 0, tmp_path / "undo")
    assert not sandbox.store.users  # the records the import created are deleted again


def test_a_changed_input_makes_the_run_unresumable(sandbox: SandboxThread, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 5)
    run_dir = tmp_path / "run"
    with pytest.raises(batchgs.FatalApiError):
        batchgs.import_file("users", users.path, run_dir=run_dir, credentials=creds(sandbox, key="wrong-key"))
    write_users(users.path, 6)
    with pytest.raises(batchgs.NotResumableError) as raised:
        asyncio.run(batchgs.resume_async(run_dir, credentials=creds(sandbox)))
    assert raised.value.exit_code == 5


def test_usage_errors_are_typed_and_name_the_options(tmp_path: Path) -> None:
    with pytest.raises(batchgs.UsageError) as raised:
        batchgs.import_file("users", tmp_path / "users.csv", no_such_option=1)
    assert "no_such_option" in raised.value.message and "dry_run" in (raised.value.hint or "")
    with pytest.raises(batchgs.UsageError):  # click's own check (the file must exist) comes through typed
        batchgs.import_file("users", tmp_path / "missing.csv", dry_run=True)
    with pytest.raises(batchgs.ConfigError):  # no key anywhere: exit 2
        batchgs.import_file("users", write_users(tmp_path / "u.csv", 2).path, run_dir=tmp_path / "r")


def test_option_defaults_are_what_the_cli_runs_with(sandbox: SandboxThread, tmp_path: Path) -> None:
    """The API's defaults are read from the click options; check them against what the CLI really
    does when an option is left out (its journal records the options it ran with)."""
    defaults = batchgs.option_defaults("import")
    assert defaults["strategy"] == "auto" and defaults["workers"] == 64
    assert defaults["timezone"] is None  # decided at run time: a --map config.json's zone, else UTC
    assert defaults["dry_run"] is False and defaults["run_dir"] is None and defaults["rate"] is None
    assert batchgs.option_defaults("optout")["workers"] == 32
    users = write_users(tmp_path / "users.csv", 3)
    env = {"GAINSIGHT_PX_API_KEY": sandbox.api_key, "GAINSIGHT_PX_BASE_URL": sandbox.url}
    cli_run = run_cli(
        [
            "import",
            "users",
            str(users.path),
            "--product-key",
            PRODUCT_KEY,
            "--run-dir",
            str(tmp_path / "cli"),
            "-q",
        ],
        env,
    )
    assert cli_run.exit_code == 0, cli_run.output
    api_run = batchgs.import_file("users", users.path, run_dir=tmp_path / "api", credentials=creds(sandbox))
    recorded = {name: batchgs.status(tmp_path / name).summary["options"] for name in ("cli", "api")}
    assert recorded["api"] == recorded["cli"]
    assert (recorded["api"]["strategy"], recorded["api"]["workers"]) == (
        defaults["strategy"],
        defaults["workers"],
    )
    assert api_run.ok


def test_status_and_quota(sandbox: SandboxThread, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 4)
    state = tmp_path / "state"
    batchgs.import_file(
        "users", users.path, run_dir=tmp_path / "run", credentials=creds(sandbox), state_dir=state
    )
    status = asyncio.run(batchgs.status_async(tmp_path / "run"))
    assert (status.status, status.rows_succeeded, status.exit_code) == ("completed", 4, 0)
    report = batchgs.quota(state_dir=state, credentials=creds(sandbox))
    assert report.state_dir == state
    [key] = report.keys
    assert key.current_key and key.used >= 4 and key.used + key.left == key.daily_limit
    other = asyncio.run(batchgs.quota_async(state_dir=state, credentials=creds(sandbox, key="another-key")))
    assert [k.current_key for k in other.keys] == [False]
    cli_json = json.loads(run_cli(["quota", "--state-dir", str(state), "--json"], {}).stdout)
    assert cli_json["keys"][0]["used"] == key.used


def test_credentials_never_show_their_keys(
    sandbox: SandboxThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "px-secret-value-123456"
    credentials = batchgs.Credentials(px_api_key=secret, base_url=sandbox.url, product_key=PRODUCT_KEY)
    assert secret not in repr(credentials) and secret not in str(credentials)
    caplog.set_level(logging.DEBUG, logger="batchgs")
    with pytest.raises(batchgs.FatalApiError) as raised:
        batchgs.import_file(
            "users", write_users(tmp_path / "u.csv", 3).path, run_dir=tmp_path / "r", credentials=credentials
        )
    assert secret not in caplog.text and secret not in str(raised.value)
    assert "GAINSIGHT_PX_API_KEY" not in os.environ  # nothing leaked into the process environment
    assert any("run folder" in record.getMessage() for record in caplog.records)


def test_a_scheduler_task_calls_it_from_a_plain_thread(sandbox_factory, tmp_path: Path) -> None:
    """What an Airflow PythonOperator does: a plain function, run in a worker thread, no loop."""
    sandbox = sandbox_factory(seed_users=40)
    outcome: dict[str, object] = {}

    def nightly_export(**context: object) -> str:
        result = batchgs.export(
            "users",
            tmp_path / "nightly.jsonl",
            credentials=creds(sandbox),
            run_dir=tmp_path / "run",
            force=True,
        )
        if not result.ok:
            raise RuntimeError(f"export ended with {result.status}")
        return str(result.output)

    worker = threading.Thread(target=lambda: outcome.update(path=nightly_export(ds="2026-12-05")))
    worker.start()
    worker.join(timeout=WAIT_LIMIT_S)
    assert not worker.is_alive()
    lines = Path(str(outcome["path"])).read_text().splitlines()
    assert len(lines) == 40


def test_parallel_calls_from_threads_keep_their_own_credentials(sandbox_factory, tmp_path: Path) -> None:
    """Two tasks of a scheduler at once, each with its own tenant: keys never cross (context variables)."""
    first, second = sandbox_factory(api_key="key-one"), sandbox_factory(api_key="key-two")
    results: dict[str, batchgs.RunResult] = {}

    def task(name: str, sandbox: SandboxThread, rows: int) -> None:
        users = write_users(tmp_path / f"{name}.csv", rows, start=rows)
        results[name] = batchgs.import_file(
            "users", users.path, run_dir=tmp_path / name, credentials=creds(sandbox)
        )

    workers = [
        threading.Thread(target=task, args=("one", first, 30)),
        threading.Thread(target=task, args=("two", second, 40)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=WAIT_LIMIT_S)
    assert (results["one"].rows_succeeded, results["two"].rows_succeeded) == (30, 40)
    assert (len(first.store.users), len(second.store.users)) == (30, 40)


def test_cancelling_the_async_call_pauses_the_run_resumably(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(latency_ms=20)
    users = write_users(tmp_path / "users.csv", 400)
    run_dir = tmp_path / "run"

    async def start_then_cancel() -> None:
        first = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(
            batchgs.import_file_async(
                "users",
                users.path,
                run_dir=run_dir,
                credentials=creds(sandbox),
                rate=20,
                on_progress=lambda done, total: loop.call_soon_threadsafe(first.set),
            )
        )
        await asyncio.wait_for(first.wait(), WAIT_LIMIT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_cancel())
    paused = batchgs.status(run_dir)
    assert paused.status == "paused" and 0 < paused.rows_succeeded < 400
    finished = batchgs.resume(run_dir, credentials=creds(sandbox), rate=190)  # the run was started at 20/s
    assert finished.rows_succeeded == 400 and len(sandbox.store.users) == 400


def test_the_sandbox_context_manager(tmp_path: Path) -> None:
    with batchgs.Sandbox(seed_users=25) as sb:
        assert sb.base_url.startswith("http://127.0.0.1:") and sb.api_key == "sandbox"
        assert "sandbox'" not in repr(sb.credentials)
        result = batchgs.export(
            "users", tmp_path / "u.csv", credentials=sb.credentials, run_dir=tmp_path / "r"
        )
        assert result.rows_succeeded == 25
    with pytest.raises(batchgs.UsageError):
        sb.base_url  # noqa: B018 - stopped: no URL any more
    with pytest.raises(batchgs.UsageError), batchgs.Sandbox(no_such_setting=1):
        pass


def test_import_batchgs_stays_light() -> None:
    code = (
        "import sys, batchgs; batchgs.Credentials; batchgs.RunResult; batchgs.UsageError; "
        "heavy = ('polars', 'aiohttp', 'openpyxl', 'pyarrow', 'batchgs.sandbox', 'click'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_LIMIT_S)
    assert done.stdout.strip() == "[]", done.stderr
    with pytest.raises(AttributeError):
        batchgs.no_such_name  # noqa: B018
    assert set(batchgs.api.__all__) <= set(dir(batchgs))
    assert (batchgs.import_file.__name__, batchgs.export_async.__name__) == ("import_file", "export_async")
    assert "send the file's rows" in (batchgs.import_file.__doc__ or "")
    assert "on_progress" in str(inspect.signature(batchgs.import_file_async))
    assert all(getattr(batchgs, name) is getattr(batchgs.api, name) for name in batchgs.api.__all__)


ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The first Python block of README's "From Python" section, exactly as a reader copies it."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## From Python\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=tmp_path,
        env={**base, "BATCHGS_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_S,
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0].split()
    assert first[:2] == ["completed", "1000"] and first[2].endswith("users.parquet")
    assert "identifyId" in done.stdout and "email" in done.stdout
    assert pl.read_parquet(tmp_path / "users.parquet").height == 1000


def test_docs_api_lists_every_option() -> None:
    from batchgs.cli.inprocess import DOC_BEGIN, DOC_END, render_options_markdown

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0]
    assert block.strip() == render_options_markdown().strip(), (
        "docs/api.md is stale: run `python -m batchgs.cli.inprocess docs/api.md`"
    )
    for name in ("run_dir", "dry_run", "strategy", "filters", "retry_failed", "unsubscribe_email"):
        assert f"| `{name}` |" in block


def test_every_job_runs_sync_inside_a_running_loop_and_awaited(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    """A notebook cell (a running event loop): each function called plainly (it moves to a worker thread,
    `asyncio.run` would refuse here) and its `_async` twin awaited; progress reaches the callback."""
    populate(sandbox.store, 10)
    users = write_users(tmp_path / "users.csv", 6, start=100)
    first = write_list(tmp_path / "first.csv", [(f"U{i:05d}", "") for i in range(3)])
    second = write_list(tmp_path / "second.csv", [(f"U{i:05d}", "") for i in range(3, 6)])
    credentials = creds(sandbox)
    heard: dict[str, list[tuple[int, int | None, str]]] = {}

    def listener(name: str) -> batchgs.ProgressCallback:
        heard[name] = []
        return lambda done, total: heard[name].append((done, total, threading.current_thread().name))

    async def cell() -> dict[str, object]:
        out: dict[str, object] = {}
        check = {"offline": True, "product_key": PRODUCT_KEY}
        out["validate"] = batchgs.validate_file("users", users.path, run_dir=tmp_path / "v1", **check)
        out["validate_async"] = await batchgs.validate_file_async(
            "users", users.path, run_dir=tmp_path / "v2", **check
        )
        out["import"] = batchgs.import_file(
            "users",
            users.path,
            run_dir=tmp_path / "imp",
            credentials=credentials,
            on_progress=listener("import"),
        )
        out["export"] = batchgs.export(
            "users",
            tmp_path / "e1.csv",
            run_dir=tmp_path / "e1",
            credentials=credentials,
            on_progress=listener("export"),
        )
        out["export_async"] = await batchgs.export_async(
            "users", tmp_path / "e2.jsonl", run_dir=tmp_path / "e2", credentials=credentials
        )
        out["optout"] = batchgs.optout(
            first, run_dir=tmp_path / "o1", credentials=credentials, yes=True, on_progress=listener("optout")
        )
        out["optout_async"] = await batchgs.optout_async(
            second,
            run_dir=tmp_path / "o2",
            credentials=credentials,
            yes=True,
            on_progress=listener("optout_async"),
        )
        out["resume"] = batchgs.resume(tmp_path / "imp", credentials=credentials)  # complete: its summary
        out["resume_async"] = await batchgs.resume_async(tmp_path / "e1", credentials=credentials)
        out["status"] = batchgs.status(tmp_path / "o1")
        out["status_async"] = await batchgs.status_async(tmp_path / "imp")
        out["quota"] = batchgs.quota(credentials=credentials)
        out["quota_async"] = await batchgs.quota_async(credentials=credentials)
        out["undo"] = batchgs.undo(
            tmp_path / "imp", undo_dir=tmp_path / "u1", dry_run=True, credentials=credentials
        )
        out["undo_async"] = await batchgs.undo_async(
            tmp_path / "imp",
            undo_dir=tmp_path / "u2",
            yes=True,
            credentials=credentials,
            on_progress=listener("undo"),
        )
        return out

    out = asyncio.run(cell())
    for name in ("validate", "validate_async"):
        result = out[name]
        assert isinstance(result, batchgs.ValidationResult) and (result.rows_total, result.exit_code) == (
            6,
            0,
        )
    runs = {name: value for name, value in out.items() if isinstance(value, batchgs.RunResult)}
    assert set(runs) == set(out) - {"validate", "validate_async", "quota", "quota_async"}
    assert runs["import"].rows_succeeded == 6 and runs["import"].success_csv is not None
    assert runs["export"].rows_succeeded == 16 == pl.read_csv(tmp_path / "e1.csv").height
    assert runs["export_async"].output == tmp_path / "e2.jsonl"
    assert len((tmp_path / "e2.jsonl").read_text().splitlines()) == 16
    for name in ("optout", "optout_async"):
        assert runs[name].receipt_csv is not None and runs[name].receipt_json is not None
    assert all(not any(sandbox.store.preferences[f"U{i:05d}"].values()) for i in range(6))
    assert (runs["resume"].status, runs["resume"].rows_succeeded, runs["resume"].run_dir) == (
        "completed",
        6,
        tmp_path / "imp",
    )
    assert runs["resume_async"].run_dir == tmp_path / "e1" and runs["resume_async"].status == "completed"
    assert runs["status"].receipt_csv == tmp_path / "o1" / "receipt.csv"
    assert runs["status"].summary["people"] == 3 == runs["status"].rows_succeeded  # an opt-out counts people
    assert runs["status"].summary["statuses"] == runs["optout"].summary["statuses"]
    assert runs["status_async"].rows_succeeded == 6
    for name in ("quota", "quota_async"):
        report = out[name]
        assert isinstance(report, batchgs.QuotaResult)
        [key] = report.keys
        assert key.current_key and key.used is not None and key.used >= runs["import"].requests
    assert runs["undo"].changes_csv is not None and runs["undo"].changes_csv.parent == tmp_path / "u1"
    assert runs["undo_async"].status == "completed" and runs["undo_async"].exit_code == 0
    assert not any(f"U{100 + i:06d}" in sandbox.store.users for i in range(6))  # the import is taken back
    for name in ("import", "export", "optout", "optout_async", "undo"):
        assert heard[name], f"on_progress never called for {name}"
        done, total, _ = heard[name][-1]
        assert total is None or done == total, (name, heard[name][-1])
    # called plainly inside the loop, the job ran in the API's worker thread, not the loop's thread
    assert {thread for _, _, thread in heard["import"]} != {threading.main_thread().name}
