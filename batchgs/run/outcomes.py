"""The run's vocabulary for rows: what one input row came to, and how many came to what.

Every job (import, CS import, opt-out, export by ids) speaks it; the journal stores it. It lives apart
from the journal so the senders that produce outcomes need not know how they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

RowStatus = Literal["succeeded", "failed", "invalid", "uncertain"]
ROW_STATUSES: tuple[RowStatus, ...] = get_args(RowStatus)
# the statuses whose rows go to errors.csv (to be fixed and fed back)
PROBLEM_STATUSES: tuple[RowStatus, ...] = ("failed", "invalid", "uncertain")


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What one input row came to. `row` is the spreadsheet row number (header = 1)."""

    row: int
    status: RowStatus
    op: str | None = None  # created, updated, deleted, skipped, ...
    key: str | None = None
    code: str | None = None
    message: str | None = None
    http_status: int | None = None
    transient: bool = False  # failed for a reason that may pass (429/5xx/timeouts): worth a retry


@dataclass(frozen=True, slots=True)
class RowCounts:
    succeeded: int = 0
    failed: int = 0
    invalid: int = 0
    uncertain: int = 0
    failed_transient: int = 0  # part of `failed`

    @property
    def recorded(self) -> int:
        return self.succeeded + self.failed + self.invalid + self.uncertain
