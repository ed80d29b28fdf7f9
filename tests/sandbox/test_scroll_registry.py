"""The sandbox's scroll registry: scrolls expire by their last use, and a scroll start does not scan
every scrollId ever handed out (it cost most of the sandbox's CPU in the export benchmarks)."""

from __future__ import annotations

import pytest

from batchgs.sandbox.clock import Clock
from batchgs.sandbox.errors import ApiError
from batchgs.sandbox.paging import ScrollRegistry

RECORDS = [{"id": i} for i in range(10)]


def _registry(ttl: float = 60.0) -> tuple[ScrollRegistry, Clock]:
    clock = Clock()
    return ScrollRegistry(clock, lambda: ttl), clock


def test_a_scroll_used_lately_outlives_an_older_idle_one_started_after_it() -> None:
    registry, clock = _registry()
    old = registry.start(RECORDS, 2)
    clock.advance(30)
    idle = registry.start(RECORDS, 2)
    clock.advance(20)
    kept = registry.resume(old.scroll_id, None)  # `old` used at 50 s: lives to 110 s
    clock.advance(45)  # 95 s: `idle` (last used at 30 s) is stale, `old` is not
    registry.start(RECORDS, 2)  # a start prunes
    assert registry.active() == 2
    assert [r["id"] for r in registry.resume(kept.scroll_id, None).records] == [4, 5]
    with pytest.raises(ApiError, match="expired"):
        registry.resume(idle.scroll_id, None)


def test_a_start_prunes_only_the_stale_scrolls() -> None:
    registry, clock = _registry()
    for _ in range(50):
        registry.start(RECORDS, 2)
    clock.advance(61)
    fresh = [registry.start(RECORDS, 2) for _ in range(3)]
    assert registry.active() == 3
    assert all(registry.resume(p.scroll_id, None).records for p in fresh)


def test_pruning_looks_at_stale_scrolls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many live scrolls with many pages each: a start touches none of their ids (the old prune
    walked every scrollId handed out, on every start)."""
    registry, _ = _registry()
    live = [registry.start(RECORDS, 1) for _ in range(200)]
    for page in live:
        scroll_id = page.scroll_id
        for _ in range(5):
            scroll_id = registry.resume(scroll_id, None).scroll_id
    dropped: list[int] = []
    original = registry._drop
    monkeypatch.setattr(registry, "_drop", lambda cursor: (dropped.append(1), original(cursor)))
    monkeypatch.setattr(registry, "_ids", _NoScan(registry._ids))
    registry.start(RECORDS, 1)
    assert dropped == [] and registry.active() == 201


class _NoScan(dict):  # type: ignore[type-arg]
    """The registry's scrollId map, refusing to be walked whole."""

    def values(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a scroll start walked every scrollId")
