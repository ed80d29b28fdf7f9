"""The work of `status()` and `quota()` of the Python API (batchgs.api), which the CLI commands
`batchgs status` and `batchgs quota` call too and only print: a run folder's counts (or a `batchgs
validate` folder's report), why a run stopped in words, a running run's share of its key; every key's
requests in the rolling 24 hours and the jobs sharing it now.

Light on purpose: those two commands run this on every call, so nothing here (nor what it imports) loads
polars, aiohttp, openpyxl, pyarrow or the sandbox (tests/cli/test_startup.py), and each loads only its
own result classes (batchgs.api_types for status, batchgs.api_quota for quota), not batchgs.api.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchgs.errors import BatchgsError

if TYPE_CHECKING:
    from batchgs.api_quota import QuotaResult
    from batchgs.api_types import Credentials, RunResult
    from batchgs.config import Settings

PathArg = str | os.PathLike[str]


def settings_reader(
    state_dir: PathArg | None, profile: str | None, credentials: Credentials | None
) -> Callable[[], Settings]:
    """The settings a job of the API uses, resolved when asked exactly as the CLI resolves them (the
    environment, the profile), with `credentials` over the environment for this call only."""

    def read() -> Settings:
        from batchgs.config import environment_overlay, resolve

        with environment_overlay(credentials.as_environment() if credentials else {}):
            return resolve(profile=profile, state_dir=os.fspath(state_dir) if state_dir else None)

    return read


def status_result(
    run_dir: PathArg,
    *,
    state_dir: PathArg | None = None,
    profile: str | None = None,
    credentials: Credentials | None = None,
) -> RunResult:
    """`status()`: the run's summary as a RunResult, its exit code the one the run ends with."""
    from batchgs.api_types import RunResult
    from batchgs.reports.summary import exit_code_for

    summary = run_status(Path(run_dir), settings_reader(state_dir, profile, credentials))
    return RunResult.from_summary(summary, exit_code_for(summary))


def quota_result(
    *, state_dir: PathArg | None = None, profile: str | None = None, credentials: Credentials | None = None
) -> QuotaResult:
    """`quota()`: every key's figures, `current_key` the PX key these settings name."""
    return quota_report(settings_reader(state_dir, profile, credentials)())


REASON_WORDS = {
    "FatalApiError": "stopped: the API refused the key or the request",
    "fatal-api-error": "stopped: the API refused the key or the request",
    "QuotaExhausted": "stopped: the daily request quota is used up",
    "quota": "stopped: the daily request quota is used up",
    "Interrupted": "stopped by Ctrl-C or a signal (nothing answered was lost)",
    "interrupted": "stopped by Ctrl-C or a signal (nothing answered was lost)",
    "not-confirmed": "not confirmed: nothing was sent",
    "error": "stopped by an error",
}


def status_words(reason: str | None, message: str | None) -> str | None:
    """Why a run stopped, for people: the stop's own message when the run kept it, else the reason
    code in words (the code itself stays in the summary as status_reason, for tools)."""
    if not reason:
        return None
    if message:
        return f"stopped: {message}"
    return REASON_WORDS.get(reason, reason)


def run_status(run_dir: Path, settings: Callable[[], Settings]) -> dict[str, Any]:
    """What `batchgs status RUN_DIR --json` prints. The journal is opened read-only without the run
    lock, so this works on a run another process is driving. `settings` is called only for a running
    run, to find its share of the key on the shared limiter's board (state folder or coordinator)."""
    from batchgs.cli.runner import STOP_MESSAGE  # the journal key the CLI's stop handler writes
    from batchgs.reports.summary import build_summary
    from batchgs.run.cleanup import plan_summary, validation_summary
    from batchgs.run.journal import Journal

    checked = validation_summary(run_dir)
    if checked is not None:  # a `batchgs validate` folder: nothing was sent, there is nothing to resume
        return checked
    planned = plan_summary(run_dir)
    if planned is not None:  # a dry run's plan: nothing was sent either
        return planned
    with Journal.open(run_dir, lock=False) as journal:
        recorded_total = journal.get_progress("rows_total")
        summary = build_summary(
            journal, rows_total=recorded_total if isinstance(recorded_total, int) else None
        )
        if journal.meta.kind == "optout":  # people per receipt status, as the run's own summary
            from batchgs.engine.optout.receipt import optout_status

            summary.update(optout_status(journal, summary) or {})
        summary["options"] = journal.meta.options
        stop_message = journal.get_progress(STOP_MESSAGE)
        summary["status_words"] = status_words(
            summary["status_reason"], stop_message if isinstance(stop_message, str) else None
        )
    share = _share(settings, run_dir) if summary["status"] == "running" else None
    if share is not None:
        summary["share"] = share
    return summary


def _share(settings: Callable[[], Settings], run_dir: Path) -> dict[str, Any] | None:
    """The run's share now, or None (not running here, or the board cannot be read: status still works,
    e.g. while a first run is still creating the state folder's tables)."""
    import sqlite3

    from batchgs.transport.coordination import share_of_run

    try:
        found = share_of_run(settings(), run_dir)
    except (BatchgsError, OSError, sqlite3.Error):
        return None
    if found is None:
        return None
    job, board = found
    return {
        "requests_per_window": job.limit,
        "wants": job.want,
        "window_s": board.window,
        "key_rate": board.capacity,
        "jobs": sum(1 for other in board.jobs if not other.ending),
    }


def quota_report(settings: Settings) -> QuotaResult:
    """Every key of the state folder's ledger and share board, or of the coordinator when one is set;
    `current_key` marks the PX key these settings use."""
    from batchgs.api_quota import QuotaJob, QuotaKey, QuotaResult
    from batchgs.transport.coordination import describe_coordinator, pool_figures

    own = settings.px_api_key.fingerprint() if settings.px_api_key else None
    keys = []
    for figures in pool_figures(settings):
        board = figures.board
        jobs = (
            ()
            if board is None
            else tuple(
                QuotaJob(host=job.host, pid=job.pid, run=job.label, share=job.limit, wants=job.want)
                for job in board.jobs
                if not job.ending
            )
        )
        keys.append(
            QuotaKey(
                api=figures.scope,
                key_fingerprint=figures.fingerprint[:12],
                base_url=figures.base_url,
                current_key=figures.fingerprint == own,
                used=figures.used,
                left=None
                if figures.used is None or figures.daily_limit is None
                else max(0, figures.daily_limit - figures.used),
                daily_limit=figures.daily_limit,
                next_free_at=_local_time(figures.next_free_at),
                key_rate=board.capacity if board else None,
                window_s=board.window if board else None,
                jobs=jobs,
            )
        )
    source = (
        describe_coordinator(settings.coordinator.url) if settings.coordinator else str(settings.state_dir)
    )
    return QuotaResult(state_dir=settings.state_dir, source=source, keys=tuple(keys))


def _local_time(epoch: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else None
