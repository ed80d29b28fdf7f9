"""A known, distinctive key must leave no trace anywhere: run folder, state folder (ledger), per-user
folders, captured stdout/stderr, tracebacks, in any form (plain, URL-encoded, base64, hex, a partial
piece). Real processes where it matters (what a user's terminal and disk would see)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchgs.cli.main import cli
from tests.engine.cs.cs_helpers import write_ctas, write_events
from tests.security.sec_helpers import (
    CS_ACCESS_KEY,
    CS_SHARED_SECRET,
    PROFILE_KEY,
    PX_KEY,
    PX_READONLY_KEY,
    error_lines,
    find_secrets,
    isolated_env,
    read_csv,
    run_here,
    run_process,
    write_table,
)

USER_HEADERS = ["identifyId", "email", "firstName", "lastName", "signUpDate", "custom.plan"]
EVENT_FLAGS = ["--topic", "Usage", "--event-name", "Login", "--event-version", "v01"]


def _user_rows(n: int) -> list[list[str]]:
    """Valid rows, rows invalid locally (bad date, no id), and rows the API rejects under --mode insert
    (ids that already exist: see EXISTING)."""
    rows = []
    for i in range(n):
        row = [f"U{i:04d}", f"user{i}@example.com", "Ada", f"Name{i}", "2024-05-01T10:00:00Z", "pro"]
        if i % 9 == 4:
            row[4] = "not a date"
        elif i % 9 == 7:
            row[0] = ""
        rows.append(row)
    return rows


def _existing_ids(rows: list[list[str]]) -> list[str]:
    """Ids the sandbox already holds, so that an insert of them is refused by the API (duplicate)."""
    return [row[0] for i, row in enumerate(rows) if i % 11 == 5 and row[0]]


def _px_env(sandbox_url: str, home: Path, key: str = PX_KEY) -> dict[str, str]:
    return isolated_env(
        home,
        GAINSIGHT_PX_API_KEY=key,
        GAINSIGHT_PX_BASE_URL=sandbox_url,
        GAINSIGHT_PX_PRODUCT_KEY="AP-TEST-1",
        BATCHGS_STATE_DIR=str(home / "batchgs-state"),
    )


def test_px_import_run_leaves_no_trace_of_the_key(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, read_only_keys=(PX_READONLY_KEY,), rate_limit=0)
    work = tmp_path / "work"
    work.mkdir()
    rows = _user_rows(60)
    for uid in _existing_ids(rows):
        sandbox.store.users[uid] = {"identifyId": uid, "propertyKeys": ["AP-TEST-1"]}
    users = write_table(work / "users.xlsx", USER_HEADERS, rows)  # xlsx: errors.xlsx too
    run_dir = work / "batchgs-runs" / "users-run"
    outputs: list[str] = []

    # 1. a key without Write permission: a fatal 403, exit 4, the hint names the resume command
    readonly = run_process(
        ["--debug", "import", "users", str(users), "--mode", "insert", "--run-dir", str(run_dir), "-v"],
        _px_env(sandbox.url, tmp_path, PX_READONLY_KEY),
        work,
    )
    outputs += [readonly.stdout, readonly.stderr]
    assert readonly.returncode == 4, readonly.stderr
    # 2. resume with the right key: the invalid rows make it exit 1
    resumed = run_process(["--debug", "resume", str(run_dir), "-v"], _px_env(sandbox.url, tmp_path), work)
    outputs += [resumed.stdout, resumed.stderr]
    assert resumed.returncode == 1, resumed.stderr
    errors = read_csv(run_dir / "errors.csv")
    codes = {row["_code"] for row in errors}
    assert {"bad-date", "missing-required", "api-rejected"} <= codes, codes
    assert (run_dir / "errors.xlsx").is_file()
    # 3. the read-side commands, JSON and text
    for args in (
        ["status", str(run_dir)],
        ["status", str(run_dir), "--json"],
        ["quota"],
        ["quota", "--json"],
        ["--debug", "validate", "users", str(users), "--run-dir", str(work / "validate-run")],
        ["--debug", "import", "users", str(users), "--dry-run", "-v"],
    ):
        done = run_here(args, _px_env(sandbox.url, tmp_path), work)
        outputs += [done.stdout, done.stderr]
        assert done.returncode in (0, 1), (args, done.stderr)
    hits = find_secrets([tmp_path], [PX_KEY, PX_READONLY_KEY], outputs)
    assert hits == [], hits


def test_internal_errors_and_debug_tracebacks_never_show_the_key(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever an unexpected exception says (here: the key itself, in every form), the error line and
    the --debug traceback are scrubbed."""
    import base64
    from urllib.parse import quote

    sandbox = sandbox_factory(api_key=PX_KEY)
    users = write_table(tmp_path / "users.csv", USER_HEADERS, _user_rows(5))
    env = {
        "GAINSIGHT_PX_API_KEY": PX_KEY,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "GAINSIGHT_PX_PRODUCT_KEY": "AP-TEST-1",
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    leaky = f"{PX_KEY} {quote(PX_KEY, safe='')} {base64.b64encode(PX_KEY.encode()).decode()}"

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"library failure with headers {{'X-APTRINSIC-API-KEY': '{leaky}'}}")

    monkeypatch.setattr("batchgs.cli.px_import_run.PxRun.execute", explode)
    outputs = []
    for debug in ([], ["--debug"]):
        result = CliRunner().invoke(
            cli,
            [*debug, "import", "users", str(users), "--run-dir", str(tmp_path / f"run{len(debug)}")],
            env=env,
            catch_exceptions=False,
        )
        assert result.exit_code == 2
        assert error_lines(result.stderr)[0].startswith("Error: internal error: RuntimeError")
        assert "***" in result.stderr
        assert ("Traceback" in result.stderr) == bool(debug)
        outputs += [result.stdout, result.stderr]
    assert find_secrets([tmp_path], [PX_KEY], outputs) == []


