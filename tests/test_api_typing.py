"""The public Python API is typed for its users' type checkers: `mypy --strict` passes on it, and the
project's own mypy run (`make lint`) applies every strict flag to it, so a change that breaks strictness
fails the lint, not only this test. Its error tree is the one docs/api.md documents."""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
import sys
from pathlib import Path

from mypy import config_parser
from mypy.main import define_options
from mypy.options import Options

import batchgs
import batchgs.api
from batchgs.errors import BatchgsError

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = {
    "batchgs": "batchgs/__init__.py",
    "batchgs.api": "batchgs/api.py",
    "batchgs.api_types": "batchgs/api_types.py",
    "batchgs.api_quota": "batchgs/api_quota.py",
    "batchgs.api_reads": "batchgs/api_reads.py",
}


def test_the_project_mypy_config_applies_every_strict_flag_to_the_public_modules() -> None:
    _parser, _names, strict_flags = define_options()  # what `--strict` turns on, from mypy itself
    options = Options()
    config_parser.parse_config_file(options, lambda: None, str(ROOT / "pyproject.toml"))
    for module in PUBLIC_MODULES:
        effective = options.clone_for_module(module)
        missing = [dest for dest, value in strict_flags if getattr(effective, dest) != value]
        assert not missing, f"{module}: pyproject's mypy config lacks these --strict flags: {missing}"
    assert options.clone_for_module("batchgs.config").disallow_untyped_defs is False  # only the API


def test_mypy_strict_passes_on_the_public_modules() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # the public modules' errors, not those of what they import
            *PUBLIC_MODULES.values(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_documented_error_tree_is_the_real_one() -> None:
    """docs/api.md's table of exit codes 2-5 names every exception batchgs exports, with its code."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text.split("## Errors", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, int] = {}
    for line in table.splitlines():
        match = re.match(r"\| (\d) \| (.+) \|$", line)
        if match:
            for name in re.findall(r"`([A-Z]\w+)`", match.group(2)):
                documented[name] = int(match.group(1))
    exported = {
        name: value
        for name in batchgs.api.__all__
        if isinstance(value := getattr(batchgs, name), type) and issubclass(value, BatchgsError)
    }
    assert set(documented) == set(exported) - {"BatchgsError"}
    for name, code in documented.items():
        assert int(exported[name].exit_code) == code, name
        assert issubclass(exported[name], BatchgsError)
    assert {2, 3, 4, 5} == set(documented.values())


def test_no_function_takes_a_secret_as_a_plain_argument() -> None:
    """Keys come from the environment, the profile or a `Credentials` object (whose repr masks them):
    neither a parameter of a public function nor a keyword option of a job can carry one."""
    from batchgs.cli.inprocess import API_COMMANDS, option_defaults

    secret = ("api_key", "access_key", "shared_secret", "secret", "token", "password")
    for name in batchgs.api.__all__:
        value = getattr(batchgs, name)
        if inspect.isfunction(value):
            parameters = inspect.signature(value).parameters
            assert not [p for p in parameters if any(word in p for word in secret)], name
    for command in API_COMMANDS:
        assert not [o for o in option_defaults(command) if any(word in o for word in secret)], command
    assert {f.name for f in dataclasses.fields(batchgs.Credentials)} >= {"px_api_key", "cs_shared_secret"}
    shown = repr(batchgs.Credentials(px_api_key="k-123456789", cs_access_key="a-1", cs_shared_secret="s-1"))
    assert "k-123456789" not in shown and "a-1" not in shown and "s-1" not in shown


USER_CODE = """
import asyncio
from pathlib import Path

import batchgs


def nightly(credentials: batchgs.Credentials) -> int:
    result = batchgs.export("users", Path("users.parquet"), credentials=credentials, force=True)
    reveal_type(result)
    files: list[Path | None] = [result.errors_csv, result.success_csv, result.receipt_csv, result.changes_csv]
    reveal_type(batchgs.quota().keys[0].used)
    reveal_type(asyncio.run(batchgs.status_async("run")).share)
    return result.rows_succeeded + len(files)


batchgs.import_file(1, "users.csv")
"""


def test_users_type_checkers_see_the_api_types(tmp_path: Path) -> None:
    """batchgs ships py.typed: a user's `mypy --strict` checks calls against the real signatures and
    results (not Any), and flags a wrong argument."""
    assert (ROOT / "batchgs" / "py.typed").is_file()
    (tmp_path / "user_code.py").write_text(USER_CODE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "user_code.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    revealed = re.findall(r'Revealed type is "([^"]+)"', done.stdout)
    assert revealed == ["batchgs.api_types.RunResult", "int | None", "batchgs.api_types.RunShare | None"], (
        done.stdout
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and 'Argument 1 has incompatible type "int"; expected "str"' in errors[0], (
        done.stdout
    )
