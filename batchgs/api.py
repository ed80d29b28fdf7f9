"""batchgs from Python: the CLI's jobs as typed functions, for schedulers (Airflow, Dagster, Prefect)
and notebooks.

    import batchgs
    result = batchgs.import_file("users", "users.csv", rate=100, on_progress=print)
    result.status, result.rows_succeeded, result.errors_csv

- Options are keyword arguments named like the CLI's (`--dry-run` → `dry_run=True`, `--map` →
  `map_file=`, `--filter` → `filters=[...]`, `--ids` → `ids_file=`, `-o` → `output=`); their types
  and defaults are the click options themselves (batchgs.cli.inprocess), not a second list.
  `option_defaults("import")` shows them.
- Credentials come from the environment or the profile exactly as for the CLI (`profile="prod"`), or
  from a `Credentials` object, whose repr masks the keys. Never a plain string argument.
- Each job returns a frozen result carrying what summary.json (or `--json`) carries and raises the
  typed errors of batchgs.errors for what the CLI turns into exit codes 2-5: `UsageError`,
  `ConfigError`, `InputFileError`, `OutputFileError` (2); `StrictValidationError` (3);
  `ResumableStop` and its kinds `FatalApiError`, `QuotaExhausted`, `Interrupted` (4);
  `NotResumableError` (5). Exit 1 (some rows invalid or failed) is a result, not an error.
- Every job has an `..._async` twin. The sync function runs the job on its own event loop in a worker
  thread when the calling thread already runs a loop (Jupyter); the async one always does, without
  blocking the caller's loop, and cancelling it stops the run as Ctrl-C would (resumable).
- Progress goes to `on_progress(done, total)` (total may be None), never to a bar; what the command
  would write to stderr (notes, warnings) goes to the `batchgs` logger.

The jobs are the CLI's commands run in this process (one code path: batchgs.cli.inprocess), so results,
run folders, exit codes and errors are those of the command line. This module imports nothing heavy until
a job runs: `import batchgs` stays light.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from batchgs.api_quota import QuotaJob, QuotaKey, QuotaResult
from batchgs.api_reads import PathArg, quota_result, run_status, settings_reader, status_result
from batchgs.api_types import Credentials, RunResult, RunShare, ValidationResult
from batchgs.errors import (
    BatchgsError,
    ConfigError,
    ExitCode,
    FatalApiError,
    InputFileError,
    Interrupted,
    NotResumableError,
    OutputFileError,
    QuotaExhausted,
    ResumableStop,
    StrictValidationError,
    UsageError,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from batchgs.cli.runner import StopHandle
    from batchgs.sandbox.server import SandboxThread

__all__ = [
    "BatchgsError",
    "ConfigError",
    "Credentials",
    "ExitCode",
    "FatalApiError",
    "InputFileError",
    "Interrupted",
    "NotResumableError",
    "OutputFileError",
    "ProgressCallback",
    "QuotaExhausted",
    "QuotaJob",
    "QuotaKey",
    "QuotaResult",
    "ResumableStop",
    "RunResult",
    "RunShare",
    "Sandbox",
    "StrictValidationError",
    "UsageError",
    "ValidationResult",
    "export",
    "export_async",
    "import_file",
    "import_file_async",
    "option_defaults",
    "optout",
    "optout_async",
    "quota",
    "quota_async",
    "resume",
    "resume_async",
    "status",
    "status_async",
    "undo",
    "undo_async",
    "validate_file",
    "validate_file_async",
]

LOG = logging.getLogger("batchgs")
ProgressCallback = Callable[[int, "int | None"], None]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")


# ---- running a job --------------------------------------------------------------------------------


@contextlib.contextmanager
def _job_context(credentials: Credentials | None, on_progress: ProgressCallback | None) -> Iterator[None]:
    """The caller's credentials and progress callback, for this job only (context variables)."""
    from batchgs.config import environment_overlay

    with contextlib.ExitStack() as stack:
        if on_progress is not None:
            from batchgs.engine.progress import PROGRESS_LISTENER

            token = PROGRESS_LISTENER.set(_guarded(on_progress))
            stack.callback(PROGRESS_LISTENER.reset, token)
        stack.enter_context(environment_overlay(credentials.as_environment() if credentials else {}))
        yield


