"""Issue 22.7: a refused or unanswered confirmation (opt-out, delete) sends nothing and leaves no run
folder that blocks the retry: the README's privacy recipe, re-run with the same --run-dir, works."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batchgs.cli import runner
from tests.cli.cli_helpers import TtySys, cli_env, run_cli, writes_seen
from tests.engine.imports.import_helpers import write_users
from tests.engine.optout.optout_helpers import RecordingSandbox, populate, write_list
from tests.sandbox_types import SandboxFactory


def test_the_privacy_recipe_refused_then_rerun_with_the_same_run_dir(
    recording_sandbox: RecordingSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, log = recording_sandbox()
    populate(sandbox.store, 30)
    env = cli_env(sandbox, tmp_path / "state")
    people = write_list(tmp_path / "people.csv", [("U00021", ""), ("", "person22@example.com")])
    run_dir = tmp_path / "privacy" / "REQ-1234"
    recipe = ["optout", str(people), "--denylist", "--unsubscribe-email", "--run-dir", str(run_dir)]

    no_terminal = run_cli(recipe, env)  # no terminal, no --yes: refused without a prompt
    assert no_terminal.exit_code == 2 and "--yes" in no_terminal.stderr
    assert log.entries == [] and not run_dir.exists()

    monkeypatch.setattr(runner, "sys", TtySys())  # a terminal: the typed count is asked
    unanswered = run_cli(recipe, env, stdin="")  # end of input at the prompt
    assert unanswered.exit_code != 0 and "nothing was sent" in unanswered.stderr, unanswered.output
    assert log.entries == [] and not run_dir.exists()

    wrong = run_cli(recipe, env, stdin="3\n")  # the count typed back does not match
    assert wrong.exit_code == 2 and "nothing was sent" in wrong.stderr
    assert log.entries == [] and not run_dir.exists()

    confirmed = run_cli(recipe, env, stdin="2\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert (run_dir / "receipt.csv").is_file()
    assert sandbox.store.denylist >= {"U00021", "U00022"}


def test_a_refused_delete_leaves_no_folder_and_the_same_command_runs_again(
    sandbox_factory: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(rate_limit=0)
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 6)
    assert (
        run_cli(["import", "users", str(users.path), "--run-dir", str(tmp_path / "r0")], env).exit_code == 0
    )
    doomed = tmp_path / "del.csv"
    with doomed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["identifyId"], *([uid] for uid in sorted(users.valid)[:3])])
    run_dir = tmp_path / "delete-run"
    command = ["import", "users", str(doomed), "--mode", "delete", "--run-dir", str(run_dir)]

    refused = run_cli(command, env)  # no terminal, no --yes
    assert refused.exit_code == 2, refused.output
    assert not run_dir.exists() and len(sandbox.store.users) == 6
    monkeypatch.setattr(runner, "sys", TtySys())
    wrong = run_cli(command, env, stdin="4\n")  # the typed count does not match
    assert wrong.exit_code == 2, wrong.output
    assert not run_dir.exists() and len(sandbox.store.users) == 6
    assert not [w for w in writes_seen(sandbox) if w[1] == "DELETE"]

    done = run_cli([*command, "--yes"], env)
    assert done.exit_code == 0, done.output
    assert set(sandbox.store.users) == set(sorted(users.valid)[3:])