def test_a_key_from_api_key_command_is_used_without_a_shell_and_never_shown(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(api_key=PROFILE_KEY, rate_limit=0)
    work = tmp_path / "work"
    work.mkdir()
    script = work / "print_key.py"
    script.write_text(f"import sys\nprint({PROFILE_KEY!r})\nprint('second line ignored')\n", encoding="utf-8")
    # shell syntax after the script: with a shell it would create the marker files
    command = f"{sys.executable} {script} ; touch {work / 'SHELL1'} $(touch {work / 'SHELL2'}) | cat"
    (work / "batchgs.toml").write_text(
        f'[profiles.prod]\nbase_url = "{sandbox.url}"\napi_key_command = """{command}"""\n'
        'product_key = "AP-TEST-1"\n',
        encoding="utf-8",
    )
    users = write_table(work / "users.csv", USER_HEADERS, _user_rows(30))
    env = isolated_env(tmp_path / "home", BATCHGS_STATE_DIR=str(tmp_path / "home" / "state-dir"))
    run_dir = work / "run"
    outputs = []
    done = run_process(
        ["--profile", "prod", "import", "users", str(users), "--run-dir", str(run_dir)], env, work
    )
    outputs += [done.stdout, done.stderr]
    assert done.returncode == 1, done.stderr  # some rows invalid, the valid ones sent with the key
    assert len(sandbox.store.users) > 15
    assert not (work / "SHELL1").exists() and not (work / "SHELL2").exists()
    for args in (["--profile", "prod", "quota"], ["status", str(run_dir), "--json"]):
        extra = run_here(args, env, work)
        outputs += [extra.stdout, extra.stderr]
    # an internal error while the profile's key is in use: scrubbed although it is not in the env
    monkeypatch.chdir(work)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"failure near {PROFILE_KEY}")

    monkeypatch.setattr("batchgs.cli.px_import_run.PxRun.execute", explode)
    crashed = CliRunner().invoke(
        cli,
        ["--debug", "--profile", "prod", "import", "users", str(users), "--run-dir", str(work / "run2")],
        env={"BATCHGS_STATE_DIR": str(tmp_path / "home" / "state-dir"), "GAINSIGHT_PX_API_KEY": None},
        catch_exceptions=False,
    )
    assert crashed.exit_code == 2 and "internal error" in crashed.stderr
    outputs += [crashed.stdout, crashed.stderr]
    hits = find_secrets([tmp_path], [PROFILE_KEY], outputs)
    assert [h for h in hits if "print_key.py" not in h and "batchgs.toml" not in h] == [], hits


def test_a_key_written_in_a_profile_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "batchgs.toml").write_text(f'[profiles.p]\napi_key = "{PX_KEY}"\n', encoding="utf-8")
    users = write_table(tmp_path / "users.csv", USER_HEADERS, _user_rows(2))
    done = run_process(
        ["--profile", "p", "import", "users", str(users)], isolated_env(tmp_path / "h"), tmp_path
    )
    assert done.returncode == 2 and len(error_lines(done.stderr)) == 1
    assert "api_key_command" in done.stderr and PX_KEY not in done.stdout + done.stderr


