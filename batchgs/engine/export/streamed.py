"""The output file written while the export still fetches (issue 18: write while fetching).

Parts go into the file in output order as soon as every part before them is in, on a writing thread,
so when the last page comes only the last parts are left to write (a sliced 100,000-user export
spent ~0.25 s writing after its last page). Nothing is decoded twice: the writer reads the spooled
frames, as the write at the end does.

The columns must be known before the first row. They are those of the parts fetched when the stream
starts (documented fields and custom attributes are columns anyway: only an undocumented key a later
part brings can change them). If the columns the whole export has differ, the streamed file is thrown
away and the export writes the file whole at the end, as before. Either way the bytes are the same:
the same frames, in the same order, batched the same way, with the same columns (a CSV, whose cells do
not depend on the batches, also writes what it holds whenever it would wait: the rows left after the
last page are then ~10,000 at most, not up to a 50,000-row batch); so a resumed export still gives the
file an uninterrupted one gives. A stop or a failed part throws the streamed file away
(the spools stay for `resume`); a kill -9 leaves the writer's hidden temporary file, which the resume
removes (`remove_stale_temporaries`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from batchgs.engine.export.slices import Part
from batchgs.engine.threads import to_thread

if TYPE_CHECKING:
    from batchgs.engine.export.assemble import Layout

Writer = Callable[[Iterable[Part | None], threading.Event, "Layout"], int]
_END = object()  # every part is queued: finish the file
_ABANDON = object()  # throw the streamed file away


class Abandoned(Exception):
    """The streamed file is thrown away (raised on the writing thread, inside the writer)."""


class StreamedWrite:
    """One output file written on a thread from parts handed over in output order."""

    def __init__(self, shape: Layout, write: Writer) -> None:
        """`write(parts, stop, shape)`: writes every part `parts` yields with the columns of `shape`, and
        commits the file (`assemble`)."""
        self.shape = shape
        self.stop = threading.Event()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._queued: set[int] = set()
        self._task = asyncio.ensure_future(to_thread(write, self._parts(), self.stop, shape))

    def offer(self, leaves: list[Part]) -> None:
        """Hand over the done parts at the head of `leaves` (output order) not handed over yet."""
        for part in leaves:
            if part.status != "done":
                return
            if part.id not in self._queued:
                self._queued.add(part.id)
                self._queue.put(part)

    async def finish(self, leaves: list[Part], shape: Layout) -> int | None:
        """The rows written once every part of `leaves` is in, or None when the streamed file could not
        be the export's (other columns, a part not done, a writer that failed): the caller then writes
        the file whole, which also reports any real error properly."""
        if not _same(shape, self.shape) or any(p.status != "done" for p in leaves) or self._task.done():
            await self.abandon()
            return None
        self.offer(leaves)
        self._queue.put(_END)
        try:
            return await self._task
        except Exception:  # (Abandoned among them)
            return None

    async def abandon(self) -> None:
        """Throw the streamed file away (its temporary file included) and wait for the thread."""
        self.stop.set()
        self._queue.put(_ABANDON)
        with contextlib.suppress(BaseException):
            await self._task

    def _parts(self) -> Iterator[Part | None]:
        """The parts handed over; a None whenever the writer would wait for the next one (it may
        write what it holds meanwhile)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                yield None
                item = self._queue.get()
            if item is _END:
                return
            if item is _ABANDON:
                raise Abandoned
            assert isinstance(item, Part)
            yield item


def _same(a: Layout, b: Layout) -> bool:
    return (a.columns, a.date_columns, a.id_columns, a.types) == (
        b.columns,
        b.date_columns,
        b.id_columns,
        b.types,
    )


def remove_stale_temporaries(output: Path) -> None:
    """Remove the hidden temporary files of `output` a killed export left (the writers' own naming,
    `.<name>.<8 hex>.tmp`; `batchgs.io.write.base`): the run being resumed is the one that wrote them."""
    pattern = re.compile(rf"\.{re.escape(output.name)}\.[0-9a-f]{{8}}\.tmp(\.fix)?")
    with contextlib.suppress(OSError):
        for item in output.parent.iterdir():
            if pattern.fullmatch(item.name):
                item.unlink(missing_ok=True)
