"""Write-ahead marks for non-idempotent rows (custom events, CS events).

When such a row's request has its limiter slot and is about to be written (the transport awaits the
mark through `request(before_send=...)`), the row is journalled `uncertain` with an in-flight message;
its real outcome replaces the mark once the API answers. A crash (kill -9, power cut) between the two
leaves the row `uncertain`: never silently re-sent by `resume`, re-sent only with `--resend-uncertain`.
So an event can be stored twice only if it was reported uncertain. Rows still waiting for the limiter
are not marked: after a crash they are pending, and `resume` sends them.

The journal commits with fsync, so marks made in the same event-loop turn share one commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from batchgs.io.rows import ValidatedRow
from batchgs.run.journal import Journal
from batchgs.run.outcomes import RowOutcome

IN_FLIGHT_CODE = "uncertain"
IN_FLIGHT_MESSAGE = (
    "the run stopped while this row's request was in flight: it may or may not be stored "
    "(not re-sent; resume --resend-uncertain sends it again)"
)


class IntentLog:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._pending: list[RowOutcome] = []
        self._committed: asyncio.Future[None] | None = None

    async def mark(self, row: ValidatedRow) -> None:
        """Return once the row is durably marked in flight (shares a commit with concurrent marks)."""
        await self.mark_outcome(
            RowOutcome(row.row, "uncertain", key=row.key, code=IN_FLIGHT_CODE, message=IN_FLIGHT_MESSAGE)
        )

    async def mark_rows(self, rows: Iterable[ValidatedRow]) -> None:
        """`mark` for the rows of one request (a CTA batch), in one commit."""
        await asyncio.gather(*(self.mark(row) for row in rows))

    async def mark_outcome(self, outcome: RowOutcome) -> None:
        """Return once `outcome` (a write-ahead mark of any shape) is durably in the journal."""
        self._pending.append(outcome)
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self._commit)
        await asyncio.shield(self._committed)

    def _commit(self) -> None:
        pending, committed = self._pending, self._committed
        self._pending, self._committed = [], None
        assert committed is not None
        try:
            self.journal.record(pending)
        except BaseException as exc:  # the workers waiting on this commit must not send
            committed.set_exception(exc)
        else:
            committed.set_result(None)