def test_failing_api_key_command_reports_without_its_output(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(f"import sys\nprint({PX_KEY!r}, file=sys.stderr)\nsys.exit(3)\n", encoding="utf-8")
    (tmp_path / "batchgs.toml").write_text(
        f'[default]\napi_key_command = "{sys.executable} {script}"\n', encoding="utf-8"
    )
    users = write_table(tmp_path / "users.csv", USER_HEADERS, _user_rows(2))
    done = run_process(["import", "users", str(users)], isolated_env(tmp_path / "h"), tmp_path)
    assert done.returncode == 2 and error_lines(done.stderr) == [
        "Error: api_key_command exited with status 3"
    ]
    assert find_secrets([], [PX_KEY], [done.stdout, done.stderr]) == []


def test_cs_imports_leave_no_trace_of_the_cs_keys(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(
        rate_limit=0, cs_access_key=CS_ACCESS_KEY, cs_shared_secret=CS_SHARED_SECRET, cs_per_minute_limit=0
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "batchgs.toml").write_text("[default]\ncs_per_minute = 100000\n", encoding="utf-8")
    env = isolated_env(
        tmp_path / "home",
        GAINSIGHT_CS_BASE_URL=sandbox.url,
        GAINSIGHT_CS_ACCESS_KEY=CS_ACCESS_KEY,
        GAINSIGHT_CS_SHARED_SECRET=CS_SHARED_SECRET,
        BATCHGS_STATE_DIR=str(tmp_path / "home" / "state-dir"),
    )
    ctas = write_ctas(work / "ctas.csv", sandbox, 30, typo_rows=[3, 17])
    events = write_events(work / "events.csv", 12)
    outputs: list[str] = []
    runs = [
        (["--debug", "import", "ctas", str(ctas.path), "--run-dir", str(work / "ctas-run"), "-v"], 1),
        (
            ["--debug", "import", "cs-events", str(events), "--run-dir", str(work / "ev-run"),
             *EVENT_FLAGS, "--tenant-id", "sandbox-tenant", "-v"],
            0,
        ),
        (["status", str(work / "ctas-run"), "--json"], 0),
        (["quota", "--json"], 0),
        (["validate", "ctas", str(ctas.path), "--run-dir", str(work / "v")], None),
    ]  # fmt: skip
    for args, expected in runs:
        runner = run_process if "import" in args else run_here
        done = runner(args, env, work)
        outputs += [done.stdout, done.stderr]
        assert expected is None or done.returncode == expected, (args, done.stderr)
    assert sandbox.cs.created_count == 28 and len(sandbox.cs.published_events()) == 12
    hits = find_secrets([tmp_path], [CS_ACCESS_KEY, CS_SHARED_SECRET], outputs)
    assert hits == [], hits


def test_export_and_optout_runs_leave_no_trace_of_the_key(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, read_only_keys=(PX_READONLY_KEY,), rate_limit=0)

    def seed() -> None:
        for i in range(40):
            uid = f"U{i:04d}"
            sandbox.store.users[uid] = {
                "identifyId": uid,
                "email": f"user{i}@example.com",
                "firstName": "Ada",
                "propertyKeys": ["AP-TEST-1"],
            }

    sandbox.call(seed)
    work = tmp_path / "work"
    work.mkdir()
    people = write_table(
        work / "optout.csv", ["identifyId", "email"], [["U0001", ""], ["", "user2@example.com"], ["X9", ""]]
    )
    outputs: list[str] = []
    runs = [
        (
            [
                "--debug",
                "export",
                "users",
                "-o",
                str(work / "users.csv"),
                "--run-dir",
                str(work / "e1"),
                "-v",
            ],
            0,
        ),
        (["--debug", "export", "users", "-o", str(work / "users.xlsx"), "--run-dir", str(work / "e2")], 0),
        (["export", "users", "-o", str(work / "users.parquet"), "--run-dir", str(work / "e3"), "--json"], 0),
        (["export", "users", "-o", str(work / "users.jsonl"), "--run-dir", str(work / "e4")], 0),
        (["--debug", "optout", str(people), "--run-dir", str(work / "o1"), "--yes", "-v"], None),
        (["optout", str(people), "--dry-run"], None),
        (["status", str(work / "o1"), "--json"], 0),
        (["status", str(work / "e1")], 0),
    ]
    for args, expected in runs:
        runner = run_process if "--debug" in args else run_here  # real processes for the --debug runs
        done = runner(args, _px_env(sandbox.url, tmp_path), work)
        outputs += [done.stdout, done.stderr]
        assert done.returncode in ((0, 1) if expected is None else (expected,)), (args, done.stderr)
    # a read-only key on the opt-out: a fatal 403, then resumed with the right key
    fatal = run_process(
        ["--debug", "optout", str(people), "--run-dir", str(work / "o2"), "--yes"],
        _px_env(sandbox.url, tmp_path, PX_READONLY_KEY),
        work,
    )
    outputs += [fatal.stdout, fatal.stderr]
    assert fatal.returncode in (1, 4), fatal.stderr
    assert (work / "o1" / "receipt.csv").is_file() and (work / "users.xlsx").is_file()
    hits = find_secrets([tmp_path], [PX_KEY, PX_READONLY_KEY], outputs)
    assert hits == [], hits
