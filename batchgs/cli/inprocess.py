"""Run a batchgs command in this process for the Python API (batchgs.api), the way the console runs it.

The API passes keyword options; this module turns them into the command's own argv, using the click
parameters themselves, so an option's name, type and default have ONE definition for the CLI and the
API. The command runs with `--json`: its JSON goes to the caller (cli.common.API_SINK) instead of
stdout, its notes and warnings to the `batchgs` logger (whatever the command writes to stderr, and no
progress bar: the caller has `on_progress`). Typed errors (batchgs.errors) come through unchanged;
click's own usage errors become `UsageError`; the command's exit code is returned with its JSON.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from importlib import import_module
from os import PathLike
from typing import Any, TextIO

import click

from batchgs.cli.common import API_SINK
from batchgs.cli.main import cli
from batchgs.errors import ExitCode, UsageError

# What the API decides for itself: output is always JSON for the caller, never a terminal's.
PRESENTATION = frozenset({"quiet", "verbose", "as_json"})
# click >= 8.3 marks "no default given" with a sentinel (older versions: None); the API shows None.
_NO_DEFAULT = getattr(import_module("click._utils"), "UNSET", None)


def command_named(name: str) -> click.Command:
    command = cli.get_command(click.Context(cli), name)
    if command is None:
        raise UsageError(f"no such command: {name}")
    return command


def api_options(name: str) -> dict[str, click.Option]:
    """The options of command `name` the API accepts, by their Python name (click's `param.name`)."""
    return {
        param.name: param
        for param in command_named(name).params
        if isinstance(param, click.Option) and param.name and param.name not in PRESENTATION
    }


def option_defaults(name: str) -> dict[str, Any]:
    """What command `name` uses for each API option not given (None: decided at run time)."""
    ctx = click.Context(command_named(name))
    defaults = {}
    for key, param in api_options(name).items():
        value = param.get_default(ctx, call=False)
        defaults[key] = None if value is _NO_DEFAULT else value
    return defaults


def option_args(name: str, options: Mapping[str, Any]) -> list[str]:
    """Keyword options → the command's argv (`rate=100` → `--rate 100`, `dry_run=True` → `--dry-run`).
    None (and False for a plain flag) leave the CLI default; an unknown name is a UsageError that
    lists the known ones."""
    known = api_options(name)
    args: list[str] = []
    for key, value in options.items():
        param = known.get(key)
        if param is None:
            raise UsageError(
                f"{name}: unknown option {key!r}", hint=f"options of {name}: {', '.join(sorted(known))}"
            )
        flag = max(param.opts, key=len)  # the long form
        if param.is_flag:
            if value:
                args.append(flag)
            elif value is False and param.secondary_opts:  # --x/--no-x
                args.append(max(param.secondary_opts, key=len))
        elif value is None:
            continue
        elif param.multiple:
            values = [value] if isinstance(value, str | PathLike) else list(value)
            for item in values:
                args += [flag, _text(item)]
        else:
            args += [flag, _text(value)]
    return args


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ",".join(value)  # --columns a,b,c / --only x,y
    return str(value)


LOG = logging.getLogger("batchgs")


class StderrToLog:
    """`sys.stderr` while API jobs run. A job's own writes (the commands' `Warning: ...` and notes, which
    a terminal user reads on stderr) become records of the `batchgs` logger, and it is no terminal for
    the job (`isatty()` is False: no tqdm bar). Every other thread and context writes to the real
    stderr, unchanged, and so do logging's handlers (e.g. its last resort when the application set up
    no logging: a record is never turned back into a record)."""

    def __init__(self, real: TextIO) -> None:
        self.real = real

    @staticmethod
    def _for_api() -> bool:
        return API_SINK.get() is not None

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not self._for_api() or sys._getframe(1).f_globals.get("__name__") == "logging":
            return self.real.write(text)
        for line in text.splitlines():
            if line.strip():
                LOG.log(logging.WARNING if line.startswith(("Warning:", "Error:")) else logging.INFO, line)
        return len(text)

    def flush(self) -> None:
        if not self._for_api():
            self.real.flush()

    def isatty(self) -> bool:
        return False if self._for_api() else self.real.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, fileno, buffer, ...
        return getattr(self.real, name)


_ROUTER_LOCK = threading.Lock()
_ROUTER_USERS = 0


@contextlib.contextmanager
def stderr_to_log() -> Iterator[None]:
    """Install StderrToLog while at least one API job runs (jobs may run in several threads at once)."""
    global _ROUTER_USERS
    with _ROUTER_LOCK:
        if _ROUTER_USERS == 0 and not isinstance(sys.stderr, StderrToLog):
            sys.stderr = StderrToLog(sys.stderr)
        _ROUTER_USERS += 1
    try:
        yield
    finally:
        with _ROUTER_LOCK:
            _ROUTER_USERS -= 1
            if _ROUTER_USERS == 0 and isinstance(sys.stderr, StderrToLog):
                sys.stderr = sys.stderr.real  # unless someone replaced it meanwhile: then theirs stays


def invoke(argv: Sequence[str]) -> tuple[int, list[dict[str, Any]]]:
    """Run `batchgs ARGV` here: (exit code, the JSON documents it emitted). Raises batchgs errors."""
    sink: list[dict[str, Any]] = []
    token = API_SINK.set(sink)
    try:
        with stderr_to_log():
            code = click.Group.main(cli, args=list(argv), prog_name="batchgs", standalone_mode=False)
        return _code(code), sink
    except SystemExit as done:  # the commands end with sys.exit(code)
        return _code(done.code), sink
    except click.exceptions.Abort:
        raise UsageError("aborted") from None
    except click.ClickException as exc:
        raise UsageError(exc.format_message()) from None
    finally:
        API_SINK.reset(token)


def _code(code: object) -> int:
    if code is None:
        return int(ExitCode.OK)
    return code if isinstance(code, int) else int(ExitCode.USAGE)


API_COMMANDS = ("import", "validate", "export", "optout", "resume", "undo")
DOC_BEGIN, DOC_END = "<!-- options:begin -->", "<!-- options:end -->"


def render_options_markdown() -> str:
    """The keyword options of each API job, from the click options (docs/api.md, checked by a test)."""
    parts = []
    for name in API_COMMANDS:
        rows = ["| keyword | CLI | default | what |", "|---|---|---|---|"]
        defaults = option_defaults(name)
        for key, param in sorted(api_options(name).items()):
            if param.hidden:
                continue
            flag = max(param.opts, key=len)
            default = "" if defaults[key] in (None, False, ()) else f"`{defaults[key]!r}`"
            text = " ".join((param.help or "").split()).replace("|", "\\|")
            rows.append(f"| `{key}` | `{flag}` | {default} | {text} |")
        parts.append(f"### {name}\n\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def update_docs(path: str) -> None:
    """Rewrite the generated block of `path` (docs/api.md): `python -m batchgs.cli.inprocess docs/api.md`."""
    from pathlib import Path

    doc = Path(path)
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    doc.write_text(f"{head}{DOC_BEGIN}\n{render_options_markdown()}{DOC_END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    import sys

    update_docs(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