def _guarded(on_progress: ProgressCallback) -> ProgressCallback:
    """The caller's callback, such that its failure never breaks the run it reports on (a progress
    display's bug must not stop a nightly load half-way): logged once with its traceback, then no
    longer called for this run."""
    broken = False

    def call(done: int, total: int | None) -> None:
        nonlocal broken
        if broken:
            return
        try:
            on_progress(done, total)
        except Exception:
            broken = True
            LOG.exception("on_progress raised; it is not called again for this run, which goes on")

    return call


def _run(
    command: str,
    arguments: list[str],
    options: Mapping[str, Any],
    *,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None = None,
) -> tuple[int, dict[str, Any]]:
    """`batchgs [--profile P] COMMAND ARGUMENTS --json OPTIONS` in this thread: (exit code, its JSON)."""
    from batchgs.cli.inprocess import invoke, option_args

    argv = [*(["--profile", profile] if profile else []), command, *arguments, "--json"]
    argv += option_args(command, options)
    LOG.info("batchgs %s %s", command, " ".join(arguments))
    with _job_context(credentials, on_progress):
        code, documents = invoke(argv)
    if documents:
        return code, documents[-1]
    if command == "resume":  # a run that was already complete answers with a note only
        return code, run_status(Path(arguments[0]), settings_reader(None, profile, credentials))
    raise BatchgsError(f"batchgs {command} ended (exit {code}) without a summary")


def _in_own_loop(job: Callable[[], T]) -> T:
    """Run the job here, or in a worker thread (with this context) if this thread runs an event loop."""
    import asyncio  # here: `import batchgs` stays light

    in_loop = True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return job()  # outside the `except`: its errors carry no "no running event loop" context
    from concurrent.futures import ThreadPoolExecutor

    context, handle = _stoppable_context()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchgs")
    wait = True
    try:
        future = pool.submit(context.run, job)
        try:
            return _result(future)
        except KeyboardInterrupt:  # Ctrl-C / "interrupt the kernel" while the worker thread runs the job
            handle.request()  # as on the command line: finish what is in flight, flush, pause
            try:
                return _result(future)  # typically raises Interrupted (exit 4, with the resume hint)
            except KeyboardInterrupt:  # a second one: stop waiting (the job still pauses on its own)
                wait = False
                raise
    finally:
        pool.shutdown(wait=wait)


def _result(future: Future[T]) -> T:
    """The job's result, waiting in short slices: a SIGINT that the OS hands to another thread only
    reaches Python's handler (in this, the main thread) when this thread wakes up, so it must wake now
    and then rather than sleep in one wait until the whole run is over."""
    from concurrent.futures import wait

    while not future.done():
        wait([future], timeout=0.2)
    return future.result()


def _stoppable_context() -> tuple[contextvars.Context, StopHandle]:
    """A copy of this context in which the job's run loop listens to a stop handle (the CLI's Ctrl-C
    path), and that handle: a job in a worker thread cannot receive signals itself."""
    from batchgs.cli.runner import STOP_HANDLE
    from batchgs.cli.runner import StopHandle as Handle

    handle = Handle()
    context = contextvars.copy_context()
    context.run(STOP_HANDLE.set, handle)
    return context, handle


async def _in_thread(job: Callable[[], T]) -> T:
    """Await the job run in a worker thread; if the caller is cancelled, stop the run gracefully first."""
    import asyncio

    context, handle = _stoppable_context()
    future = asyncio.get_running_loop().run_in_executor(None, context.run, job)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        handle.request()  # as Ctrl-C: finish what is in flight, flush the journal, pause
        with contextlib.suppress(Exception, asyncio.CancelledError):  # it ends paused: resumable
            await future
        raise


