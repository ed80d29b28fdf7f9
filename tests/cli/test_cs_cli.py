"""`batchgs import ctas|cs-events` and `batchgs resume` as a user runs them: exit codes, messages, files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.engine.cs.cs_helpers import (
    CLI_EVENT_FLAGS,
    cli_env,
    read_rows,
    run_cli,
    write_csv,
    write_ctas,
    write_events,
)

EVENT_FLAGS = CLI_EVENT_FLAGS
WAIT_LIMIT_S = 120.0


def summary_of(run_dir: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return data


def test_ctas_import_reports_bad_names_by_row_and_exits_1(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 130, typo_rows=range(5, 130, 13))
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state")
    result = run_cli(["import", "ctas", str(cta_file.path), "--run-dir", str(run_dir)], env)
    assert result.exit_code == 1, result.output
    assert "120 succeeded" in result.output and "10 invalid" in result.output
    assert sandbox.cs.created_count == 120
    errors = read_rows(run_dir / "errors.csv")
    assert set(errors) == set(cta_file.typos)
    assert all("did you mean" in r["_message"] for r in errors.values())
    status = run_cli(["status", str(run_dir), "--json"], env)
    assert status.exit_code == 0 and '"rows_succeeded": 120' in status.output


def test_dry_run_plans_calls_and_sends_nothing(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 130, typo_rows=[3])
    result = run_cli(["import", "ctas", str(cta_file.path), "--dry-run"], cli_env(sandbox, tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert "creates             129" in result.output
    assert "requests (estimate) 4 " in result.output  # the picklist and three calls of up to 50
    assert sandbox.cs.created_count == 0
    events = write_events(tmp_path / "events.csv", 7)
    offline = run_cli(
        ["import", "cs-events", str(events), "--dry-run", *EVENT_FLAGS], {"BATCHGS_STATE_DIR": "x"}
    )
    assert offline.exit_code == 0 and "rows to send        7" in offline.output


def test_strict_with_an_unknown_name_sends_nothing_and_exits_3(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 20, typo_rows=[2])
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "ctas", str(cta_file.path), "--strict", "--run-dir", str(run_dir)],
        cli_env(sandbox, tmp_path / "s"),
    )
    assert result.exit_code == 3
    assert "Error: 1 of 20 rows are invalid; with --strict nothing was sent" in result.output
    assert sandbox.cs.created_count == 0 and list(read_rows(run_dir / "errors.csv")) == [4]


def test_usage_and_configuration_errors_exit_2_with_one_line(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    ctas = write_csv(tmp_path / "c.csv", ["Name", "Company"], [["a", sandbox.cs.company_gsids()[0]]])
    events = write_events(tmp_path / "e.csv", 2)
    env = cli_env(sandbox, tmp_path / "s")
    no_key = {k: v for k, v in env.items() if k != "GAINSIGHT_CS_ACCESS_KEY"}
    cases = [
        (["import", "ctas", str(ctas)], no_key, "Error: no Gainsight CS access key"),
        (["import", "cs-events", str(events), *EVENT_FLAGS],
         {k: v for k, v in env.items() if k != "GAINSIGHT_CS_SHARED_SECRET"},
         "Error: no Gainsight CS shared secret"),
        (["import", "cs-events", str(events), "--topic", "T"], env,
         "Error: cs-events needs --event-name, --event-version, --tenant-id"),
        (["import", "ctas", str(ctas), "--topic", "T"], env, "Error: --topic is for cs-events only"),
        (["import", "ctas", str(ctas), "--mode", "delete"], env,
         "Error: --mode delete is not available for ctas"),
        (["import", "ctas", str(ctas), "--region", "eu"], env, "Error: --region is for Gainsight PX"),
        (["import", "ctas", str(ctas), "--base-url", "http://example.com"], env, "refusing plain http://"),
    ]  # fmt: skip
    for args, case_env, message in cases:
        result = run_cli(args, case_env)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert sandbox.cs.access_key not in result.output and sandbox.cs.shared_secret not in result.output
    assert sandbox.cs.calls() == []


def test_a_wrong_access_key_pauses_with_exit_4_before_any_write(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 10)
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "s", GAINSIGHT_CS_ACCESS_KEY="wrong-key")
    result = run_cli(["import", "ctas", str(cta_file.path), "--run-dir", str(run_dir)], env)
    assert result.exit_code == 4
    assert "Error: the CS API refused the access key (HTTP 401)" in result.output
    assert f"batchgs resume {run_dir}" in result.output
    assert [c.path for c in sandbox.cs.calls()] == ["/v2/cockpit/admin/picklist/lite"]
    fixed = run_cli(["resume", str(run_dir)], cli_env(sandbox, tmp_path / "s"))
    assert fixed.exit_code == 0, fixed.output
    assert sandbox.cs.created_count == 10


def test_daily_limit_pauses_with_exit_4_and_resume_finishes_without_duplicates(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    cta_file = write_ctas(tmp_path / "ctas.csv", sandbox, 130, typo_rows=[0])
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state")
    first = run_cli(
        ["import", "ctas", str(cta_file.path), "--run-dir", str(run_dir), "--daily-limit", "2"], env
    )
    assert first.exit_code == 4, first.output
    assert "daily request quota reached: 2 of 2 requests" in first.output
    assert f"batchgs resume {run_dir}" in first.output
    assert sandbox.cs.created_count == 50  # the picklist and one call of 50, then the ledger said stop
    paused = summary_of(run_dir)
    assert paused["status"] == "paused" and paused["status_reason"] == "quota"
    assert paused["rows_uncertain"] == 0  # the refused calls never left: their rows are simply pending

    again = run_cli(["resume", str(run_dir), "--daily-limit", "100"], env)
    assert again.exit_code == 1, again.output  # one row has an unknown name
    assert sandbox.cs.created_count == 129
    names = Counter(cta["Name"] for cta in sandbox.cs.ctas_by_gsid().values())
    assert max(names.values()) == 1
    done = summary_of(run_dir)
    assert done["status"] == "completed" and done["rows_succeeded"] == 129 and done["rows_invalid"] == 1


def test_resume_refuses_a_changed_input_with_exit_5(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    path = write_events(tmp_path / "events.csv", 3)
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "s")
    assert (
        run_cli(["import", "cs-events", str(path), "--run-dir", str(run_dir), *EVENT_FLAGS], env).exit_code
        == 0
    )
    path.write_text(path.read_text(encoding="utf-8") + "9,x,y,1,true\n", encoding="utf-8")
    result = run_cli(["resume", str(run_dir)], env)
    assert result.exit_code == 5 and "input file changed" in result.output


def test_ctrl_c_pauses_events_with_exit_4_and_resume_publishes_each_once(
    sandbox_factory, tmp_path: Path, monkeypatch
) -> None:
    """A real process: SIGINT finishes the requests in flight, exit 4 and the resume command."""
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    (tmp_path / "batchgs.toml").write_text("[default]\ncs_per_minute = 100000\n", encoding="utf-8")
    path = write_events(tmp_path / "events.csv", 3000)
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state")
    base = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "batchgs", "import", "cs-events", str(path), "--run-dir", str(run_dir),
         *EVENT_FLAGS, "-q"],
        env={**base, **env}, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while len(sandbox.cs.published_events()) < 20:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no events were published in time"
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=WAIT_LIMIT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 4, err
    assert f"Hint: continue with: batchgs resume {run_dir}" in err
    paused = summary_of(run_dir)
    assert paused["status"] == "paused" and paused["status_reason"] == "interrupted"
    assert paused["rows_uncertain"] == 0
    published = len(sandbox.cs.published_events())
    assert paused["rows_succeeded"] == published < 3000

    monkeypatch.chdir(tmp_path)  # the profile (cs_per_minute) is read from the working folder
    result = run_cli(["resume", str(run_dir), "-q"], env)
    assert result.exit_code == 0, result.output
    stored = Counter(int(e.body["seq"]) for e in sandbox.cs.published_events())
    assert stored == Counter(range(3000))
