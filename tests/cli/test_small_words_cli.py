"""Issue 22.10, small ones: `import user` suggests `users`; the `*` in `quota` is explained."""

from __future__ import annotations

from pathlib import Path

from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.imports.import_helpers import write_users
from tests.sandbox_types import SandboxFactory


def test_a_mistyped_entity_gets_did_you_mean(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    users = write_users(tmp_path / "users.csv", 2)
    result = run_cli(["import", "user", str(users.path)], cli_env(sandbox_factory(), tmp_path / "state"))
    assert result.exit_code == 2
    assert "did you mean 'users'?" in result.stderr and "Traceback" not in result.output
    unknown = run_cli(["import", "zzzz", str(users.path)], cli_env(sandbox_factory(), tmp_path / "state"))
    assert unknown.exit_code == 2 and "did you mean" not in unknown.stderr


def test_quota_explains_its_star(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    env = cli_env(sandbox, tmp_path / "state")
    users = write_users(tmp_path / "users.csv", 3)
    assert (
        run_cli(["import", "users", str(users.path), "--run-dir", str(tmp_path / "run")], env).exit_code == 0
    )
    quota = run_cli(["quota"], env)
    assert quota.exit_code == 0, quota.output
    assert "* " in quota.stdout and "* the key this shell uses" in quota.stdout
