"""Page frames are joined before a writer sees them, and the file is the same as page by page."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from batchgs.io.write.batching import batched
from batchgs.io.write.formats import open_writer


def _pages() -> list[pl.DataFrame]:
    return [
        pl.DataFrame({"id": ["a", "b"], "n": [1, 2]}),
        pl.DataFrame({"id": ["c"], "n": [3], "late": ["x"]}),  # a column the first page lacked
        pl.DataFrame({"id": ["d"], "n": [4.5]}),  # the same column fractional: its own frame
        pl.DataFrame({"id": ["e", "f"], "n": [5.0, 6.5]}),
        pl.DataFrame({"id": ["g"]}),
    ]


def test_consecutive_frames_join_in_order_until_a_type_differs() -> None:
    joined = list(batched(_pages(), rows=100))
    assert [f.height for f in joined] == [3, 4]
    assert joined[0].schema["n"] == pl.Int64 and joined[1].schema["n"] == pl.Float64
    assert [i for f in joined for i in f.get_column("id").to_list()] == list("abcdefg")
    assert joined[0].get_column("late").to_list() == [None, None, "x"]


def test_a_batch_never_passes_its_row_budget_unless_one_page_does() -> None:
    pages = [pl.DataFrame({"id": [str(i)] * 3}) for i in range(5)]
    assert [f.height for f in batched(pages, rows=7)] == [6, 6, 3]
    assert [f.height for f in batched([pl.DataFrame({"id": ["x"] * 9})], rows=7)] == [9]


def test_while_the_writer_waits_a_batch_of_at_least_least_rows_goes_out() -> None:
    """A None (no page coming soon) lets a batch of `least` rows out early; a smaller one waits, and
    without `least` a None changes nothing."""
    pages = [pl.DataFrame({"id": [str(i)] * 3}) for i in range(6)]
    stream = [pages[0], None, pages[1], pages[2], None, pages[3], None, pages[4], pages[5], None]
    assert [f.height for f in batched(stream, rows=100, least=5)] == [9, 9]
    assert [f.height for f in batched(stream, rows=100)] == [18]
    assert [f.height for f in batched([None, *pages, None], rows=100, least=1)] == [18]


def test_the_csv_is_byte_identical_to_writing_page_by_page(tmp_path: Path) -> None:
    def write(path: Path, frames: list[pl.DataFrame]) -> bytes:
        writer = open_writer(
            path,
            ["id", "n", "late"],
            date_columns=set(),
            id_columns={"id"},
            raw=False,
            bom=False,
            force=True,
            extra_columns="ignore",
            column_types={},
        )
        for frame in frames:
            writer.write_frame(frame)
        writer.close()
        return path.read_bytes()

    one_by_one = write(tmp_path / "pages.csv", _pages())
    assert write(tmp_path / "batched.csv", list(batched(_pages(), rows=100))) == one_by_one
    assert b"\r\nb,2,\r\n" in one_by_one and b"\r\nd,4.5,\r\n" in one_by_one and b"5.0" in one_by_one
