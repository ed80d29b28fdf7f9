"""A bounded producer → N workers → single collector pipeline.

Memory stays flat for any file size: the producer blocks when the queue is full, and results are handed
to one collector coroutine (the only writer of the journal and reports) in small batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _End:
    """The end of a queue: private, so that any item or result (None included) passes through."""


_END = _End()


class StopRun(Exception):
    """Raised by a worker to stop every worker (fatal API error, quota): in-flight requests finish."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Pool(Generic[Item, Result]):
    def __init__(
        self,
        handle: Callable[[Item], Awaitable[Result]],
        collect: Callable[[list[Result]], Awaitable[None] | None],
        *,
        workers: int,
        queue_size: int | None = None,
        flush_every: int = 200,
        flush_seconds: float = 0.2,
    ) -> None:
        self._handle = handle
        self._collect = collect
        self._workers = max(1, workers)
        self._queue: asyncio.Queue[Item | _End] = asyncio.Queue(maxsize=queue_size or self._workers * 4)
        self._results: asyncio.Queue[Result | _End] = asyncio.Queue(maxsize=self._workers * 8)
        self._flush_every = flush_every
        self._flush_seconds = flush_seconds
        self.stop = asyncio.Event()
        self.stop_cause: BaseException | None = None
        self._failures: list[Exception] = []  # unexpected errors of `handle`, raised by `run`
        self._unhanded: list[Result] = []  # results the collector holds, not yet handed to `collect`

    def request_stop(self, cause: BaseException | None = None) -> None:
        if cause is not None and self.stop_cause is None:
            self.stop_cause = cause
        self.stop.set()

    async def run(self, items: AsyncIterator[Item]) -> None:
        workers = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        collector = asyncio.create_task(self._collector())
        try:
            try:
                async for item in items:
                    if self.stop.is_set():
                        break
                    await self._queue.put(item)
            except Exception:
                await self._finish(workers, collector)  # requests in flight finish; the rest stays queued
                raise
            results = await self._finish(workers, collector)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            await self._abandon(workers, collector)
            raise
        for outcome in results:
            if isinstance(outcome, BaseException) and not isinstance(outcome, StopRun):
                raise outcome
        if self._failures:
            raise self._failures[0]

    async def _finish(self, workers: list[asyncio.Task[None]], collector: asyncio.Task[None]) -> list[object]:
        """End the workers (each finishes its item) and the collector (it hands on the last results)."""
        for _ in workers:
            await self._queue.put(_END)
        results: list[object] = await asyncio.gather(*workers, return_exceptions=True)
        await self._results.put(_END)
        await collector
        return results

    async def _abandon(self, workers: list[asyncio.Task[None]], collector: asyncio.Task[None]) -> None:
        """The run is cancelled (a second Ctrl-C, the loop closing): the workers' requests in flight are
        abandoned, but the answers already received are handed on, not lost. (Ending the workers with
        end markers waited forever when they were cancelled too: no one read the full queue.)"""
        for task in (*workers, collector):
            task.cancel()
        await asyncio.gather(*workers, collector, return_exceptions=True)
        while not self._results.empty():
            result = self._results.get_nowait()
            if not isinstance(result, _End):
                self._unhanded.append(result)
        await self._hand_on()

    async def _hand_on(self) -> None:
        """Give `collect` the results the collector holds."""
        if self._unhanded:
            batch, self._unhanded = self._unhanded, []
            await _maybe_await(self._collect(batch))

    async def _worker(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                return
            if self.stop.is_set():
                continue  # drain: items not started are left for resume
            try:
                result = await self._handle(item)
            except StopRun as stop:
                self.request_stop(stop.cause)
                continue
            except Exception as exc:  # a bug: stop every worker, keep draining so the producer never blocks
                self.request_stop(exc)
                self._failures.append(exc)
                continue
            await self._results.put(result)

    async def _collector(self) -> None:
        """The only writer downstream: hands results on every `flush_every` results or `flush_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_seconds
        finished = False
        while not finished:
            try:  # (not `wait_for`: in Python 3.11 it swallows a cancel that comes as a result does)
                async with asyncio.timeout(max(0.005, deadline - loop.time())):
                    result = await self._results.get()
            except TimeoutError:
                pass  # no result within the flush interval: flush what there is
            else:
                if isinstance(result, _End):
                    finished = True
                else:
                    self._unhanded.append(result)
            if finished or len(self._unhanded) >= self._flush_every or loop.time() >= deadline:
                await self._hand_on()
            if loop.time() >= deadline:
                deadline = loop.time() + self._flush_seconds


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None:
        await value
