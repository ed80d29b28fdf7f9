"""Root click group, global options and the single error boundary of the CLI."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click

from batchgs._version import __version__
from batchgs.config import scrub_secrets
from batchgs.errors import BatchgsError, ExitCode
from batchgs.tls import defer_default_ca_store

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem


def scrub(text: str) -> str:
    """Remove every secret this process knows (environment, profile, api_key_command) from a message,
    whatever produced it, also in URL-encoded and base64 form."""
    return scrub_secrets(text)


class BatchgsGroup(click.Group):
    """The root group: the one error boundary (`Error:`/`Hint:` lines, exit codes) and lazy commands.

    Commands are loaded the way click documents for large CLIs ("lazily loading subcommands"):
    `list_commands` answers from the COMMANDS table and `get_command` imports the one module asked for,
    so `batchgs --help`, `--version`, `status` and `quota` never pay for polars, aiohttp or the sandbox.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(entry.name for entry in COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _entry(cmd_name)
        if entry is None:
            return None
        module = import_module(f"batchgs.cli.{entry.module}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The Commands section from the table (same text and layout as click's own, nothing imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _shortened(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Complete command names from the table, without importing a command module."""
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=_short_help(name))
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get("BATCHGS_DEBUG") == "1"
        try:
            return super().main(args=argv, prog_name=prog_name or "batchgs", standalone_mode=False, **extra)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.Abort:
            click.echo("Error: aborted", err=True)
            sys.exit(ExitCode.USAGE if not _in_run() else ExitCode.RESUMABLE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(ExitCode.USAGE)
        except BatchgsError as exc:
            if debug:
                click.echo(scrub(traceback.format_exc()).rstrip(), err=True)
            click.echo(f"Error: {scrub(exc.message)}", err=True)
            if exc.hint:
                click.echo(f"Hint: {scrub(exc.hint)}", err=True)
            sys.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(ExitCode.RESUMABLE)
        except Exception as exc:  # the boundary: no traceback for users unless --debug
            if debug:
                click.echo(scrub(traceback.format_exc()).rstrip(), err=True)
            click.echo(f"Error: internal error: {type(exc).__name__}: {scrub(str(exc))[:500]}", err=True)
            click.echo("Hint: rerun with --debug for the traceback and report it", err=True)
            sys.exit(ExitCode.USAGE)


def _entry(name: str) -> CommandEntry | None:
    return next((entry for entry in COMMANDS if entry.name == name), None)


def _short_help(name: str) -> str:
    entry = _entry(name)
    return entry.short_help if entry else ""


def _shortened(name: str, limit: int) -> str:
    """The table's short help cut to `limit` exactly as click cuts a command's help for `--help`."""
    return click.Command(name, help=_short_help(name)).get_short_help_str(limit)


def _in_run() -> bool:
    return bool(os.environ.get("BATCHGS_IN_RUN"))


@click.group(
    cls=BatchgsGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, "--version", prog_name="batchgs")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.option(
    "--profile", "profile", metavar="NAME", help="Profile of batchgs.toml to use (env BATCHGS_PROFILE)."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, profile: str | None) -> None:
    """Move data between spreadsheets and Gainsight (PX and CS) in bulk, within the API limits.

    The API key is read from GAINSIGHT_PX_API_KEY (or a batchgs.toml profile), never from an option.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["profile"] = profile


@dataclass(frozen=True)
class CommandEntry:
    """One line of the command table: the name, the module that defines it, its one-line help.

    The short help is kept here so `batchgs --help` and shell completion can list every command without
    importing its module (and through it polars, aiohttp, ...). tests/cli/test_startup.py checks that it
    equals the command's real short help, so the two cannot drift.
    """

    name: str
    module: str  # batchgs/cli/<module>.py, exposing one click command named `command`
    short_help: str


COMMANDS: list[CommandEntry] = [
    # one line per command; the module is imported only when the command runs (or its own --help)
    CommandEntry("validate", "validate_cmd", "Check FILE against ENTITY offline: nothing is sent."),
    CommandEntry(
        "template",
        "template_cmd",
        'Write a blank template for ENTITY: header row, one example row and, in .xlsx, a "Columns" sheet '
        "documenting every column, dropdowns for enums and booleans, and id columns kept as text.",
    ),
    CommandEntry(
        "sandbox",
        "sandbox_cmd",
        "Serve the Gainsight PX and CS APIs locally, data in memory (or --state FILE), with the real "
        "limits (429) and optional injected faults and latency.",
    ),
    CommandEntry("import", "import_cmd", "Send the rows of FILE (.csv, .tsv, .xlsx) to Gainsight as ENTITY."),
    CommandEntry(
        "resume",
        "resume_cmd",
        "Continue the run in RUN_DIR where it stopped: only rows not yet done are sent.",
    ),
    CommandEntry(
        "status",
        "status_cmd",
        "Print the progress and counts of the run in RUN_DIR.",
    ),
    CommandEntry(
        "quota",
        "quota_cmd",
        "Requests used and left in the rolling 24 hours, and the jobs sharing each key now.",
    ),
    CommandEntry(
        "optout",
        "optout_cmd",
        "Opt the people listed in FILE out of Gainsight PX tracking and messages, with a receipt.",
    ),
    CommandEntry(
        "clean", "clean_cmd", "Remove batchgs run folders under --runs-root not touched for --older-than."
    ),
    CommandEntry(
        "export", "export_cmd", "Write Gainsight records of ENTITY to OUT (.csv, .xlsx, .parquet or .jsonl)."
    ),
    CommandEntry(
        "undo", "undo_cmd", "Take back the users/accounts import in RUN_DIR, from the before-images it kept."
    ),
]


def main() -> None:
    """The console script (and `python -m batchgs`): the command, then an exit without the
    interpreter's teardown, once every log and stream is flushed. The teardown (a last garbage
    collection over every object, module cleanup) cost ~70 ms after each command, measured, and
    waits for nothing of ours: by then the command has closed its files and joined its threads."""
    console_process_settings()
    try:
        cli.main()
        code: int = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    _leave(code)


def console_process_settings() -> None:
    """What the console script sets for its own process only (a program that imports batchgs keeps its
    own settings): numpy (an export's page check) loads OpenBLAS, which starts a thread per core that
    spins at start, ~0.07 CPU-s of each export for linear algebra batchgs never does; and aiohttp is
    imported without loading the CA store for its default TLS contexts, which batchgs never uses
    (~0.1 CPU-s: `batchgs.tls`)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    defer_default_ca_store()


def _exit_code(code: object) -> int:
    """What `sys.exit(code)` would exit with (a message goes to stderr, exit 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _leave(code: int) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
