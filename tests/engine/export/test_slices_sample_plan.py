"""The plan's first step cuts at the quantiles of a sample when the API's own order says nothing of
dates (a bulk-load hour is then cut before any part's first page comes back); a page in date order is
the list's start, not a sample, and the plan falls back to equal widths and splits."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from batchgs.engine.export.slices import Part, looks_sampled, sample_plan
from batchgs.run.journal import Journal
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from tests.engine.export.export_helpers import ANCHOR, options_for, read_csv, run_library

HOUR = 3_600_000
YEAR = 365 * 86_400_000


def _tenant(rng: random.Random, n: int) -> list[int]:
    """`n` createDates over two years, 60% of them in one hour."""
    return [
        ANCHOR - YEAR + rng.randrange(HOUR) if rng.random() < 0.6 else ANCHOR - rng.randrange(2 * YEAR)
        for _ in range(n)
    ]


def _counts(parts: list[Part], dates: list[int]) -> list[int]:
    counts = [0] * len(parts)
    for d in dates:
        holders = [
            i for i, p in enumerate(parts) if (p.lo is None or p.lo <= d) and (p.hi is None or d < p.hi)
        ]
        assert len(holders) == 1, (d, holders)  # every date in exactly one part
        counts[holders[0]] += 1
    return counts


def test_a_page_in_no_date_order_is_a_sample_and_one_in_date_order_is_not() -> None:
    rng = random.Random(1)
    dates = _tenant(rng, 1_000)
    assert looks_sampled(dates)
    assert not looks_sampled(sorted(dates))
    assert not looks_sampled(sorted(dates, reverse=True))
    nearly = sorted(dates)  # insertion order: by date, a few neighbours swapped
    for i in range(0, len(nearly) - 1, 25):
        nearly[i], nearly[i + 1] = nearly[i + 1], nearly[i]
    assert not looks_sampled(nearly)
    assert not looks_sampled([ANCHOR] * 1_000)  # all equal: nothing to cut at
    assert not looks_sampled(dates[:10])  # too few to judge


def test_the_sample_plan_cuts_a_bulk_load_hour_into_even_parts_that_partition_the_list() -> None:
    rng = random.Random(2)
    population = _tenant(rng, 100_000)
    sample = population[:1_000]  # the API's first page, in an order unrelated to dates
    parts = sample_plan(sample, len(population), slices=16, page_size=1_000)
    assert parts is not None
    assert parts[0].lo is None and parts[-1].hi is None  # nothing outside the sample's range is lost
    assert [p.lo for p in parts[1:]] == [p.hi for p in parts[:-1]]  # contiguous
    assert 20 <= len(parts) <= 32
    counts = _counts(parts, population)
    share = len(population) / len(parts)
    assert max(counts) <= 2 * share, counts  # no part left holding the hour (a split would halve it)
    assert sum(1 for p in parts if p.lo is not None and ANCHOR - YEAR <= p.lo < ANCHOR - YEAR + HOUR) >= 10


def test_no_sample_plan_for_one_date_or_a_list_too_small_to_slice() -> None:
    assert sample_plan([ANCHOR] * 1_000, 50_000, slices=16, page_size=1_000) is None
    assert sample_plan(list(range(100)), 150, slices=16, page_size=100) is None


def _leaves(run_dir: Path) -> list[dict[str, Any]]:
    with Journal.open(run_dir, lock=False) as journal:
        plan = journal.get_progress("plan")
        parts = [journal.get_progress(f"part/{i}") for i in plan["parts"]]
    return [p for p in parts if p["status"] == "done"]


def test_a_bulk_load_hour_needs_no_split_when_the_api_lists_by_key(sandbox_factory, tmp_path: Path) -> None:
    store = seed_store(PxStore(), seed=5, users=6_000, accounts=0, events=0, anchor_ms=ANCHOR, cluster=0.6)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "users.csv"
    options = options_for("users", out, slices=8, page_size=100)
    run = run_library(sandbox, tmp_path / "s", tmp_path / "r", options)
    assert run.error is None and run.result is not None
    ids = [row["identifyId"] for row in read_csv(out)]
    assert len(ids) == len(set(ids)) == len(store.users) == run.result.expected
    leaves = _leaves(tmp_path / "r")
    assert all(len(p["order"]) == 1 for p in leaves)  # the plan's first step: no part was split
    assert len(leaves) == 16 and max(p["records"] for p in leaves) <= 2 * 6_000 // 16
    assert run.result.warnings == []


def test_when_the_api_lists_by_date_the_plan_splits_the_hour_instead(sandbox_factory, tmp_path: Path) -> None:
    """Keys that follow createDate (an API listing in insertion order): the first page is the list's
    start, so the plan is equal widths and the part holding the hour is split on its first page."""
    rng = random.Random(6)
    store = PxStore()
    for i, created in enumerate(sorted(_tenant(rng, 6_000))):
        key = f"u{i:06d}"
        store.users[key] = {"identifyId": key, "email": None, "createDate": created, "id": key}
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "users.csv"
    run = run_library(
        sandbox, tmp_path / "s", tmp_path / "r", options_for("users", out, slices=8, page_size=100)
    )
    assert run.error is None and run.result is not None
    ids = [row["identifyId"] for row in read_csv(out)]
    assert sorted(ids) == sorted(store.users)
    leaves = _leaves(tmp_path / "r")
    assert any(len(p["order"]) == 2 for p in leaves)  # the hour was split after its first page
    assert sum(p["records"] for p in leaves) == len(store.users)
