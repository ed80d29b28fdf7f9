"""Reading the current records of a file's keys: the cheaper way is chosen, and both ways find exactly
the file's records (no key lost between key ranges, none matched by case-insensitive filters)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batchgs.engine.imports.current_records import (
    COLLECTIONS,
    filter_chunks,
    key_ranges,
    lookup,
    plan_reads,
    read_all,
)
from batchgs.transport.client import TransportStats
from tests.engine.imports.import_helpers import fast_client_factory, fast_settings

USERS = COLLECTIONS["users"]


def in_range(key: str, low: str | None, high: str | None) -> bool:
    """How the service compares a key with a range (filter values compare case-insensitively)."""
    folded = key.lower()
    return (low is None or folded >= low) and (high is None or folded < high)


@given(
    st.lists(st.text(alphabet="aAbB0_-.xyz", min_size=1, max_size=6), min_size=1, max_size=60),
    st.integers(1, 9),
)
def test_key_ranges_put_every_key_in_exactly_one_range(keys: list[str], count: int) -> None:
    ranges = key_ranges(keys, count)
    for key in [*keys, "", "zzz", "A", "0"]:
        assert sum(in_range(key, low, high) for low, high in ranges) == 1, (key, ranges)


def test_scroll_for_a_large_share_lookup_for_a_few(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(seed_users=9_000, rate_limit=0)
    stats = TransportStats()
    make = fast_client_factory(fast_settings(sandbox, tmp_path / "state"), stats=stats)
    everyone = sorted(sandbox.store.users)
    wanted = set(random.Random(5).sample(everyone, 8_000)) | {"not-there-1", "NOT-THERE-2"}

    async def scenario() -> tuple[Any, dict[str, Any], int, Any, dict[str, Any], int]:
        async with make() as client:
            big = await plan_reads(client, USERS, len(wanted))
            found: dict[str, Any] = {}
            before = stats.requests
            await read_all(client, USERS, wanted, found.update, cursors=big.cursors)
            scrolled = stats.requests - before
            few = sorted(wanted)[:150]
            small = await plan_reads(client, USERS, len(few))
            looked, used = await lookup(client, USERS, [k.upper() for k in few[:3]] + few)
            return big, found, scrolled, small, looked, used

    big, found, scrolled, small, looked, used = asyncio.run(scenario())
    assert big.method == "scroll" and big.cursors > 1
    assert scrolled <= 9 + big.cursors  # 9,000 records, 1,000 a page, one short page per extra cursor
    assert set(found) == wanted
    assert found["not-there-1"] is None and found["NOT-THERE-2"] is None
    assert all(found[k] == sandbox.store.users[k] for k in wanted if k in sandbox.store.users)
    assert small.method == "lookup" and small.requests == 1 + 2
    assert used == 2  # 153 keys, 100 per request (the upper-cased copies are other keys)
    for key in sorted(wanted)[:150]:
        assert looked[key] == sandbox.store.users.get(key)
    assert all(looked[k.upper()] is None for k in sorted(wanted)[:3] if k.upper() != k)


def test_keys_the_ranges_missed_are_looked_up_not_taken_for_absent(
    sandbox_factory, tmp_path: Path, monkeypatch
) -> None:
    """A service that compares range bounds its own way may leave records out of every range: the list
    pass then falls short of the probe's total, and the wanted keys it did not see are looked up."""
    from batchgs.engine.imports import current_records

    sandbox = sandbox_factory(seed_users=3_000, rate_limit=0)
    stats = TransportStats()
    make = fast_client_factory(fast_settings(sandbox, tmp_path / "state"), stats=stats)
    everyone = sorted(sandbox.store.users)
    wanted = set(everyone[::2]) | {"not-there"}
    middle = everyone[len(everyone) // 2].lower()
    monkeypatch.setattr(current_records, "key_ranges", lambda keys, count: [(None, middle)])  # half only

    async def scenario(expected: int) -> tuple[dict[str, Any], int]:
        async with make() as client:
            found: dict[str, Any] = {}
            used = await read_all(client, USERS, wanted, found.update, cursors=1, expected=expected)
            return found, used

    found, used = asyncio.run(scenario(len(everyone)))
    assert set(found) == wanted
    assert all(found[k] == sandbox.store.users[k] for k in wanted - {"not-there"})
    assert found["not-there"] is None
    missed = sum(1 for k in wanted - {"not-there"} if k.lower() >= middle)
    assert used == 2 + -(-(missed + 1) // 100)  # the half listed (2 pages), then the lookups
    trusting, _ = asyncio.run(scenario(0))  # no total to check against: what the ranges listed is all
    assert sum(1 for v in trusting.values() if v is not None) == len(wanted) - 1 - missed


def test_long_keys_are_looked_up_in_chunks_that_fit_a_request_line(sandbox_factory, tmp_path: Path) -> None:
    """100 keys of 70 characters, OR-ed in one filtered list, would make a request line past 8 KiB
    (refused by common servers, the sandbox's aiohttp among them): chunks are cut by encoded size."""
    sandbox = sandbox_factory(rate_limit=0)
    keys = [f"customer-{i:04d}-{'x' * 45}@example.com" for i in range(100)]
    for key in keys[::2]:
        sandbox.store.users[key] = {"identifyId": key, "email": f"{key[:13]}@example.com"}
    make = fast_client_factory(fast_settings(sandbox, tmp_path / "state"))

    async def scenario() -> tuple[dict[str, Any], int]:
        async with make() as client:
            return await lookup(client, USERS, keys)

    found, used = asyncio.run(scenario())
    assert used == 2
    assert {k for k, record in found.items() if record is not None} == set(keys[::2])
    assert [len(c) for c in filter_chunks("identifyId", [k[:8] for k in keys] * 2)] == [100, 100]
