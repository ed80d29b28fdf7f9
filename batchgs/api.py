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
- Progress goes to `on_progress(done, total)` (total may be None), notes to the `batchgs` logger.

The jobs are the CLI's commands run in this process (one code path: batchgs.cli.inprocess), so results,
run folders, exit codes and errors are those of the command line. This module imports nothing heavy until
a job runs: `import batchgs` stays light.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

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
    "QuotaKey",
    "QuotaResult",
    "ResumableStop",
    "RunResult",
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
    "validate_file",
    "validate_file_async",
]

LOG = logging.getLogger("batchgs")
ProgressCallback = Callable[[int, "int | None"], None]
T = TypeVar("T")
PathArg = str | os.PathLike[str]


# ---- credentials --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Where to send and with which keys, instead of the environment/profile. The repr masks the keys.

    Applied as if they were the environment variables of cli.md (GAINSIGHT_PX_API_KEY, ...), for this
    call only: nothing is written to `os.environ`.
    """

    px_api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    product_key: str | None = None
    cs_base_url: str | None = None
    cs_access_key: str | None = field(default=None, repr=False)
    cs_shared_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        def masked(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"Credentials(px_api_key={masked(self.px_api_key)}, base_url={self.base_url!r}, "
            f"product_key={self.product_key!r}, cs_base_url={self.cs_base_url!r}, "
            f"cs_access_key={masked(self.cs_access_key)}, "
            f"cs_shared_secret={masked(self.cs_shared_secret)})"
        )

    __str__ = __repr__

    def as_environment(self) -> dict[str, str]:
        names = {
            "GAINSIGHT_PX_API_KEY": self.px_api_key,
            "GAINSIGHT_PX_BASE_URL": self.base_url,
            "GAINSIGHT_PX_PRODUCT_KEY": self.product_key,
            "GAINSIGHT_CS_BASE_URL": self.cs_base_url,
            "GAINSIGHT_CS_ACCESS_KEY": self.cs_access_key,
            "GAINSIGHT_CS_SHARED_SECRET": self.cs_shared_secret,
        }
        return {name: value for name, value in names.items() if value is not None}


# ---- results ------------------------------------------------------------------------------------


def _path(value: Any) -> Path | None:
    return Path(str(value)) if value else None


def _file(run_dir: Path | None, name: str) -> Path | None:
    if run_dir is None:
        return None
    candidate = run_dir / name
    return candidate if candidate.is_file() else None


def _int(summary: Mapping[str, Any], name: str) -> int:
    value = summary.get(name)
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class RunResult:
    """One import, export, opt-out or resumed run (or a run's `status`): what summary.json carries.

    `status` is completed | paused | aborted | running (or `dry-run`: nothing was sent, the plan is in
    `summary["plan"]`). `exit_code` is the CLI's: 0 all good, 1 some rows invalid/failed/uncertain.
    """

    status: str
    exit_code: int
    run_dir: Path | None
    entity: str | None
    rows_total: int
    rows_invalid: int
    rows_succeeded: int
    rows_failed: int
    rows_uncertain: int
    requests: int
    errors_csv: Path | None
    success_csv: Path | None
    warnings_csv: Path | None
    changes_csv: Path | None
    receipt_csv: Path | None
    receipt_json: Path | None
    output: Path | None
    summary: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == int(ExitCode.OK)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], exit_code: int) -> RunResult:
        run_dir = _path(summary.get("run_dir"))
        return cls(
            status=str(summary.get("status") or ("dry-run" if summary.get("dry_run") else "unknown")),
            exit_code=exit_code,
            run_dir=run_dir,
            entity=summary.get("entity"),
            rows_total=_int(summary, "rows_total"),
            rows_invalid=_int(summary, "rows_invalid"),
            rows_succeeded=_int(summary, "rows_succeeded"),
            rows_failed=_int(summary, "rows_failed"),
            rows_uncertain=_int(summary, "rows_uncertain"),
            requests=_int(summary, "requests"),
            errors_csv=_file(run_dir, "errors.csv"),
            success_csv=_file(run_dir, "success.csv"),
            warnings_csv=_file(run_dir, "warnings.csv"),
            changes_csv=_file(run_dir, "changes.csv"),
            receipt_csv=_file(run_dir, "receipt.csv"),
            receipt_json=_file(run_dir, "receipt.json"),
            output=_path(summary.get("output")),
            summary=MappingProxyType(dict(summary)),
        )


@dataclass(frozen=True)
class ValidationResult:
    """`validate_file`: the counts and where the error report went (exit 1 when some rows are invalid)."""

    exit_code: int
    entity: str
    rows_total: int
    rows_valid: int
    rows_invalid: int
    issues_by_code: Mapping[str, int]
    errors_csv: Path | None
    errors_xlsx: Path | None
    summary: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def ok(self) -> bool:
        return self.rows_invalid == 0


@dataclass(frozen=True)
class QuotaKey:
    """Requests of one API key (by fingerprint, never in clear) in the rolling 24 hours."""

    api: str
    key_fingerprint: str
    current_key: bool
    used: int
    left: int
    daily_limit: int
    next_free_at: str | None


@dataclass(frozen=True)
class QuotaResult:
    state_dir: Path
    keys: tuple[QuotaKey, ...]


# ---- running a job --------------------------------------------------------------------------------


@contextlib.contextmanager
def _job_context(credentials: Credentials | None, on_progress: ProgressCallback | None) -> Iterator[None]:
    from batchgs.config import environment_overlay
    from batchgs.engine.progress import PROGRESS_LISTENER

    token = PROGRESS_LISTENER.set(on_progress)
    try:
        with environment_overlay(credentials.as_environment() if credentials else {}):
            yield
    finally:
        PROGRESS_LISTENER.reset(token)


def _run(
    command: str,
    arguments: list[str],
    options: Mapping[str, Any],
    *,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
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
        return code, status_summary(arguments[0])
    raise BatchgsError(f"batchgs {command} ended (exit {code}) without a summary")


def _in_own_loop(job: Callable[[], T]) -> T:
    """Run the job here, or in a worker thread (with this context) if this thread runs an event loop."""
    import asyncio  # here: `batchgs status` imports this module and needs no event loop
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return job()
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchgs") as pool:
        return pool.submit(context.run, job).result()


async def _in_thread(job: Callable[[], T]) -> T:
    """Await the job run in a worker thread; if the caller is cancelled, stop the run gracefully first."""
    import asyncio

    from batchgs.cli.runner import STOP_HANDLE, StopHandle

    handle = StopHandle()
    context = contextvars.copy_context()
    context.run(STOP_HANDLE.set, handle)
    future = asyncio.get_running_loop().run_in_executor(None, context.run, job)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        handle.request()  # as Ctrl-C: finish what is in flight, flush the journal, pause
        with contextlib.suppress(Exception, asyncio.CancelledError):  # it ends paused: resumable
            await future
        raise


# ---- the jobs -------------------------------------------------------------------------------------


def _import_job(
    entity: str,
    path: PathArg,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
) -> Callable[[], RunResult]:
    def job() -> RunResult:
        code, summary = _run(
            "import",
            [entity, os.fspath(path)],
            options,
            profile=profile,
            credentials=credentials,
            on_progress=on_progress,
        )
        return RunResult.from_summary(summary, code)

    return job


def import_file(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    """`batchgs import ENTITY PATH`: send the file's rows to Gainsight. Options: those of the command
    (`run_dir`, `mode`, `strategy`, `strict`, `dry_run`, `rate`, `yes`, ...; see `option_defaults`)."""
    return _in_own_loop(_import_job(entity, path, profile, credentials, on_progress, options))


async def import_file_async(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    """`import_file` for async code: runs in a worker thread; cancelling it pauses the run."""
    return await _in_thread(_import_job(entity, path, profile, credentials, on_progress, options))


def _validate_job(
    entity: str,
    path: PathArg,
    profile: str | None,
    credentials: Credentials | None,
    options: Mapping[str, Any],
) -> Callable[[], ValidationResult]:
    def job() -> ValidationResult:
        code, report = _run(
            "validate",
            [entity, os.fspath(path)],
            options,
            profile=profile,
            credentials=credentials,
            on_progress=None,
        )
        return ValidationResult(
            exit_code=code,
            entity=str(report.get("entity")),
            rows_total=_int(report, "rows_total"),
            rows_valid=_int(report, "rows_valid"),
            rows_invalid=_int(report, "rows_invalid"),
            issues_by_code=MappingProxyType(dict(report.get("issues_by_code") or {})),
            errors_csv=_path(report.get("errors_csv")),
            errors_xlsx=_path(report.get("errors_xlsx")),
            summary=MappingProxyType(report),
        )

    return job


def validate_file(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    **options: Any,
) -> ValidationResult:
    """`batchgs validate ENTITY PATH`: check the file, send nothing. `strict=True` raises
    StrictValidationError when a row is invalid."""
    return _in_own_loop(_validate_job(entity, path, profile, credentials, options))


async def validate_file_async(
    entity: str,
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    **options: Any,
) -> ValidationResult:
    return await _in_thread(_validate_job(entity, path, profile, credentials, options))


def _export_job(
    entity: str,
    output: PathArg,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
) -> Callable[[], RunResult]:
    def job() -> RunResult:
        code, summary = _run(
            "export",
            [entity],
            {"output": os.fspath(output), **options},
            profile=profile,
            credentials=credentials,
            on_progress=on_progress,
        )
        return RunResult.from_summary(summary, code)

    return job


def export(
    entity: str,
    output: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    """`batchgs export ENTITY -o OUTPUT` (.csv, .xlsx, .parquet, .jsonl). Options: `filters`, `sort`,
    `since`, `until`, `columns`, `ids_file`, `force`, `run_dir`, `rate`, ..."""
    return _in_own_loop(_export_job(entity, output, profile, credentials, on_progress, options))


async def export_async(
    entity: str,
    output: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    return await _in_thread(_export_job(entity, output, profile, credentials, on_progress, options))


def _optout_job(
    path: PathArg,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
) -> Callable[[], RunResult]:
    def job() -> RunResult:
        code, summary = _run(
            "optout",
            [os.fspath(path)],
            options,
            profile=profile,
            credentials=credentials,
            on_progress=on_progress,
        )
        return RunResult.from_summary(summary, code)

    return job


def optout(
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    """`batchgs optout PATH`: compliance opt-out with a receipt (`receipt_csv`, `receipt_json`).
    Options: `only`, `denylist`, `unsubscribe_email`, `dry_run`, `yes`, `run_dir`, ..."""
    return _in_own_loop(_optout_job(path, profile, credentials, on_progress, options))


async def optout_async(
    path: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    return await _in_thread(_optout_job(path, profile, credentials, on_progress, options))


def _resume_job(
    run_dir: PathArg,
    profile: str | None,
    credentials: Credentials | None,
    on_progress: ProgressCallback | None,
    options: Mapping[str, Any],
) -> Callable[[], RunResult]:
    def job() -> RunResult:
        code, summary = _run(
            "resume",
            [os.fspath(run_dir)],
            options,
            profile=profile,
            credentials=credentials,
            on_progress=on_progress,
        )
        return RunResult.from_summary(summary, code)

    return job


def resume(
    run_dir: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    """`batchgs resume RUN_DIR`: continue an import, export or opt-out run where it stopped.
    Options: `retry_failed`, `resend_uncertain`, `rate`, `wait_for_quota`, `yes`, ..."""
    return _in_own_loop(_resume_job(run_dir, profile, credentials, on_progress, options))


async def resume_async(
    run_dir: PathArg,
    *,
    profile: str | None = None,
    credentials: Credentials | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> RunResult:
    return await _in_thread(_resume_job(run_dir, profile, credentials, on_progress, options))


def status_summary(run_dir: PathArg) -> dict[str, Any]:
    """What `batchgs status RUN_DIR --json` prints: the run's counts from its journal (read-only, no
    lock: works on a run another process is driving)."""
    from batchgs.reports.summary import build_summary
    from batchgs.run.journal import Journal

    with Journal.open(Path(run_dir), lock=False) as journal:
        recorded_total = journal.get_progress("rows_total")
        summary = build_summary(
            journal, rows_total=recorded_total if isinstance(recorded_total, int) else None
        )
        summary["options"] = journal.meta.options
    return summary


def status(run_dir: PathArg) -> RunResult:
    """`batchgs status RUN_DIR`: a run's status and counts; `exit_code` is what the run ends with."""
    from batchgs.reports.summary import exit_code_for

    summary = status_summary(run_dir)
    return RunResult.from_summary(summary, exit_code_for(summary))


