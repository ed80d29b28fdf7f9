"""Start-up stays light: the commands people type all day never load the heavy libraries (issue 14).

No timing here (bench/startup.py measures it): the guard is what ends up in `sys.modules` of a fresh
interpreter, and that the lazily listed commands show the same help as the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from batchgs.cli.main import COMMANDS, BatchgsGroup, cli
from tests.cli.cli_helpers import WAIT_LIMIT_S, cli_env, run_cli
from tests.engine.imports.import_helpers import write_users

HEAVY = ("polars", "aiohttp", "openpyxl", "pyarrow", "fastexcel", "xlsxwriter", "batchgs.sandbox")

# Runs in a fresh interpreter: the CLI as the console script runs it (its process settings too), then
# what got imported.
PROBE = """
import json, sys
from batchgs.cli.main import cli, console_process_settings
console_process_settings()
code = 0
try:
    cli.main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(name for name in sys.modules if name.split(".")[0] in {HEAVY_ROOTS} or name in {HEAVY})
print(json.dumps({{"exit": code, "heavy": heavy}}), file=sys.stderr)
"""


def _probe(args: list[str], env: dict[str, str]) -> dict[str, object]:
    roots = sorted({name.split(".")[0] for name in HEAVY if "." not in name})
    code = PROBE.format(HEAVY_ROOTS=set(roots), HEAVY=set(name for name in HEAVY if "." in name))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_S,
    )
    report: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return report


@pytest.fixture
def real_run_dir(sandbox_factory, tmp_path: Path) -> Path:
    """A run folder made by a real import against the sandbox."""
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 10)
    run_dir = tmp_path / "run"
    result = run_cli(
        ["import", "users", str(users.path), "--run-dir", str(run_dir), "--yes", "-q"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code == 0, result.output
    return run_dir


def test_help_version_status_and_quota_load_no_heavy_module(real_run_dir: Path, tmp_path: Path) -> None:
    env = {"GAINSIGHT_PX_API_KEY": "probe-key", "BATCHGS_STATE_DIR": str(tmp_path / "state")}
    for args in (
        ["--help"],
        ["--version"],
        ["status", str(real_run_dir)],
        ["status", str(real_run_dir), "--json"],
        ["quota"],
    ):
        report = _probe(args, env)
        assert report == {"exit": 0, "heavy": []}, (args, report)


def test_the_probe_sees_heavy_modules_when_a_command_needs_them(tmp_path: Path) -> None:
    """The guard can fail: `import --help` loads the import command module, and with it polars."""
    report = _probe(["import", "--help"], {"BATCHGS_STATE_DIR": str(tmp_path / "state")})
    assert report["exit"] == 0
    assert "polars" in report["heavy"]  # type: ignore[operator]


def test_the_table_short_help_is_the_commands_own() -> None:
    for entry in COMMANDS:
        command = import_module(f"batchgs.cli.{entry.module}").command
        assert command.name == entry.name
        assert entry.short_help == command.get_short_help_str(limit=10**6), entry.name


def test_every_command_module_is_in_the_table() -> None:
    modules = {path.stem for path in Path(import_module("batchgs.cli").__file__).parent.glob("*_cmd.py")}  # type: ignore[arg-type]
    assert modules == {entry.module for entry in COMMANDS}


def test_root_help_is_what_an_eagerly_loaded_group_prints() -> None:
    """Same Commands section as click builds from the imported commands (text and truncation)."""
    eager = click.Group(
        "batchgs",
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
        commands=[import_module(f"batchgs.cli.{entry.module}").command for entry in COMMANDS],
    )
    for width in (60, 100):
        lazy_help = CliRunner().invoke(cli, ["--help"], prog_name="batchgs", terminal_width=width).output
        eager_help = CliRunner().invoke(eager, ["--help"], prog_name="batchgs", terminal_width=width).output
        assert lazy_help == eager_help
        assert "Commands:" in lazy_help


def test_unknown_commands_and_completion_come_from_the_table() -> None:
    ctx = click.Context(cli)
    assert isinstance(cli, BatchgsGroup)
    assert cli.get_command(ctx, "no-such-command") is None
    completions = cli.shell_complete(ctx, "st")
    assert [(item.value, item.help) for item in completions if item.type == "plain"] == [
        ("status", "Print the progress and counts of the run in RUN_DIR.")
    ]


def test_export_sends_its_plan_before_polars_is_loaded(tmp_path: Path) -> None:
    """`export` (its command module and the exporter) loads no Polars, pyarrow or numpy: those load on
    a thread while the plan's first requests are out (batchgs.engine.export.warm)."""
    report = _probe(["export", "--help"], {"BATCHGS_STATE_DIR": str(tmp_path / "state")})
    assert report["exit"] == 0
    assert not {"polars", "pyarrow", "openpyxl", "xlsxwriter"} & set(report["heavy"])  # type: ignore[arg-type]
    code = (
        "import sys; from pathlib import Path\n"
        "import batchgs.engine.export.exporter\n"
        "names = ('polars', 'numpy', 'pyarrow.parquet', 'batchgs.engine.export.fetch')\n"
        "before = sorted(m for m in names if m in sys.modules)\n"
        "from batchgs.engine.export.warm import warm_up\n"
        "warm_up(Path('users.parquet')).join()\n"
        "print(before, sorted(m for m in names if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_LIMIT_S)
    assert (
        done.stdout.split("\n")[0]
        == "[] ['batchgs.engine.export.fetch', 'numpy', 'polars', 'pyarrow.parquet']"
    ), done.stdout + done.stderr


def test_runs_without_a_progress_bar_never_load_tqdm() -> None:
    """Cron jobs, pipes and `-q` show no bar, so they do not import tqdm (~50 ms of start-up CPU); the
    API's progress count still advances. Run with stderr a pipe: no terminal, no bar."""
    code = (
        "import sys\n"
        "import batchgs.cli.export_cmd, batchgs.cli.import_cmd, batchgs.cli.optout_cmd\n"
        "from batchgs.engine.progress import Progress\n"
        "bar = Progress(10, enabled=True)\n"
        "bar.advance([object()] * 3)\n"
        "bar.close()\n"
        "print('tqdm' in sys.modules, bar.done)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT_LIMIT_S)
    assert done.stdout.strip() == "False 3", done.stdout + done.stderr
