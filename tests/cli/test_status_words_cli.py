"""Issue 22.10: `batchgs status` says in words why a run stopped (not `FatalApiError`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.imports.import_helpers import write_users
from tests.sandbox_types import SandboxFactory


def test_status_of_a_run_stopped_by_a_refused_key_says_what_happened(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 5)
    run_dir = tmp_path / "run"
    env = cli_env(sandbox, tmp_path / "state", GAINSIGHT_PX_API_KEY="a-wrong-key")

    stopped = run_cli(["import", "users", str(users.path), "--run-dir", str(run_dir)], env)
    assert stopped.exit_code == 4, stopped.output

    status = run_cli(["status", str(run_dir)], env)
    assert status.exit_code == 0, status.output
    assert "FatalApiError" not in status.stdout
    assert "paused — stopped: the API refused the key (HTTP 401)" in status.stdout
    as_json = json.loads(run_cli(["status", str(run_dir), "--json"], env).stdout)
    assert as_json["status_reason"] == "FatalApiError"  # the code stays, for tools
    assert as_json["status_words"].startswith("stopped: the API refused the key (HTTP 401)")
