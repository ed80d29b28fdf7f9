"""The exception tree and exit codes of batchgs.

Row problems are records (see `RowIssue` in batchgs.io), never exceptions. Exceptions here stop a
command; the CLI's single error boundary turns each into `Error: ...`, an optional `Hint: ...` and the
exit code of cli.md. This module imports nothing from batchgs so every layer can use it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the command-line contract (cli.md)."""

    OK = 0
    ROWS_FAILED = 1
    USAGE = 2
    STRICT_INVALID = 3
    RESUMABLE = 4
    NOT_RESUMABLE = 5


class BatchgsError(Exception):
    """Base of every error that stops a command. `message` is one line and never holds a secret."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(BatchgsError):
    """Bad options or arguments; nothing was sent."""


class ConfigError(BatchgsError):
    """Missing or invalid configuration (key, base URL, profile); nothing was sent."""


class InputFileError(BatchgsError):
    """The input file cannot be read at all (format, encoding, bomb, size); nothing was sent."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                path,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.row = row
        self.column = column


class OutputFileError(BatchgsError):
    """An output file cannot be written (exists without --force, bad suffix, permissions)."""


class StrictValidationError(BatchgsError):
    """`--strict` and some rows are invalid: nothing was sent."""

    exit_code = ExitCode.STRICT_INVALID


class ResumableStop(BatchgsError):
    """The run stopped before the end and can be resumed with `batchgs resume RUN_DIR`."""

    exit_code = ExitCode.RESUMABLE


class FatalApiError(ResumableStop):
    """401/403 or another answer that makes every further request pointless."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class QuotaExhausted(ResumableStop):
    """The rolling 24-hour request quota is used up."""

    def __init__(self, message: str, *, available_at: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.available_at = available_at


class CoordinatorLost(QuotaExhausted):
    """The shared rate limit / quota (the state folder's board or Redis) cannot be reached mid-run.
    Nothing may be sent unthrottled, so the run pauses exactly as on an exhausted quota."""


class Interrupted(ResumableStop):
    """Ctrl-C or SIGTERM: in-flight requests were finished and the journal flushed."""


class NotResumableError(BatchgsError):
    """The run folder cannot be resumed (changed input, corrupt or missing checkpoint)."""

    exit_code = ExitCode.NOT_RESUMABLE
