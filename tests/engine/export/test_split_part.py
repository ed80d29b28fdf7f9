"""How a heavy part is cut from its first page: a sample in no date order is cut at its quantiles; a page
in date order shows only the part's start (or end), and the rest is cut at the density of its edge."""

from __future__ import annotations

import random

from batchgs.engine.export.entities import EXPORT_ENTITIES
from batchgs.engine.export.slices import Part, split_part

USERS = EXPORT_ENTITIES["users"]
HOUR = 3_600_000
START = 1_700_000_000_000


def _cluster(rng: random.Random) -> list[int]:
    """60,000 createDates in one hour inside a 40-day part, 1,000 others spread over it."""
    dense = [START + 20 * 86_400_000 + rng.randrange(HOUR) for _ in range(60_000)]
    sparse = [START + rng.randrange(40 * 86_400_000) for _ in range(1_000)]
    return dense + sparse


def _holding(children: list[Part], dates: list[int]) -> list[int]:
    counts = []
    for child in children:
        low = child.lo if child.lo is not None else -(2**62)
        high = child.hi if child.hi is not None else 2**62
        counts.append(sum(1 for d in dates if low <= d < high))
    return counts


def _split(page: list[int], total: int) -> list[Part]:
    part = Part(id=0, order=[3], lo=START, hi=START + 40 * 86_400_000)
    sample = [{"createDate": d, "identifyId": f"u{i}"} for i, d in enumerate(page)]
    children = split_part(USERS, part, sample, total, 2_000, next_id=1)
    assert children, "a part of 61,000 records with a 2,000 target must be cut"
    assert [c.lo for c in children[1:]] == [c.hi for c in children[:-1]]  # contiguous, no gap
    assert children[0].lo == part.lo and children[-1].hi == part.hi
    return children


def test_a_page_in_no_date_order_is_cut_at_its_quantiles() -> None:
    rng = random.Random(5)
    dates = _cluster(rng)
    page = rng.sample(dates, 1_000)  # the API's own order: a sample of the part
    counts = _holding(_split(page, len(dates)), dates)
    assert sum(counts) == len(dates) and max(counts) <= 3 * 2_000  # the hour is cut in one step


def test_a_page_in_date_order_shows_the_start_and_the_rest_is_cut_at_its_density() -> None:
    rng = random.Random(6)
    dates = sorted(_cluster(rng))
    cluster_start = dates.index(min(d for d in dates if d >= START + 20 * 86_400_000))
    page = dates[cluster_start - 10 : cluster_start + 990]  # a part that begins just before the hour
    part_dates = dates[cluster_start - 10 :]
    children = _split(page, len(part_dates))
    counts = _holding(children, part_dates)
    assert sum(counts) == len(part_dates)
    assert max(counts) <= 3 * 2_000, counts  # the dense hour did not land in one child


def test_a_page_in_descending_date_order_cuts_below_it() -> None:
    rng = random.Random(7)
    dates = sorted(_cluster(rng), reverse=True)
    cluster_end = dates.index(max(d for d in dates if d < START + 20 * 86_400_000 + HOUR))
    page = dates[cluster_end - 10 : cluster_end + 990]  # `--sort -createDate`: the latest first
    part_dates = dates[cluster_end - 10 :]
    counts = _holding(_split(page, len(part_dates)), part_dates)
    assert sum(counts) == len(part_dates)
    assert max(counts) <= 3 * 2_000, counts
