"""The sheet XML of a frame's rows, made column-wise by Polars: the cells `XlsxWriter._render` makes
one Python value at a time (same styles, escapes, date serials, text limits), for whole pages.

Cells carry no `r="B12"` reference (it is optional in SpreadsheetML): each row lists every column in
order, an empty one as `<c/>`. That saves a quarter of the XML, so of the concatenation and the deflate;
Excel, LibreOffice, openpyxl and calamine place such cells by their order.

A row is one concatenation inside `<row>`: a column without nulls lays its cells' texts and values
into it directly, one with nulls adds an expression giving its `<c>` element per row (`<c/>` for a
null). Text needing Excel's `_xHHHH_` escape (control characters, or text that
looks like one) is rare: such a column goes through the Python escape, for that page only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from batchgs.io.write.base import to_epoch_ms
from batchgs.io.write.cells import epoch_ms, id_texts, per_value
from batchgs.io.write.safe_cells import PLAIN_NUMBER

MS_PER_DAY = 86_400_000
EXCEL_EPOCH_SERIAL = 25_569  # serial number of 1970-01-01
FIRST_SAFE_MS = -2_203_891_200_000  # 1900-03-01: before it Excel's 1900 leap-year bug shifts days
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, Excel's last date
MAX_EXACT_INT = 10**15  # Excel keeps 15 significant digits
MAX_TEXT = 32_767
EMPTY = "<c/>"  # an empty cell: it keeps the next cells in their columns (no `r` references)
# the cell styles of xl/styles.xml (XlsxWriter writes it): date, id text, header, and the quotePrefix
# twins of general text, id text and the header (formula-like text, not `raw`)
STYLE_DATE, STYLE_TEXT, STYLE_HEADER = 1, 2, 3
STYLE_QUOTED, STYLE_QUOTED_TEXT, STYLE_QUOTED_HEADER = 4, 5, 6
TEXT_MID = ' t="inlineStr"><is><t'
ID_MID = f' s="{STYLE_TEXT}" t="inlineStr"><is><t'
QUOTED_MID = {TEXT_MID: f' s="{STYLE_QUOTED}"{TEXT_MID}', ID_MID: f' s="{STYLE_QUOTED_TEXT}"{TEXT_MID}'}
_EXCEL_ESCAPED = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]|_x[0-9A-Fa-f]{4}_"
# anything a text cell must treat: XML or Excel escapes, a space at an end, a formula-like start
_SPECIAL = r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]|_x[0-9A-Fa-f]{4}_|^[\s=+\-@]|\s$"


def sheet_rows(
    frame: pl.DataFrame,
    kinds: Sequence[str],
    first_row: int,
    *,
    raw: bool,
    xml_text: Callable[[str], str],
) -> tuple[bytes, int]:
    """The `<row>` elements of `frame` from spreadsheet row `first_row` (UTF-8), and how many text cells were
    cut to Excel's limit. `xml_text` is the writer's Python escape (for the rare columns that need it).

    One pass first asks each text column whether any of its cells is special (escapes, spaces at an
    end, formula-like, too long): the usual column is not, and its cells are plain concatenations."""
    schema = frame.schema  # (built anew by every `frame.schema`)
    texts = [n for n in frame.columns if schema[n] == pl.String]
    special = (
        frame.select(
            [
                (pl.col(n).str.contains(_SPECIAL).any() | (pl.col(n).str.len_bytes().max() > MAX_TEXT)).alias(
                    n
                )
                for n in texts
            ]
        ).row(0, named=True)
        if texts
        else {}
    )
    ints = [n for n in frame.columns if schema[n] == pl.Int64]
    bounds = (
        frame.select(pl.col(ints).min().name.prefix("lo:"), pl.col(ints).max().name.prefix("hi:")).row(
            0, named=True
        )
        if ints
        else {}
    )
    number = pl.int_range(first_row, first_row + frame.height, eager=False).cast(pl.String)
    nulls = frame.null_count().row(0, named=True)
    row = _Row(['<row r="', number, '">'])
    start = pl.lit("<c")  # cells without `r`: each row holds every column in order, `<c/>` when empty
    truncated: list[pl.Expr] = []
    for name, kind in zip(frame.columns, kinds, strict=False):
        dtype = schema[name]
        if dtype == pl.Null:
            row.add(EMPTY)
            continue
        if dtype == pl.String and not special[name] and kind != "date":
            mid = ID_MID if kind == "id" else TEXT_MID
            row.cell(nulls[name], [f"<c{mid}>", pl.col(name), "</t></is></c>"])
            continue
        if dtype == pl.Int64 and kind != "id":
            low, high = bounds[f"lo:{name}"], bounds[f"hi:{name}"]
            if kind == "date" and low is not None and low >= FIRST_SAFE_MS and high <= LAST_MS:
                row.cell(nulls[name], [f'<c s="{STYLE_DATE}"><v>', _serial(pl.col(name)), "</v></c>"])
                continue
            if kind == "value" and low is not None and low > -MAX_EXACT_INT and high < MAX_EXACT_INT:
                row.cell(nulls[name], ["<c><v>", pl.col(name).cast(pl.String), "</v></c>"])
                continue
        column = frame.get_column(name)
        row.add(_cell(pl.col(name), column, dtype, kind, start, raw=raw, escape=xml_text).fill_null(EMPTY))
        if dtype == pl.String:
            truncated.append((pl.col(name).str.len_chars() > MAX_TEXT).sum())
    row.add("</row>")
    rows = frame.select(row.expr().str.join("").cast(pl.Binary).alias("xml"))
    cut = int(frame.select(pl.sum_horizontal(truncated)).item()) if truncated else 0
    return bytes(rows.item()), cut  # UTF-8 as Polars holds it: no Python text in between


class _Row:
    """The pieces of a `<row>` element, concatenated by one `concat_str`. A column without nulls adds
    its cell's text and value as pieces of the row itself, next texts joined into one: cells made
    apart and then copied into their rows took ~55 ms a 10,000-user batch, pieces ~35 ms (measured).
    A column with nulls adds one expression per cell (`<c/>` for a null)."""

    def __init__(self, pieces: list[str | pl.Expr]) -> None:
        self.pieces: list[str | pl.Expr] = []
        for piece in pieces:
            self.add(piece)

    def add(self, piece: str | pl.Expr) -> None:
        if isinstance(piece, str) and self.pieces and isinstance(self.pieces[-1], str):
            self.pieces[-1] += piece
        else:
            self.pieces.append(piece)

    def cell(self, nulls: int, pieces: list[str | pl.Expr]) -> None:
        """One column's cells from `pieces` (texts and the column's values, which must not add nulls)."""
        if nulls:
            self.add(pl.concat_str(_exprs(pieces)).fill_null(EMPTY))
        else:
            for piece in pieces:
                self.add(piece)

    def expr(self) -> pl.Expr:
        return pl.concat_str(_exprs(self.pieces), ignore_nulls=True)


def _exprs(pieces: list[str | pl.Expr]) -> list[pl.Expr]:
    return [pl.lit(p) if isinstance(p, str) else p for p in pieces]


def _cell(
    expr: pl.Expr,
    column: pl.Series,
    dtype: pl.DataType,
    kind: str,
    start: pl.Expr,
    *,
    raw: bool,
    escape: Callable[[str], str],
) -> pl.Expr:
    """One column's `<c>` elements (`start` is `<c r="A12` per row)."""
    if kind == "date":
        ms = epoch_ms(expr, dtype)
        if ms is None and dtype == pl.String:
            ms = per_value(expr, to_epoch_ms, pl.Int64())  # dates given as text: the rare column
        if ms is not None:
            safe = ms.is_between(FIRST_SAFE_MS, LAST_MS)
            date = pl.concat_str([start, pl.lit(f' s="{STYLE_DATE}"><v>'), _serial(ms), pl.lit("</v></c>")])
            return (
                pl.when(safe)
                .then(date)
                .otherwise(_cell(expr, column, dtype, "value", start, raw=raw, escape=escape))
            )
    if dtype == pl.String:
        return _text_cell(expr, column, ID_MID if kind == "id" else TEXT_MID, start, raw=raw, escape=escape)
    if kind == "id":
        texts = id_texts(expr, dtype)
        return _text_cell(
            texts, column.to_frame().select(texts).to_series(), ID_MID, start, raw=raw, escape=escape
        )
    if dtype == pl.Boolean:
        value = expr.cast(pl.UInt8).cast(pl.String)
        return pl.concat_str([start, pl.lit(' t="b"><v>'), value, pl.lit("</v></c>")])
    if dtype.is_integer():
        number = pl.concat_str([start, pl.lit("><v>"), expr.cast(pl.String), pl.lit("</v></c>")])
        exact = expr.is_between(-MAX_EXACT_INT, MAX_EXACT_INT, closed="none")
        as_text = _plain_cell(expr.cast(pl.String), start)
        return pl.when(exact).then(number).otherwise(as_text)
    if dtype.is_float():
        number = pl.concat_str([start, pl.lit("><v>"), expr.cast(pl.String), pl.lit("</v></c>")])
        return pl.when(expr.is_finite()).then(number).otherwise(_plain_cell(expr.cast(pl.String), start))
    texts = expr.cast(pl.String)
    return _text_cell(
        texts, column.to_frame().select(texts).to_series(), TEXT_MID, start, raw=raw, escape=escape
    )


