"""A tqdm progress bar on stderr (rows done, rows/s, requests/s, errors, ETA), only on a terminal.

tqdm is imported only when a bar is shown: cron jobs, pipes and `-q` runs do not pay for it (~50 ms
of CPU at start-up, importlib.metadata among its imports)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from batchgs.transport.stats import TransportStats

ProgressListener = Callable[[int, int | None], None]

# The Python API's `on_progress(done, total)`: per context, so each call of the API hears its own run.
PROGRESS_LISTENER: ContextVar[ProgressListener | None] = ContextVar("batchgs_progress", default=None)


def notify_progress(done: int, total: int | None) -> None:
    """Tell the API caller's `on_progress` (if any) how far the run is."""
    listener = PROGRESS_LISTENER.get()
    if listener is not None:
        listener(done, total)


class Progress:
    def __init__(
        self, total: int, *, enabled: bool, stats: TransportStats | None = None, unit: str = "row"
    ) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.stats = stats
        self.errors = 0
        self.total = total
        self.done = 0  # the API's on_progress needs the count, bar or not
        self.started = time.monotonic()
        self.bar: Any = None
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def advance(self, outcomes: list[Any]) -> None:
        self.errors += sum(1 for o in outcomes if getattr(o, "status", "succeeded") != "succeeded")
        self.done += len(outcomes)
        notify_progress(self.done, self.total)
        if self.bar is not None:
            self.bar.update(len(outcomes))
            postfix: dict[str, object] = {"errors": self.errors}
            if self.stats is not None:
                elapsed = max(1e-6, time.monotonic() - self.started)
                postfix["req/s"] = f"{self.stats.requests / elapsed:.0f}"
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