async def status_async(run_dir: PathArg) -> RunResult:
    return await _in_thread(lambda: status(run_dir))


def quota(
    *, state_dir: PathArg | None = None, profile: str | None = None, credentials: Credentials | None = None
) -> QuotaResult:
    """`batchgs quota`: requests used and left in the rolling 24 hours for every key this machine used
    (`current_key` marks the one the environment/profile/credentials name)."""
    import time

    from batchgs.config import resolve
    from batchgs.transport.ledger import list_ledger_entries

    with _job_context(credentials, None):
        settings = resolve(profile=profile, state_dir=os.fspath(state_dir) if state_dir else None)
    own = settings.px_api_key.fingerprint() if settings.px_api_key else None

    def when(epoch: float | None) -> str | None:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else None

    keys = tuple(
        QuotaKey(
            api=entry.scope,
            key_fingerprint=entry.fingerprint[:12],
            current_key=entry.fingerprint == own,
            used=entry.used,
            left=entry.left,
            daily_limit=entry.daily_limit,
            next_free_at=when(entry.next_free_at),
        )
        for entry in list_ledger_entries(settings.state_dir)
    )
    return QuotaResult(state_dir=settings.state_dir, keys=keys)


async def quota_async(
    *, state_dir: PathArg | None = None, profile: str | None = None, credentials: Credentials | None = None
) -> QuotaResult:
    return await _in_thread(lambda: quota(state_dir=state_dir, profile=profile, credentials=credentials))


def option_defaults(command: str) -> dict[str, Any]:
    """The keyword options `command` ("import", "validate", "export", "optout", "resume") accepts, with
    the CLI's defaults (None: decided at run time from the environment, profile or entity)."""
    from batchgs.cli.inprocess import api_options

    return {name: param.default for name, param in api_options(command).items()}


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
