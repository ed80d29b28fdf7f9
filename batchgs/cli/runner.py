"""What every sending command (import, optout, export, resume) shares around its engine run.

- `run_with_signals`: runs a coroutine with SIGINT/SIGTERM wired to a stop event, so Ctrl-C finishes
  in-flight requests and flushes the journal instead of killing the process mid-write.
- `confirm_count`: the typed-count confirmation of destructive or large runs.
- `resume_hint`, `exit_code_for`: the resume command and exit code a finished/paused run ends with.
- `run_segment`: one segment of an import (PX or CS) or an undo, new or resumed, up to its exit code.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchgs.cli.common import emit_json, info
from batchgs.errors import ExitCode, Interrupted, QuotaExhausted, ResumableStop, UsageError
from batchgs.reports.summary import exit_code_for, human_summary
from batchgs.run.journal import Journal

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


class StopHandle:
    """Lets another thread ask the command running under `run_with_signals` to stop as Ctrl-C would
    (requests in flight finish, the journal is flushed, the run is paused and resumable): the Python
    API's cancellation of an `..._async` call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.requested = False

    def attach(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._targets.append((loop, event))
            if self.requested:
                loop.call_soon_threadsafe(event.set)

    def request(self) -> None:
        with self._lock:
            self.requested = True
            for loop, event in self._targets:
                with contextlib.suppress(RuntimeError):  # that segment's loop already ended
                    loop.call_soon_threadsafe(event.set)


STOP_HANDLE: ContextVar[StopHandle | None] = ContextVar("batchgs_stop_handle", default=None)


def run_with_signals(make: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run `make(stop_event)`; the first SIGINT/SIGTERM sets the event (requests in flight finish);
    a second cancels the command (requests in flight abandoned, raised as `Interrupted`: the run is
    paused and resumable); a third ends the process on the spot."""
    import asyncio  # here, not at the top: `batchgs status` uses this module and needs no event loop
    import signal

    async def main() -> T:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed: list[int] = []
        handle = STOP_HANDLE.get()
        if handle is not None:
            handle.attach(loop, stop)
        command = asyncio.current_task()
        at_once = False

        def on_signal(signum: int) -> None:
            nonlocal at_once
            if at_once:  # a third: nothing more is waited for (the journal stands, as after kill -9)
                os._exit(int(ExitCode.RESUMABLE))
            if stop.is_set():
                name = signal.Signals(signum).name
                click.echo(f"{name} again: stopping now, abandoning the requests in flight", err=True)
                at_once = True
                if command is not None:
                    command.cancel()  # everything unwinds: the journal and the run's status are kept
                return
            click.echo(
                f"\n{signal.Signals(signum).name}: finishing requests in flight, then stopping "
                "(again to stop at once)",
                err=True,
            )
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, on_signal, signum)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
                pass
        owner = None
        if signal.SIGINT in installed:
            reinstall = functools.partial(loop.add_signal_handler, signal.SIGINT, on_signal, signal.SIGINT)
            owner = asyncio.create_task(_own_sigint_after_polars(reinstall), name=OWN_SIGINT_TASK)
        try:
            return await make(stop)
        except asyncio.CancelledError:
            if not at_once:
                raise
            raise Interrupted("interrupted twice: stopped without waiting for requests in flight") from None
        finally:
            if owner is not None:
                owner.cancel()
            for installed_signum in installed:
                loop.remove_signal_handler(installed_signum)

    return asyncio.run(main())


OWN_SIGINT_TASK = "batchgs-own-sigint"


async def _own_sigint_after_polars(reinstall: Callable[[], None]) -> None:
    """Import Polars (on a thread, while the command starts) and then put our SIGINT handler back in
    front: importing Polars hooks SIGINT ahead of Python's handler, and a Ctrl-C then also made
    whatever Polars ran on a worker thread raise KeyboardInterrupt (`batchgs.engine.threads`) instead
    of letting the stop finish the pages in hand. Setting our handler again takes the signal back."""
    import asyncio
    import importlib

    with contextlib.suppress(Exception):  # (without Polars the command fails on its own, clearly)
        await asyncio.to_thread(importlib.import_module, "polars")
    reinstall()


def confirm_count(
    count: int, action: str, *, yes: bool, warning: str | None = None, unit: str = "records"
) -> None:
    """Ask for the count to be typed back (`--yes` skips). Refuses when stdin is not a terminal."""
    if yes or count == 0:
        return
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    if not sys.stdin.isatty():
        raise UsageError(
            f"this run will {action} {count:,} {unit} and needs confirmation",
            hint="add --yes to confirm without a prompt",
        )
    typed = click.prompt(
        f"This will {action} {count:,} {unit}. Type {count} to confirm",
        default="",
        show_default=False,
        err=True,
    )
    if typed.strip().replace(",", "") != str(count):
        raise UsageError("confirmation did not match: nothing was sent")


def resume_hint(run_dir: Path | str, *extra: str) -> str:
    return shlex.join(["batchgs", "resume", str(run_dir), *extra])


def run_segment(
    journal: Journal,
    make: Callable[[asyncio.Event], Awaitable[dict[str, Any]]],
    *,
    quiet: bool,
    as_json: bool,
) -> int:
    """Run one import segment with Ctrl-C wired to a clean stop; print the summary; the exit code.

    A paused run raises its resumable error with the exact resume command as the hint (exit 4); a
    refused confirmation (UsageError) leaves the run `aborted`.
    """
    try:
        summary = run_with_signals(make)
    except ResumableStop as exc:  # before any row was sent: the key refused, the quota gone...
        record_stop(journal, exc, before_sending=True)
        raise type(exc)(exc.message, hint=resumable_hint(journal.run_dir, exc)) from None
    except UsageError as exc:
        journal.set_status("aborted", reason="not-confirmed")
        raise exc from None
    stop = summary.pop("stop", None)
    if as_json:
        emit_json(summary)
    elif not quiet:
        click.echo(human_summary(summary))  # names the run folder
    if quiet or as_json:
        info(f"run folder: {journal.run_dir}")
    if isinstance(stop, ResumableStop):
        record_stop(journal, stop)
        raise type(stop)(stop.message, hint=resumable_hint(journal.run_dir, stop))
    return exit_code_for(summary)


def resumable_hint(run_dir: Path, exc: ResumableStop) -> str:
    """What to do about a paused run: when the quota returns, and the exact resume command."""
    command = resume_hint(run_dir)
    if isinstance(exc, QuotaExhausted) and exc.available_at:
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(exc.available_at))
        return f"capacity returns at {when}; then run: {command} (or add --wait-for-quota)"
    if exc.hint:
        return f"{exc.hint}; then run: {command}"
    return f"continue with: {command}"


@dataclass(frozen=True)
class ResumeFlags:
    """The options of `batchgs resume RUN_DIR`, handed to the command module that owns the run's kind.

    Each resumable command module exposes `resume_run(ctx, run_dir, flags) -> int` (the exit code);
    `batchgs resume` picks the module from the journal's kind/entity.
    """

    yes: bool = False
    quiet: bool = False
    verbose: bool = False
    as_json: bool = False
    wait_for_quota: bool = False
    retry_failed: bool = False
    resend_uncertain: bool = False
    rate: float | None = None
    daily_limit: int | None = None  # None: the environment's/profile's limit
    state_dir: Path | None = None  # None: BATCHGS_STATE_DIR or the per-user default

    def connection(self, base_url: str | None, journal: Journal | None = None) -> dict[str, Any]:
        """The settings options of a resumed segment: the run's base URL, and the rate and daily limit
        the run was started with (see `remember_settings`) unless this command gives others — then it
        says so on stderr, since a resumed run silently going faster or slower surprises."""
        saved = (journal.get_progress(RUN_SETTINGS) if journal is not None else None) or {}
        chosen: dict[str, Any] = {}
        for name, label, shown in KEPT_SETTINGS:
            given, started = getattr(self, name), saved.get(name)
            chosen[name] = started if given is None else given
            if given is not None and started is not None and given != started:
                click.echo(
                    f"Note: {label} {shown.format(given)} for this segment "
                    f"(the run was started with {shown.format(started)})",
                    err=True,
                )
        return {"base_url": base_url, **chosen, "state_dir": self.state_dir}


STOP_MESSAGE = "stop_message"


def record_stop(journal: Journal, exc: BaseException, *, before_sending: bool = False) -> None:
    """Keep why a run paused, in words (`batchgs status` shows it; the reason code stays for tools).
    `before_sending`: the stop came before the engine ran (preflight, quota), so set the status too."""
    if before_sending:
        journal.set_status("paused", reason=type(exc).__name__)
    journal.set_progress(STOP_MESSAGE, getattr(exc, "message", None) or str(exc))


RUN_SETTINGS = "run_settings"
KEPT_SETTINGS = (("rate", "rate", "{:g}/s"), ("daily_limit", "daily limit", "{:,}"))


def remember_settings(journal: Journal, settings: Any) -> None:
    """Save the rate and daily limit a run starts with, for `ResumeFlags.connection`."""
    journal.set_progress(RUN_SETTINGS, {name: getattr(settings, name) for name, _l, _s in KEPT_SETTINGS})


def open_for_resume(run_dir: Path) -> tuple[Journal, Path]:
    """The run's journal (locked) and its input file, refused (exit 5) if the file changed."""
    journal = Journal.open(run_dir)
    try:
        input_path = journal.meta.input_path
        if input_path is None:
            raise UsageError(f"{run_dir}: the run records no input file")
        journal.check_input(input_path)
    except BaseException:
        journal.close()
        raise
    return journal, Path(input_path)
