"""Disjoint slices ("parts") of one export, so several cursors can page it at once.

A scroll is sequential — each page needs the previous `scrollId` — so one cursor moves one page per
round trip. A part is one cursor over a disjoint piece of the list, described by filters that the
API and the sandbox both support (gainsight-api.md §1.8):

- a half-open range `[lo, hi)` of a numeric date field (`createDate` for users and accounts, `date`
  for histories, where every part is also a ≤ 190-day window), rendered `createDate>=lo;createDate<hi`
  (histories: `date>=lo;date<=hi-1`, or dateRangeStart/End for custom events);
- optionally a half-open range `[klo, khi)` of the key (`identifyId>=a;identifyId<b`), used when many
  records share one date so that a date range cannot be split any further.

Half-open ranges of one total order partition it whatever the values: a record whose createDate
equals a boundary belongs to exactly one part. The user's `--filter` groups (OR) each get the part's
conditions ANDed in, so the parts also partition the filtered list.

Parts start cut at the date quantiles of the list's first page when the API's own order says nothing
of dates (`looks_sampled`, `sample_plan`: a bulk-load hour is cut from the start), else as equal-width
date ranges between the smallest and largest date (two one-record probes); either way they split
adaptively: when a part's first page says it holds far more than its share (`totalHits`),
its first page is thrown away and the part is replaced by sub-parts cut at the quantiles of that
page's dates (or keys). The decision depends only on the data, so a resumed export makes the same
parts as an uninterrupted one, and the parts' order (`order`) gives the file's record order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from batchgs.engine.export.entities import ExportEntity
from batchgs.engine.px_requests import key_boundary
from batchgs.transport.paging import date_windows

PartKind = Literal["scroll", "pages", "ids"]
PartStatus = Literal["pending", "done", "split"]
MAX_SPLIT = 32  # sub-parts of one heavy part: a 60% cluster of a 32-part plan is cut in one step


@dataclass
class Part:
    """One cursor of an export and where it stands (saved in the journal after every page)."""

    id: int
    order: list[int]
    kind: PartKind = "scroll"
    stage: str = "main"  # "ids": the user ids a per-user export needs (no --ids file)
    lo: int | None = None
    hi: int | None = None
    klo: str | None = None
    khi: str | None = None
    chunk: int | None = None  # kind "ids": the frame of the ids spool this part fetches
    status: PartStatus = "pending"
    pages: int = 0
    records: int = 0
    total_hits: int | None = None
    next: str | int | None = None  # scroll: the scrollId of the next page; pages: next page number
    spool_bytes: int = 0
    restarts: int = 0
    failed: int = 0
    keys: list[str] = field(default_factory=list)  # flat column names seen in this part

    def to_json(self) -> dict[str, Any]:
        """`dataclasses.asdict` without its recursion (saved after every page: ~0.35 ms a call)."""
        data = dict(self.__dict__)
        data["order"], data["keys"] = list(self.order), list(self.keys)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Part:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def reset(self) -> None:
        """Back to the first page (a cursor that expired, or that may have skipped pages)."""
        self.status, self.pages, self.records, self.total_hits = "pending", 0, 0, None
        self.next, self.spool_bytes, self.keys, self.failed = None, 0, [], 0

    def describe(self, entity: ExportEntity) -> str:
        bits = []
        if self.lo is not None or self.hi is not None:
            bits.append(f"{entity.slice_field} in [{self.lo}, {self.hi})")
        if self.klo is not None or self.khi is not None:
            bits.append(f"{entity.key} in [{self.klo!r}, {self.khi!r})")
        if self.chunk is not None:
            bits.append(f"ids chunk {self.chunk}")
        return f"part {self.id}" + (f" ({', '.join(bits)})" if bits else "")


def part_conditions(entity: ExportEntity, part: Part, *, date_range_params: bool) -> list[str]:
    """The part's own filter clauses (without the user's filters)."""
    conditions: list[str] = []
    name = entity.slice_field
    if name and not date_range_params:
        if part.lo is not None:
            conditions.append(f"{name}>={part.lo}")
        if part.hi is not None:
            conditions.append(f"{name}<={part.hi - 1}" if entity.windowed else f"{name}<{part.hi}")
    if entity.key:
        if part.klo is not None:
            conditions.append(f"{entity.key}>={part.klo}")
        if part.khi is not None:
            conditions.append(f"{entity.key}<{part.khi}")
    return conditions


def combine_filters(user_filters: Sequence[str], conditions: Sequence[str]) -> list[str]:
    """Each OR-group of the user gets every condition ANDed in; no groups → the conditions alone."""
    tail = ";".join(conditions)
    if not user_filters:
        return [tail] if tail else []
    return [f"{group};{tail}" if tail else group for group in user_filters]


def part_params(
    entity: ExportEntity, part: Part, filters: Sequence[str], sort: str | None
) -> list[tuple[str, str | int]]:
    """The query of the part's first page (pageSize and scrollId are added by the pager)."""
    date_range = entity.window == "dateRange" and part.stage == "main"
    params: list[tuple[str, str | int]] = []
    if date_range and part.lo is not None and part.hi is not None:
        params += [("dateRangeStart", part.lo), ("dateRangeEnd", part.hi - 1)]
    conditions = part_conditions(entity, part, date_range_params=date_range)
    params += [("filter", f) for f in combine_filters(filters, conditions)]
    if sort:
        params.append(("sort", sort))
    return params


