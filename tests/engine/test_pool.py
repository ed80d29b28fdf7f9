"""engine/pool.py on its own: the bounded queue, stopping, draining and the collector's flushes.

Every import's memory and its "nothing acknowledged is lost" promise rest on these four behaviours.
No wall-clock assertions: ordering is forced with events, and a generous `wait_for` turns a would-be
hang into a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from batchgs.engine.pool import Pool, StopRun

LIMIT_S = 30.0  # only to fail instead of hanging; never reached when the pool works


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, LIMIT_S))  # type: ignore[arg-type]


async def numbers(count: int, pulled: list[int] | None = None) -> AsyncIterator[int]:
    for n in range(count):
        if pulled is not None:
            pulled.append(n)
        yield n


def test_every_item_is_handled_once_and_collected_once() -> None:
    collected: list[int] = []

    async def handle(n: int) -> int:
        await asyncio.sleep(0)
        return n * 10

    async def main() -> None:
        pool: Pool[int, int] = Pool(handle, collected.extend, workers=7, flush_every=13)
        await pool.run(numbers(1_000))
        assert pool.stop_cause is None

    run(main())
    assert sorted(collected) == [n * 10 for n in range(1_000)]


def test_the_producer_is_held_back_by_the_bounded_queue() -> None:
    """At no moment are more items out of the producer than workers + queue + the one being put."""
    workers, queue_size = 3, 5
    pulled: list[int] = []
    finished = 0
    most_in_pipeline = 0

    async def handle(n: int) -> int:
        nonlocal finished, most_in_pipeline
        most_in_pipeline = max(most_in_pipeline, len(pulled) - finished)
        for _ in range(5):  # slow workers: the producer, unbounded, would run far ahead
            await asyncio.sleep(0)
        finished += 1
        return n

    async def main() -> None:
        pool: Pool[int, int] = Pool(handle, lambda _r: None, workers=workers, queue_size=queue_size)
        await pool.run(numbers(2_000, pulled))

    run(main())
    assert len(pulled) == 2_000
    assert most_in_pipeline <= workers + queue_size + 1


def test_stop_run_from_a_worker_stops_every_worker_and_keeps_its_cause() -> None:
    handled: list[int] = []
    collected: list[int] = []
    quota = RuntimeError("quota gone")

    async def handle(n: int) -> int:
        if n == 50:
            raise StopRun(quota)
        handled.append(n)
        await asyncio.sleep(0)
        return n

    async def main() -> Pool[int, int]:
        pool: Pool[int, int] = Pool(handle, collected.extend, workers=4)
        await pool.run(numbers(10_000))  # returns normally: a stop is not an error
        return pool

    pool = asyncio.run(asyncio.wait_for(main(), LIMIT_S))
    assert pool.stop_cause is quota and pool.stop.is_set()
    assert 50 not in handled and len(handled) < 200  # items queued after the stop were left
    assert sorted(collected) == sorted(handled)  # every answered item reached the collector


def test_request_stop_drains_without_starting_queued_items_and_finishes_those_in_flight() -> None:
    workers = 4
    gate = asyncio.Event()
    started: list[int] = []
    collected: list[int] = []
    all_started = asyncio.Event()

    async def handle(n: int) -> int:
        started.append(n)
        if len(started) == workers:
            all_started.set()
        await gate.wait()  # every worker holds one item "in flight"
        return n

    async def main() -> Pool[int, int]:
        pool: Pool[int, int] = Pool(handle, collected.extend, workers=workers, queue_size=8)
        running = asyncio.create_task(pool.run(numbers(100)))
        await all_started.wait()
        first_cause = KeyboardInterrupt()
        pool.request_stop(first_cause)
        pool.request_stop(RuntimeError("a later cause does not replace the first"))
        gate.set()
        await running
        assert pool.stop_cause is first_cause
        return pool

    asyncio.run(asyncio.wait_for(main(), LIMIT_S))
    assert sorted(started) == list(range(workers))  # the queued items were drained, not started
    assert sorted(collected) == list(range(workers))  # in-flight answers were all collected


def test_the_collector_flushes_every_n_results() -> None:
    batches: list[list[int]] = []

    async def handle(n: int) -> int:
        return n

    async def main() -> None:
        pool: Pool[int, int] = Pool(
            handle, lambda batch: batches.append(list(batch)), workers=2, flush_every=10, flush_seconds=3600
        )
        await pool.run(numbers(95))

    run(main())
    assert all(len(b) <= 10 for b in batches)
    assert sum(len(b) for b in batches) == 95
    assert len(batches) >= 10  # 95 results in batches of at most 10, the last one at the end


def test_the_collector_flushes_a_partial_batch_after_flush_seconds() -> None:
    """Item 1 waits until the collector has handed on item 0: with only count-based flushing (or one
    flush at the end) this would never happen and the run would hit the time limit."""
    first_collected = asyncio.Event()
    batches: list[list[int]] = []

    async def handle(n: int) -> int:
        if n == 1:
            await first_collected.wait()
        return n

    async def collect(batch: list[int]) -> None:  # an async collector is awaited
        batches.append(list(batch))
        if 0 in batch:
            first_collected.set()

    async def main() -> None:
        pool: Pool[int, int] = Pool(handle, collect, workers=1, flush_every=1_000, flush_seconds=0.01)
        await pool.run(numbers(2))

    run(main())
    assert batches[0] == [0] and [1] in batches


@pytest.mark.timeout(LIMIT_S)
def test_an_unexpected_worker_error_stops_the_run_and_surfaces() -> None:
    """The failed worker keeps draining: with far more items than the queue holds, the producer must
    not block forever on a queue nobody empties (it did: the run hung)."""
    collected: list[int] = []
    handled: list[int] = []

    async def handle(n: int) -> int:
        if n == 3:
            raise ValueError("bug")
        handled.append(n)
        return n

    async def main() -> None:
        pool: Pool[int, int] = Pool(handle, collected.extend, workers=1)
        await pool.run(numbers(10_000))

    with pytest.raises(ValueError, match="bug"):
        asyncio.run(main())  # no wait_for: a hang could not be cancelled (the producer's finally waits)
    assert collected == handled == [0, 1, 2]  # answered before the failure: collected; nothing after


def test_none_items_and_none_results_pass_through_like_any_other() -> None:
    """The queues end with a private marker: a handler that returns None (a side effect only) or an
    item that is None must neither end the collector early (the results queue then filled up and
    the run hung) nor stop a worker."""
    collected: list[None] = []
    handled: list[int | None] = []

    async def handle(item: int | None) -> None:
        handled.append(item)

    async def items() -> AsyncIterator[int | None]:
        for n in range(500):
            yield None if n % 2 else n

    async def main() -> None:
        pool: Pool[int | None, None] = Pool(handle, collected.extend, workers=3, flush_every=7)
        await pool.run(items())

    run(main())
    assert len(handled) == 500 and handled.count(None) == 250
    assert collected == [None] * 500


def test_cancelling_everything_at_once_ends_the_run_instead_of_hanging() -> None:
    """What `asyncio.run` does after a second Ctrl-C: every task cancelled together, the workers
    included. The run used to put its end markers into a full queue no worker read any more."""
    busy = asyncio.Event()

    async def handle(n: int) -> int:
        busy.set()
        await asyncio.Event().wait()  # a request that never answers
        return n

    async def main() -> None:
        outside = asyncio.all_tasks()  # (the test's own: `run`'s time limit)
        pool: Pool[int, int] = Pool(handle, lambda _: None, workers=1, queue_size=1)
        run_task = asyncio.create_task(pool.run(numbers(100)))
        await busy.wait()
        while pool._queue.qsize() < 1:  # the producer now waits on the full queue
            await asyncio.sleep(0)
        others = list(asyncio.all_tasks() - outside)  # the run, its workers and its collector
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        assert run_task.cancelled()

    run(main())


def test_a_cancelled_run_still_hands_on_the_answers_already_received() -> None:
    """A second Ctrl-C cancels the run: the requests in flight are abandoned, but the answers that
    came back before are recorded (they used to be dropped with the collector's batch, or written
    after the run had closed its reports)."""
    collected: list[int] = []

    async def handle(n: int) -> int:
        if n >= 5:
            await asyncio.Event().wait()  # these never answer
        return n

    async def main() -> None:
        pool: Pool[int, int] = Pool(
            handle, collected.extend, workers=3, flush_every=1_000, flush_seconds=LIMIT_S * 2
        )
        run_task = asyncio.create_task(pool.run(numbers(100)))
        while len(pool._unhanded) + pool._results.qsize() < 5:  # answered, not handed on yet
            await asyncio.sleep(0)
        assert collected == []
        run_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run_task
        assert sorted(collected) == [0, 1, 2, 3, 4]

    run(main())
