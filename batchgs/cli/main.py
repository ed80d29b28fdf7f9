"""Root click group, global options and the single error boundary of the CLI."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from batchgs import __version__
from batchgs.config import scrub_secrets
from batchgs.errors import BatchgsError, ExitCode


def scrub(text: str) -> str:
    """Remove every secret this process knows (environment, profile, api_key_command) from a message,
    whatever produced it, also in URL-encoded and base64 form."""
    return scrub_secrets(text)


class BatchgsGroup(click.Group):
    """A click group whose `main` is the one error boundary: `Error:`/`Hint:` lines and exit codes."""

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


def _register() -> None:
    """Attach every command module. Each module exposes one click command named `command`."""
    from importlib import import_module

    for name in COMMAND_MODULES:
        module = import_module(f"batchgs.cli.{name}")
        cli.add_command(module.command)


COMMAND_MODULES: list[str] = [
    # one line per command module (batchgs/cli/<name>.py exposing `command`)
    "validate_cmd",
    "template_cmd",
    "sandbox_cmd",
    "import_cmd",
    "resume_cmd",
    "status_cmd",
    "quota_cmd",
    "optout_cmd",
    "clean_cmd",
    "export_cmd",
    "undo_cmd",
]

_register()


def main() -> None:
    cli.main()