# -- the first plan -------------------------------------------------------------------------------
def equal_width(lo: int, hi: int, count: int) -> list[int]:
    """Up to `count - 1` increasing inner boundaries cutting [lo, hi) into near-equal widths."""
    if count <= 1 or hi - lo <= 1:
        return []
    cuts = {lo + (hi - lo) * i // count for i in range(1, count)}
    return sorted(c for c in cuts if lo < c < hi)


def range_parts(
    lo: int | None, hi: int | None, cuts: Sequence[int], start_id: int, order: Sequence[int] = ()
) -> list[Part]:
    """Parts [lo, c1), [c1, c2), ..., [ck, hi) (None = open)."""
    edges: list[int | None] = [lo, *cuts, hi]
    return [
        Part(id=start_id + i, order=[*order, i], lo=edges[i], hi=edges[i + 1]) for i in range(len(edges) - 1)
    ]


def worth_slicing(total: int, slices: int, page_size: int) -> bool:
    """Several cursors pay off only past two pages (below that the probes cost as much)."""
    return slices > 1 and total > 2 * page_size


def scroll_plan(total: int, low: int | None, high: int | None, slices: int, page_size: int) -> list[Part]:
    """Parts of a users/accounts list of `total` records whose createDate spans [low, high].

    One part (no filter at all) when slicing cannot pay off, or when every record has the same
    createDate (that part is then cut by identifyId once its first page shows its size); else
    about 2 × slices equal-width ranges, the first and last open-ended so that nothing outside
    [low, high] is ever missed."""
    if not worth_slicing(total, slices, page_size) or low is None or high is None or high <= low:
        return [Part(id=0, order=[0])]
    pages = math.ceil(total / page_size)
    count = min(2 * slices, pages)
    return range_parts(None, None, equal_width(low, high + 1, count), 0)


def looks_sampled(dates: Sequence[int]) -> bool:
    """Whether a page of dates, in the order the API listed them, is a sample of the whole list rather
    than its start: neighbours rise about as often as they fall (an API that lists by key, keys that
    say nothing of dates). A page in date order, or near it (insertion order), is the list's start."""
    rises = sum(1 for a, b in pairwise(dates) if b > a)
    falls = sum(1 for a, b in pairwise(dates) if b < a)
    return rises + falls >= 16 and min(rises, falls) >= (rises + falls) // 4


def sample_plan(dates: Sequence[int], total: int, slices: int, page_size: int) -> list[Part] | None:
    """Parts cut at the quantiles of `dates`, a sample of the whole list (`looks_sampled`): each holds
    about the same number of records, a bulk-load hour included, from the plan's first step, where
    equal widths leave the hour in one part that is split only once its first page has come back (a
    round trip, while the other cursors run out of work). The first and last parts are open-ended,
    so nothing outside the sample's range is missed. None: fewer than two distinct dates to cut at."""
    values = sorted(dates)
    if not worth_slicing(total, slices, page_size) or len(values) < 2 or values[0] == values[-1]:
        return None
    count = min(2 * slices, math.ceil(total / page_size))
    n = len(values)
    cuts = sorted({values[n * j // count] for j in range(1, count)} - {values[0]})
    return range_parts(None, None, cuts, 0) if cuts else None


def window_plan(since_ms: int, until_ms: int, slices: int, max_days: int = 190) -> list[Part]:
    """History parts: the ≤ 190-day windows of [since, until] (inclusive), each cut further into
    equal-width windows so that about `2 × slices` cursors can run (one window with slices=1)."""
    windows = date_windows(since_ms, until_ms, max_days)
    span = max(1, until_ms - since_ms + 1)
    parts: list[Part] = []
    wanted = 1 if slices <= 1 else 2 * slices
    for w, (start, end) in enumerate(windows):
        share = max(1, round(wanted * (end - start + 1) / span))
        cuts = equal_width(start, end + 1, share)
        parts += range_parts(start, end + 1, cuts, len(parts), [w])
    return parts


def split_target(total: int | None, slices: int, page_size: int) -> int:
    """Records a part may hold before it is split: about half a slice's share, at least one page.
    (A floor of 4 pages left a bulk-load hour cut into 4-page parts: with 32 cursors, 16 of them then
    paged 4 times in a row while the others were done; a split costs one request, the parent's first
    page, whatever the number of sub-parts.)"""
    if not total or slices <= 1:
        return 10 * page_size
    return max(page_size, math.ceil(total / (2 * slices)))


# -- splitting a heavy part -------------------------------------------------------------------------
def wants_split(part: Part, sample_size: int, total_hits: int, target: int) -> bool:
    """Whether a scroll part whose first page held `sample_size` of its `total_hits` records is to be
    split: it holds over twice `target`."""
    return total_hits > 2 * target and sample_size < total_hits and part.kind == "scroll"


def split_part(
    entity: ExportEntity,
    part: Part,
    sample: Sequence[Mapping[str, Any]],
    total_hits: int,
    target: int,
    *,
    next_id: int,
    bounds: tuple[int | None, int | None] = (None, None),
) -> list[Part] | None:
    """Sub-parts of `part` when its `total_hits` is over twice `target`, each near `target` records (at
    most MAX_SPLIT): cut by date from the first page `sample` (`_split_by_date`), else by key. None when
    it should not be split; [] when it should but cannot (one date and one key range)."""
    if not wants_split(part, len(sample), total_hits, target):
        return None
    count = min(MAX_SPLIT, math.ceil(total_hits / target))
    children = _split_by_date(entity, part, sample, total_hits, target, bounds)
    children = children or _split_by_key(entity, part, sample, count)
    if not children:
        return []
    for j, child in enumerate(children):
        child.id, child.order, child.stage = next_id + j, [*part.order, j], part.stage
    return children


def _split_by_date(
    entity: ExportEntity,
    part: Part,
    sample: Sequence[Mapping[str, Any]],
    total_hits: int,
    target: int,
    bounds: tuple[int | None, int | None],
) -> list[Part]:
    """Cuts from the first page's dates, read in the order the API gave them:

    - in no date order (the API's own), the page is a sample of the whole part: cut at its quantiles
      into about `total_hits / target` pieces, plus one piece for each end beyond the sample;
    - in date order (a `--sort` on the date, or an API that lists by date), the page holds the part's
      earliest (latest) records: the range it spans is one piece, and the rest of the part, where the
      other records lie, is cut into pieces as wide as `target` records at the density of the page's
      half nearest to that rest (a bulk-load hour is dense from its first minute: cut in one step, not
      split after split), or into equal widths when those would run past the part's end."""
    name = entity.slice_field
    if not name:
        return []
    given = [v for r in sample if type(v := r.get(name)) is int]
    values = sorted(given)
    if len(set(values)) < 2:
        return []
    lo = part.lo if part.lo is not None else bounds[0]
    hi = part.hi if part.hi is not None else (bounds[1] + 1 if bounds[1] is not None else None)
    n = len(values)
    count = min(MAX_SPLIT, math.ceil(total_hits / target))
    if given == values:
        cuts = _beyond(values[-1] + 1, hi, values[n // 2 :], total_hits - n, target, count - 1, up=True)
    elif given == values[::-1]:
        cuts = _beyond(values[0], lo, values[: n - n // 2], total_hits - n, target, count - 1, up=False)
    else:
        cuts = {values[n * j // count] for j in range(1, count)} | {values[0], values[-1] + 1}
    inner = sorted(c for c in cuts if (part.lo is None or c > part.lo) and (part.hi is None or c < part.hi))
    if lo is not None:
        inner = [c for c in inner if c > lo]
    if not inner:
        return []
    children = range_parts(part.lo, part.hi, inner, 0)
    for child in children:
        child.klo, child.khi = part.klo, part.khi
    return children


def _beyond(
    edge: int, end: int | None, near: Sequence[int], records: int, target: int, most: int, *, up: bool
) -> set[int]:
    """Cuts from `edge` (where a date-ordered page ends) towards `end` (the part's end, None: open) for
    the `records` not on the page: pieces of `target` records at the density of `near`, at most `most`,
    evenly spread up to `end` when that density would take them past it."""
    pieces = max(1, min(most, math.ceil(max(0, records) / target)))
    width = max(1, round((near[-1] - near[0]) / max(1, len(near) - 1) * target))
    reach = [edge + width * k if up else edge - width * k for k in range(1, pieces + 1)]
    if end is not None and (reach[-1] >= end if up else reach[-1] <= end):
        return {edge, *equal_width(min(edge, end), max(edge, end), pieces + 1)}
    return {edge, *reach}


def _split_by_key(
    entity: ExportEntity, part: Part, sample: Sequence[Mapping[str, Any]], count: int
) -> list[Part]:
    if not entity.key:
        return []
    keys = sorted(key_boundary(str(v)) for r in sample if (v := r.get(entity.key)) is not None)
    cuts = sorted({keys[len(keys) * j // count] for j in range(1, count)} - {""}) if keys else []
    low, high = part.klo, part.khi
    inner = [c for c in cuts if (low is None or c > low) and (high is None or c < high)]
    if not inner:
        return []
    edges: list[str | None] = [low, *inner, high]
    return [
        Part(id=0, order=[], lo=part.lo, hi=part.hi, klo=edges[i], khi=edges[i + 1])
        for i in range(len(edges) - 1)
    ]


def ordered(parts: Iterable[Part], stage: str = "main", descending: bool = False) -> list[Part]:
    """The leaf parts of one stage in file order. A part is a leaf unless the plan lists parts cut
    out of it (its order is their prefix): listing the sub-parts replaces it in one step."""
    mine = [p for p in parts if p.stage == stage]
    parents = {tuple(p.order[:k]) for p in mine for k in range(1, len(p.order))}
    leaves = sorted((p for p in mine if tuple(p.order) not in parents), key=lambda p: p.order)
    return leaves[::-1] if descending else leaves
