"""Spooled page frames kept in memory for the writer (batchgs.engine.export.kept_frames): the file is the
one written from the spools, the budget holds, and a spool written again never serves an old frame."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import polars as pl
import pytest

from batchgs.engine.export import exporter
from batchgs.engine.export.fetch import PartFetcher
from batchgs.engine.export.kept_frames import KEPT_BYTES, KeptFrames
from batchgs.engine.export.slices import Part
from batchgs.engine.export.spool import JSON, TABLE, Spool
from batchgs.errors import NotResumableError
from batchgs.io.pages import frame_bytes, frame_of
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from tests.engine.export.export_helpers import ANCHOR, options_for, run_library


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({"identifyId": [f"u{n}-{i}" for i in range(3)], "n": [n, n + 1, n + 2]})


def test_a_kept_frame_is_taken_once_and_the_budget_holds(tmp_path: Path) -> None:
    kept = KeptFrames(budget=100)
    spool = tmp_path / "part-0.bin"
    kept.keep(spool, 0, _frame(1), 60)
    kept.keep(spool, 60, _frame(2), 60)  # over the budget: not kept
    assert kept.kept_bytes == 60
    taken = kept.take(spool, 0)
    assert taken is not None and taken.equals(_frame(1))
    assert kept.take(spool, 0) is None and kept.take(spool, 60) is None
    assert kept.kept_bytes == 0 and kept.taken == 1
    kept.keep(spool, 0, _frame(3), 40)
    kept.keep(tmp_path / "part-1.bin", 0, _frame(4), 40)
    kept.forget(spool)
    assert kept.take(spool, 0) is None
    assert kept.take(tmp_path / "part-1.bin", 0) is not None


def test_placed_frames_give_the_offsets_appends_returned_and_skip_what_is_not_read(tmp_path: Path) -> None:
    spool = Spool.of(tmp_path, "part-0")
    spool.open_at(0)
    offsets, tables = [], []
    for n in range(4):
        offsets.append(spool.size)
        tables.append(frame_bytes(_frame(n)))
        spool.append_frames((TABLE, tables[-1]))
        spool.append([n])  # a JSON frame between them: never a TABLE
    spool.close()
    placed, read = [], []
    for n, (_, offset, reader) in enumerate(spool.placed_frames(spool.size, kinds=(TABLE,))):
        placed.append(offset)
        if n % 2:  # every other one read, the others skipped unread
            read.append(frame_of(reader()))
    assert placed == offsets
    assert [f.get_column("n")[0] for f in read] == [1, 3]
    assert [data for _, data in spool.raw_frames(spool.size, kinds=(TABLE,))] == tables
    assert [kind for kind, _ in spool.raw_frames(spool.size)] == [TABLE, JSON] * 4
    with pytest.raises(NotResumableError, match="shorter than recorded"):
        list(spool.placed_frames(spool.size + 10, kinds=(TABLE,)))


def test_a_part_paged_again_forgets_its_kept_frames(tmp_path: Path) -> None:
    """A cursor refused mid-part pages the part again from its first page, into the same spool from
    offset 0: a frame kept from the first pass would be served in place of the new page."""
    kept = KeptFrames()
    part = Part(id=3, order=[3], pages=2, records=6, next="scroll-2")
    run: Any = SimpleNamespace(
        run_dir=tmp_path,
        kept=kept,
        entity=SimpleNamespace(),
        note=lambda _m: None,
        checkpoint=lambda *_a: None,
    )
    run.entity_for = lambda _part: run.entity
    fetcher = PartFetcher(run, part)
    kept.keep(fetcher.spool.path, 0, _frame(1), 10)
    kept.keep(fetcher.spool.path, 10, _frame(2), 10)
    part.describe = lambda _entity: "part 3"  # type: ignore[method-assign,assignment]
    fetcher._restart("its cursor was refused (expired)")
    fetcher.spool.close()
    assert kept.take(fetcher.spool.path, 0) is None and kept.kept_bytes == 0
    assert part.pages == 0 and part.restarts == 1


class _Counting(KeptFrames):
    """KeptFrames that lists the instances made (one per export)."""

    made: ClassVar[list[KeptFrames]] = []

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        super().__init__(budget)
        _Counting.made.append(self)


def _spooled_only() -> KeptFrames:
    return _Counting(0)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_file_from_kept_frames_is_the_file_from_the_spools(
    sandbox_factory, tmp_path: Path, fmt: str
) -> None:
    store = seed_store(PxStore(), seed=9, users=1_500, accounts=0, events=0, anchor_ms=ANCHOR, cluster=0.4)
    files = []
    for name, kind in (("kept", _Counting), ("spooled", _spooled_only)):
        sandbox = sandbox_factory(store=store, rate_limit=0)
        folder = tmp_path / name
        out = folder / f"users.{fmt}"
        folder.mkdir()
        _Counting.made = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(exporter, "KeptFrames", kind)
            options = options_for("users", out, slices=4, page_size=100)
            run = run_library(sandbox, folder / "s", folder / "r", options)
        assert run.error is None, run.error
        (made,) = _Counting.made
        assert (made.taken > 0) == (kind is _Counting)
        files.append(out.read_bytes())
    assert files[0] == files[1]
