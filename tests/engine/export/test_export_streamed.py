"""The file written while fetching (batchgs.engine.export.streamed) is byte for byte the file written
whole at the end; when a late part brings a column it is thrown away and the file written whole; a
killed streamed write leaves no temporary file once the run is resumed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from batchgs.engine.export import assemble as assemble_module
from batchgs.engine.export import exporter
from batchgs.engine.export.assemble import Layout, assemble
from batchgs.engine.export.slices import Part
from batchgs.engine.export.spool import TABLE, Spool
from batchgs.engine.export.streamed import Abandoned, StreamedWrite, remove_stale_temporaries
from batchgs.io.pages import frame_bytes
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from tests.engine.export.export_helpers import ANCHOR, options_for, read_csv, run_library

PAGE = 50


def _export(sandbox_factory, store: PxStore, folder: Path, fmt: str, *, stream: bool) -> tuple[bytes, bool]:
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = folder / f"users.{fmt}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exporter, "STREAM_WRITE", stream)
        run = run_library(
            sandbox, folder / "s", folder / "r", options_for("users", out, slices=8, page_size=PAGE)
        )
    assert run.error is None and run.result is not None
    return out.read_bytes(), run.result.streamed


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_the_streamed_file_is_the_file_written_whole(sandbox_factory, tmp_path: Path, fmt: str) -> None:
    store = seed_store(PxStore(), seed=4, users=3_000, accounts=0, events=0, anchor_ms=ANCHOR, cluster=0.5)
    streamed, was_streamed = _export(sandbox_factory, store, tmp_path / "a", fmt, stream=True)
    whole, was_whole_streamed = _export(sandbox_factory, store, tmp_path / "b", fmt, stream=False)
    assert was_streamed and not was_whole_streamed
    if fmt == "xlsx":  # (the zip entries carry the time they were written)
        assert _xlsx_cells(tmp_path / "a" / "users.xlsx") == _xlsx_cells(tmp_path / "b" / "users.xlsx")
    else:
        assert streamed == whole
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rows_written_while_the_writer_waits_make_the_same_file(tmp_path: Path, fmt: str) -> None:
    """A streamed CSV writes what it holds whenever it would wait for the next part (so the rows left
    after the last page are few): the file is the one a write in whole batches gives. Parquet's row
    groups depend on the batches, so it keeps whole batches whatever the waits."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    parts = []
    for i in range(6):
        spool = Spool.of(run_dir, f"part-{i}")
        spool.open_at(0)
        for page in range(2):
            rows = [
                {"identifyId": f"u{i}-{page}-{r}", "n": i * 10 + r, "createDate": ANCHOR + r, "t": f"={r}"}
                for r in range(40)
            ]
            spool.append_frames((TABLE, frame_bytes(pl.DataFrame(rows))))
        spool.close()
        parts.append(Part(id=i, order=[i], status="done", spool_bytes=spool.size))
    shape = Layout(
        ["identifyId", "n", "createDate", "t"], date_columns={"createDate"}, id_columns={"identifyId"}
    )
    writes: list[int] = []

    def run(name: str, steps: list[Part | None]) -> bytes:
        out = tmp_path / f"{name}.{fmt}"
        stop = threading.Event()
        assemble(
            run_dir, steps, out, shape, raw=False, bom=False, force=False, stop=stop, on_rows=writes.append
        )
        return out.read_bytes()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assemble_module, "IDLE_BATCH_ROWS", 100)
        waits = run(
            "waits", [parts[0], None, parts[1], None, parts[2], parts[3], None, parts[4], None, parts[5]]
        )
        in_waits = list(writes)
        writes.clear()
        whole = run("whole", list(parts))
    assert waits == whole
    assert writes == [480]
    assert in_waits == ([160, 160, 160] if fmt == "csv" else [480])


def test_a_column_only_a_late_part_has_is_in_the_file(sandbox_factory, tmp_path: Path) -> None:
    """Whether the stream had started before that part came or not (timing), the bytes are the same."""
    store = seed_store(PxStore(), seed=4, users=3_000, accounts=0, events=0, anchor_ms=ANCHOR)
    newest = max(store.users.values(), key=lambda u: u["createDate"])
    newest["zzLateField"] = "only here"  # not a documented field: a column only the last part brings
    data, _ = _export(sandbox_factory, store, tmp_path / "a", "csv", stream=True)
    whole, _ = _export(sandbox_factory, store, tmp_path / "b", "csv", stream=False)
    assert data == whole
    rows = read_csv(tmp_path / "a" / "users.csv")
    assert len(rows) == 3_000 and [r["zzLateField"] for r in rows if r["zzLateField"]] == ["only here"]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


def _parts(n: int) -> list[Part]:
    return [Part(id=i, order=[i], status="done") for i in range(n)]


def test_other_columns_at_the_end_throw_the_streamed_file_away() -> None:
    seen: list[int] = []
    outcome: list[str] = []

    def write(parts: Iterable[Part], stop: threading.Event, shape: Layout) -> int:
        try:
            for part in parts:
                seen.append(part.id)
        except Abandoned:
            outcome.append("abandoned")
            raise
        outcome.append("committed")
        return len(seen)

    async def go(final: Layout) -> int | None:
        stream = StreamedWrite(Layout(["identifyId"]), write)
        leaves = _parts(3)
        stream.offer(leaves[:2])
        return await stream.finish(leaves, final)

    assert asyncio.run(go(Layout(["identifyId", "zzLateField"]))) is None
    assert outcome == ["abandoned"]
    seen.clear()
    outcome.clear()
    assert asyncio.run(go(Layout(["identifyId"]))) == 3
    assert seen == [0, 1, 2] and outcome == ["committed"]


def test_a_part_not_done_is_not_handed_over_nor_those_after_it() -> None:
    taken: list[int] = []

    def write(parts: Iterable[Part], stop: threading.Event, shape: Layout) -> int:
        taken.extend(p.id for p in parts)
        return len(taken)

    async def go() -> None:
        stream = StreamedWrite(Layout(["identifyId"]), write)
        leaves = _parts(3)
        leaves[1].status = "pending"
        stream.offer(leaves)
        await stream.abandon()

    asyncio.run(go())
    assert taken == [0]


def test_a_resume_removes_the_temporary_file_a_killed_streamed_write_left(tmp_path: Path) -> None:
    output = tmp_path / "users.csv"
    left = [tmp_path / ".users.csv.0a1b2c3d.tmp", tmp_path / ".users.csv.0a1b2c3d.tmp.fix"]
    kept = [tmp_path / ".accounts.csv.0a1b2c3d.tmp", tmp_path / ".users.csv.notours.tmp", output]
    for path in [*left, *kept]:
        path.write_text("x")
    remove_stale_temporaries(output)
    assert [p.exists() for p in left] == [False, False]
    assert all(p.exists() for p in kept)


def _xlsx_cells(path: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]
    finally:
        book.close()
