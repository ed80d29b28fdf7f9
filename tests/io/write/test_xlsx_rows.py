"""The sheet XML of a frame does not depend on how its columns are rendered: a column without nulls is
laid into the row piece by piece, one with nulls cell by cell (`batchgs.io.write.xlsx_cells._Row`), and
each row renders as it would alone."""

from __future__ import annotations

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batchgs.io.write.xlsx_cells import sheet_rows
from batchgs.io.write.xlsx_writer import xml_text

KINDS = ["id", "value", "value", "date", "value"]
_texts = st.none() | st.text(alphabet="ab =+-<&_x0\t ", max_size=6)
_ints = st.none() | st.integers(-(10**16), 10**16) | st.integers(-5, 5)
_dates = st.none() | st.integers(-3_000_000_000_000, 300_000_000_000_000) | st.integers(0, 2_000_000_000_000)
_rows = st.lists(st.tuples(_texts, _texts, _ints, _dates, st.none() | st.booleans()), min_size=1, max_size=12)


def _frame(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    names = ["identifyId", "title", "seats", "createDate", "isBeta"]
    types = [pl.String, pl.String, pl.Int64, pl.Int64, pl.Boolean]
    return pl.DataFrame(
        [
            pl.Series(n, [r[i] for r in rows], dtype=t)
            for i, (n, t) in enumerate(zip(names, types, strict=True))
        ]
    )


@settings(max_examples=200, deadline=None)
@given(_rows, st.booleans())
@example([(None,) * 5, (None, None, None, 28_149_511_399_859, None)], False)  # a date's last digit
def test_a_frames_rows_are_each_row_rendered_alone(rows: list[tuple[object, ...]], raw: bool) -> None:
    frame = _frame(rows)
    whole, cut = sheet_rows(frame, KINDS, 2, raw=raw, xml_text=xml_text)
    alone = [
        sheet_rows(frame.slice(i, 1), KINDS, 2 + i, raw=raw, xml_text=xml_text) for i in range(frame.height)
    ]
    assert whole == b"".join(xml for xml, _ in alone)
    assert cut == sum(n for _, n in alone)


def test_a_column_without_nulls_gives_the_cells_a_column_with_one_null_gives() -> None:
    frame = _frame([("u1", "plain", 7, 1_700_000_000_000, True), ("u2", "text", 8, 1_700_000_000_001, False)])
    with_null = pl.concat([frame, _frame([(None, None, None, None, None)])])
    xml, _ = sheet_rows(frame, KINDS, 2, raw=False, xml_text=xml_text)
    xml_with_null, _ = sheet_rows(with_null, KINDS, 2, raw=False, xml_text=xml_text)
    assert xml_with_null == xml + b'<row r="4"><c/><c/><c/><c/><c/></row>'
    assert b'<c s="2" t="inlineStr"><is><t>u1</t></is></c>' in xml and b"<c><v>7</v></c>" in xml
