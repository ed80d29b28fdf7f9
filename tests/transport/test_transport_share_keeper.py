"""The share keeper under a slow board: a slow tick may hold the job's grants, never stop it or pile
up board calls (an abandoned SQLite tick keeps its thread)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from batchgs.transport import share
from batchgs.transport.limiter import cs_limiter, px_limiter
from batchgs.transport.share import JobRecord, ShareKeeper, TickInput


class SlowThreadBoard:
    """A board whose ticks run in a thread, as the state-folder board's do; the second tick blocks
    until the test lets it go (a cancelled caller does not stop the thread)."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.go = threading.Event()
        self._count = threading.Lock()

    def _tick_now(self, me: TickInput) -> JobRecord:
        with self._count:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            call = self.calls
        try:
            if call >= 2:
                assert self.go.wait(30), "the test never released the board"
            return JobRecord(
                me.job, me.want, me.want, me.live, 0.0, 1e12, me.ending, me.host, me.pid, me.label
            )
        finally:
            with self._count:
                self.running -= 1

    async def tick(self, me: TickInput) -> JobRecord:
        return await asyncio.to_thread(self._tick_now, me)

    async def leave(self, me: TickInput) -> None:
        self.go.set()
        await asyncio.to_thread(self._tick_now, me)

    async def close(self) -> None:
        return None


def test_a_slow_tick_holds_the_grants_without_piling_up_calls_and_its_late_answer_lets_the_job_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(share, "TICK_TIMEOUT", 0.02)  # ticks "time out" at once; LOST_AFTER is far

    async def scenario() -> None:
        limiter = px_limiter(50)
        board = SlowThreadBoard()
        keeper = ShareKeeper(board, limiter, tick=0.001, lost_after=3600.0)
        await keeper.start()
        assert limiter.share == 50
        held = asyncio.Event()
        original = limiter.set_share

        def watch(slots: int | None) -> None:
            original(slots)
            if slots == 0:
                held.set()

        monkeypatch.setattr(limiter, "set_share", watch)
        async with asyncio.timeout(30):
            await held.wait()  # the second tick is slow: every grant is held
            for _ in range(20):  # many tick periods pass while it is slow
                await asyncio.sleep(0.005)
            assert board.calls == 2 and board.most_at_once == 1  # no second call while one is on the board
            board.go.set()
            grant = await limiter.acquire()  # the late answer is applied: a job alone goes on
            limiter.release(grant)
        assert limiter.share == 50
        await keeper.stop()
        assert board.most_at_once == 1

    asyncio.run(scenario())


def test_a_job_that_must_wait_for_its_share_says_why_once_per_wait(caplog: pytest.LogCaptureFixture) -> None:
    keeper = ShareKeeper(SlowThreadBoard(), px_limiter(50))  # type: ignore[arg-type]

    def record(limit: int, *, ending: bool = False) -> JobRecord:
        return JobRecord(keeper.job, 50, limit, 0, 0.0, 1e12, ending, "h", 1, "")

    with caplog.at_level("WARNING", logger="batchgs"):
        for limit in (0, 0, 20, 50, 0, 0):  # waits at its start, gets a share, waits again
            keeper._apply(record(limit))
        keeper._apply(record(0, ending=True))  # leaving: limit 0 is not a wait
    said = [r.getMessage() for r in caplog.records if "waits for its share" in r.getMessage()]
    assert len(said) == 2
    assert "other jobs on this key use its whole rate" in said[0] and "batchgs quota" in said[0]
    assert "within a second or two" in said[0]
    assert keeper.limiter.share == 0


def test_a_cs_job_waiting_for_its_share_is_told_it_takes_about_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keeper = ShareKeeper(SlowThreadBoard(), cs_limiter(100), tick=1.0)  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="batchgs"):
        keeper._apply(JobRecord(keeper.job, 100, 0, 0, 0.0, 1e12, False, "h", 1, ""))
    said = [r.getMessage() for r in caplog.records if "waits for its share" in r.getMessage()]
    assert len(said) == 1 and "within about 61 seconds" in said[0]  # the CS window is a minute