# ---- the jobs: one factory each; the public function and its async twin are made from it ----------


def _sync(factory: Callable[P, Callable[[], T]]) -> Callable[P, T]:
    """The public function: builds the job and runs it (in a worker thread if a loop runs here)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return _in_own_loop(factory(*args, **kwargs))

    return _named_after(run, factory, "")


def _async(factory: Callable[P, Callable[[], T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """The `_async` twin: the same job awaited in a worker thread; cancelling it pauses the run."""

    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await _in_thread(factory(*args, **kwargs))

    return _named_after(run, factory, "_async")


def _named_after(function: F, factory: Callable[..., Any], suffix: str) -> F:
    """`_import_file` → `import_file` / `import_file_async`, with the factory's docstring and
    parameters, so help() and IDEs show the public function, not the factory."""
    import inspect

    name = factory.__name__.lstrip("_") + suffix
    function.__name__ = function.__qualname__ = name
    function.__doc__ = factory.__doc__
    function.__signature__ = inspect.signature(factory).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    return function


def _run_job(
    command: str,
    arguments: list[str],
    options: Mapping[str, Any],
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
) -> Callable[[], RunResult]:
    def job() -> RunResult:
        code, summary = _run(
            command, arguments, options, profile=profile, credentials=credentials, on_progress=on_progress
        )
        return RunResult.from_summary(summary, code)

    return job


def _import_file(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Callable[[], RunResult]:
    """`batchgs import ENTITY PATH`: send the file's rows to Gainsight. Options: those of the command
    (`run_dir`, `mode`, `strategy`, `strict`, `dry_run`, `rate`, `yes`, ...; see `option_defaults`)."""
    return _run_job("import", [entity, os.fspath(path)], options, profile, credentials, on_progress)


def _validate_file(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    **options: Any,
) -> Callable[[], ValidationResult]:
    """`batchgs validate ENTITY PATH`: check the file, send nothing. `strict=True` raises
    StrictValidationError when a row is invalid."""

    def job() -> ValidationResult:
        code, report = _run(
            "validate", [entity, os.fspath(path)], options, profile=profile, credentials=credentials
        )
        return ValidationResult.from_report(report, code)

    return job


def _export(
    entity: str,
    output: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Callable[[], RunResult]:
    """`batchgs export ENTITY -o OUTPUT` (.csv, .xlsx, .parquet, .jsonl). Options: `filters`, `sort`,
    `since`, `until`, `columns`, `ids_file`, `force`, `run_dir`, `rate`, ..."""
    options = {"output": os.fspath(output), **options}
    return _run_job("export", [entity], options, profile, credentials, on_progress)


def _optout(
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Callable[[], RunResult]:
    """`batchgs optout PATH`: compliance opt-out with a receipt (`receipt_csv`, `receipt_json`).
    Options: `only`, `denylist`, `unsubscribe_email`, `dry_run`, `yes`, `run_dir`, ..."""
    return _run_job("optout", [os.fspath(path)], options, profile, credentials, on_progress)


def _resume(
    run_dir: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Callable[[], RunResult]:
    """`batchgs resume RUN_DIR`: continue an import, export, opt-out or undo run where it stopped.
    Options: `retry_failed`, `resend_uncertain`, `rate`, `wait_for_quota`, `yes`, ..."""
    return _run_job("resume", [os.fspath(run_dir)], options, profile, credentials, on_progress)


def _undo(
    run_dir: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Callable[[], RunResult]:
    """`batchgs undo RUN_DIR`: take back a users/accounts import from its before-images. The undo is a
    run of its own: `undo_dir=` (the CLI's `--run-dir`); `yes=True` confirms; conflicts → exit_code 1."""
    return _run_job("undo", [os.fspath(run_dir)], options, profile, credentials, on_progress)


def _status(
    run_dir: PathArg,
    *,
    state_dir: PathArg | None = None,
    profile: str | None = None,
    credentials: Credentials | None = None,
) -> Callable[[], RunResult]:
    """`batchgs status RUN_DIR`: a run's status and counts from its journal (read-only: works on a run
    another process drives), why it stopped (`status_reason`, `status_words`) and, while it runs, its
    share of the key (`share`; from the shared limiter in `state_dir` or the coordinator). A
    `batchgs validate` folder gives status "validated". `exit_code` is what the run ends with."""

    return lambda: status_result(run_dir, state_dir=state_dir, profile=profile, credentials=credentials)


def _quota(
    *, state_dir: PathArg | None = None, profile: str | None = None, credentials: Credentials | None = None
) -> Callable[[], QuotaResult]:
    """`batchgs quota`: requests used and left in the rolling 24 hours for every key this machine used
    (every machine's, with a coordinator), and the jobs sharing each key now with their shares of its
    rate; `current_key` marks the one the environment/profile/credentials name."""

    return lambda: quota_result(state_dir=state_dir, profile=profile, credentials=credentials)


import_file = _sync(_import_file)
import_file_async = _async(_import_file)
validate_file = _sync(_validate_file)
validate_file_async = _async(_validate_file)
export = _sync(_export)
export_async = _async(_export)
optout = _sync(_optout)
optout_async = _async(_optout)
resume = _sync(_resume)
resume_async = _async(_resume)
undo = _sync(_undo)
undo_async = _async(_undo)
status = _sync(_status)
status_async = _async(_status)
quota = _sync(_quota)
quota_async = _async(_quota)


def option_defaults(command: str) -> dict[str, Any]:
    """The keyword options `command` ("import", "validate", "export", "optout", "resume", "undo")
    accepts, with the CLI's defaults (None: decided at run time from the environment, profile or
    entity). Read from the click options: the one definition both use."""
    from batchgs.cli import inprocess

    return inprocess.option_defaults(command)


# ---- a sandbox for your own tests -----------------------------------------------------------------


class Sandbox:
    """The built-in Gainsight emulator on 127.0.0.1 (a free port), served from a background thread.

        with batchgs.Sandbox(seed_users=1000) as sb:
            batchgs.export("users", "users.parquet", credentials=sb.credentials)

    `settings` are those of `batchgs sandbox` (latency_ms, fail_rate, daily_limit, seed_accounts, ...).
    """

    def __init__(
        self,
        *,
        seed_users: int = 0,
        api_key: str = "sandbox",
        product_key: str = "AP-SANDBOX-1",
        **settings: Any,
    ) -> None:
        self._changes: dict[str, Any] = {"api_key": api_key, "seed_users": seed_users, **settings}
        self.product_key = product_key
        self._thread: SandboxThread | None = None

    def __enter__(self) -> Sandbox:
        from batchgs.sandbox.server import SandboxThread
        from batchgs.sandbox.settings import SandboxConfig

        try:
            config = SandboxConfig().with_changes(**self._changes)
        except ValueError as exc:
            raise UsageError(f"Sandbox: {exc}") from None
        self._thread = SandboxThread(config).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    @property
    def thread(self) -> SandboxThread:
        if self._thread is None:
            raise UsageError("the sandbox is not running (use it in a `with` block)")
        return self._thread

    @property
    def base_url(self) -> str:
        return self.thread.url

    @property
    def api_key(self) -> str:
        return self.thread.api_key

    @property
    def credentials(self) -> Credentials:
        """Credentials for PX and CS on this sandbox."""
        config = self.thread.config
        return Credentials(
            px_api_key=config.api_key,
            base_url=self.base_url,
            product_key=self.product_key,
            cs_base_url=self.base_url,
            cs_access_key=config.cs_access_key,
            cs_shared_secret=config.cs_shared_secret,
        )

    def __repr__(self) -> str:
        where = self._thread.url if self._thread is not None else "not running"
        return f"Sandbox({where})"
