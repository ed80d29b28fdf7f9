"""Work handed from the event loop to a thread, where a Ctrl-C must arrive as a stop, not a crash.

Polars 2 hooks SIGINT itself: while any Polars computation runs, a Ctrl-C makes it raise
KeyboardInterrupt, on whatever thread it runs. Raised in a worker thread, that KeyboardInterrupt
reached the task awaiting the thread, and asyncio lets a KeyboardInterrupt out of the event loop: the
run was left half cancelled (an export hung in `asyncio.run`'s clean-up, its stop never finished).
Python raises its own KeyboardInterrupt in the main thread only, so one raised in a worker thread is
always Polars' echo of a Ctrl-C: here it becomes `Interrupted`, the stop the user asked for (the run
pauses, resumable). The command line keeps Polars from seeing the signal at all
(`batchgs.cli.runner.run_with_signals`); this covers a notebook, whose kernel owns SIGINT.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from batchgs.errors import Interrupted

P = ParamSpec("P")
T = TypeVar("T")


def interruptible(work: Callable[P, T]) -> Callable[P, T]:
    """`work` for a worker thread: its KeyboardInterrupt raised as `Interrupted`."""

    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return work(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted (Ctrl-C) while data was being processed") from None

    return run


async def to_thread(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`asyncio.to_thread` for work that may run Polars (see the module's docstring)."""
    return await asyncio.to_thread(interruptible(work), *args, **kwargs)