def _serial(ms: pl.Expr) -> pl.Expr:
    """Epoch milliseconds as the text of Excel's date serial number. Multiplied by the reciprocal of a
    day, not divided by it: Polars divides a column of more than one value by a number that way but a
    single value exactly, and the last digit then depended on the batch a row was written in."""
    return (ms.cast(pl.Float64) * (1.0 / MS_PER_DAY) + EXCEL_EPOCH_SERIAL).cast(pl.String)


def _plain_cell(text: pl.Expr, start: pl.Expr) -> pl.Expr:
    """Text known to need no escape and to be no formula (a number's own text)."""
    return pl.concat_str([start, pl.lit(TEXT_MID + ">"), text, pl.lit("</t></is></c>")])


def _text_cell(
    text: pl.Expr, values: pl.Series, mid: str, start: pl.Expr, *, raw: bool, escape: Callable[[str], str]
) -> pl.Expr:
    """An inline-string cell: escaped, cut to Excel's limit, `xml:space` kept, formula-like text marked
    with the quotePrefix style (unless `raw`)."""
    cut = text.str.slice(0, MAX_TEXT)
    if values.dtype == pl.String and values.str.contains(_EXCEL_ESCAPED).any():
        escaped = per_value(cut, escape)
    else:
        escaped = (
            cut.str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True)
            .str.replace_all("\r", "&#13;", literal=True)
        )
    spaced = cut.str.contains(r"^\s|\s$")
    opened = pl.when(spaced).then(pl.lit(' xml:space="preserve">')).otherwise(pl.lit(">"))
    plain = pl.concat_str([start, pl.lit(mid), opened, escaped, pl.lit("</t></is></c>")])
    if raw:
        return plain
    formula = text.str.contains(r"^[=+\-@\t\r]") & ~text.str.contains(PLAIN_NUMBER)
    quoted = pl.concat_str([start, pl.lit(QUOTED_MID[mid]), opened, escaped, pl.lit("</t></is></c>")])
    return pl.when(formula).then(quoted).otherwise(plain)
