"""The daily quota ledger: shared by processes, exact under concurrency, rolling 24 h, never the key."""

from __future__ import annotations

import asyncio
import multiprocessing
import stat
from pathlib import Path

import pytest

from batchgs.config import Secret
from batchgs.errors import QuotaExhausted
from batchgs.transport.ledger import (
    BUCKET,
    DAY,
    QuotaLease,
    QuotaLedger,
    ledger_path,
    list_ledger_entries,
)

T0 = 1_700_000_000.0  # a fixed epoch for the injectable clock


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def reserve_until_full(state_dir: str, fingerprint: str, limit: int, start, results) -> None:
    """Child process: reserve one request at a time until the ledger refuses."""
    ledger = QuotaLedger(Path(state_dir), fingerprint, "px", limit)
    start.wait()
    got = 0
    while True:
        try:
            ledger.reserve(1)
        except QuotaExhausted:
            break
        got += 1
    results.put(got)
    ledger.close()


def test_two_processes_never_exceed_the_limit_and_sum_exactly(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    fingerprint = Secret("shared-key").fingerprint()
    workers = [
        ctx.Process(target=reserve_until_full, args=(str(tmp_path), fingerprint, 500, start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sum(counts) == 500
    assert QuotaLedger(tmp_path, fingerprint, "px", 500).used() == 500


def test_rolling_window_expiry_with_an_injectable_clock(tmp_path: Path) -> None:
    clock = Clock()
    ledger = QuotaLedger(tmp_path, "fp", "px", 10, clock=clock)
    ledger.reserve(4)
    clock.now += 3600
    ledger.reserve(6)
    assert ledger.used() == 10 and ledger.left() == 0
    with pytest.raises(QuotaExhausted) as info:
        ledger.reserve(1)
    first_bucket_end = (int(T0 // BUCKET) + 1) * BUCKET
    assert info.value.available_at == first_bucket_end + DAY  # when the first 4 stop counting
    assert "10 of 10" in info.value.message and info.value.hint
    assert ledger.available_at(5) == (int((T0 + 3600) // BUCKET) + 1) * BUCKET + DAY
    clock.now = first_bucket_end + DAY - 1
    assert ledger.used() == 10  # never early
    clock.now = first_bucket_end + DAY
    assert ledger.used() == 6 and ledger.left() == 4
    ledger.reserve(4)
    with pytest.raises(QuotaExhausted):
        ledger.reserve(1)
    clock.now += 2 * DAY
    assert ledger.used() == 0


def test_wait_sleeps_until_the_window_frees(tmp_path: Path) -> None:
    clock = Clock()
    ledger = QuotaLedger(tmp_path, "fp", "px", 2, clock=clock, sleep=clock.sleep)
    ledger.reserve(2)
    ledger.reserve(1, wait=True)
    assert clock.now >= T0 + DAY
    assert ledger.used() == 1


def test_more_than_the_limit_can_never_fit(tmp_path: Path) -> None:
    ledger = QuotaLedger(tmp_path, "fp", "px", 5)
    with pytest.raises(QuotaExhausted) as info:
        ledger.reserve(6, wait=True)
    assert info.value.available_at is None
    assert ledger.used() == 0


def test_keys_and_scopes_are_separate_and_the_key_is_never_stored(tmp_path: Path) -> None:
    key = Secret("super-secret-key-value")
    px = QuotaLedger(tmp_path, key.fingerprint(), "px", 100)
    cs = QuotaLedger(tmp_path, key.fingerprint(), "cs", 50)
    other = QuotaLedger(tmp_path, Secret("another").fingerprint(), "px", 100)
    px.reserve(3)
    cs.reserve(2)
    assert (px.used(), cs.used(), other.used()) == (3, 2, 0)
    for ledger in (px, cs, other):
        ledger.close()
    for path in tmp_path.iterdir():
        assert b"super-secret-key-value" not in path.read_bytes()
    entries = {(e.fingerprint, e.scope): e for e in list_ledger_entries(tmp_path)}
    assert entries[(key.fingerprint(), "px")].used == 3
    assert entries[(key.fingerprint(), "px")].left == 97
    assert entries[(key.fingerprint(), "cs")].daily_limit == 50
    assert entries[(key.fingerprint(), "cs")].next_free_at is not None
    assert entries[(Secret("another").fingerprint(), "px")].next_free_at is None


def test_permissions(tmp_path: Path) -> None:
    state = tmp_path / "state" / "batchgs"
    QuotaLedger(state, "fp", "px", 1).close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(ledger_path(state).stat().st_mode) == 0o600


def test_no_ledger_file_lists_nothing(tmp_path: Path) -> None:
    assert list_ledger_entries(tmp_path / "missing") == []
    assert not (tmp_path / "missing").exists()


def test_lease_reserves_in_chunks_and_refunds_on_close(tmp_path: Path) -> None:
    ledger = QuotaLedger(tmp_path, "fp", "px", 50)
    lease = QuotaLease(ledger, chunk=20)
    for _ in range(25):
        lease.take()
    assert ledger.used() == 40  # two chunks held
    lease.close()
    assert ledger.used() == 25


def test_lease_shrinks_near_the_limit_and_shares_with_another_lease(tmp_path: Path) -> None:
    first = QuotaLease(QuotaLedger(tmp_path, "fp", "px", 30), chunk=20)
    second = QuotaLease(QuotaLedger(tmp_path, "fp", "px", 30), chunk=20)
    for _ in range(5):
        first.take()  # holds 20
    for _ in range(10):
        second.take()  # only 10 were left
    with pytest.raises(QuotaExhausted):
        second.take()
    first.close()  # 15 unused come back
    for _ in range(15):
        second.take()
    second.close()
    assert first.ledger.used() == 30


def test_lease_waits_without_blocking_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    ledger = QuotaLedger(tmp_path, "fp", "px", 1, clock=clock)
    lease = QuotaLease(ledger, chunk=1)
    lease.take()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += DAY + BUCKET

    monkeypatch.setattr("batchgs.transport.ledger.asyncio.sleep", fake_sleep)
    monkeypatch.setattr("batchgs.transport.ledger.time.time", clock)
    asyncio.run(lease.take_async(wait=True))
    assert len(slept) == 1 and slept[0] > DAY - BUCKET
    with pytest.raises(QuotaExhausted):
        asyncio.run(lease.take_async(wait=False))


def test_a_ledger_still_being_created_lists_nothing(tmp_path: Path) -> None:
    """`batchgs quota` (and `status`) while a first job creates the ledger: the file exists, its tables
    not yet. That is "nothing counted yet", not an internal error."""
    import sqlite3

    path = ledger_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()  # an empty database: what a reader sees between open and CREATE TABLE
    assert list_ledger_entries(tmp_path) == []
