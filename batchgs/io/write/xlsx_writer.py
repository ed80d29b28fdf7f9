"""XLSX export by a small streaming SpreadsheetML writer: rows go straight into a deflated zip entry.

Why hand-rolled: measured in bench/writers.py (100,000 x 12 typed columns) it is several times faster
than xlsxwriter's constant-memory mode and openpyxl's write-only mode, in constant memory, and the
files open in Excel, LibreOffice, openpyxl and calamine (fastexcel / polars.read_excel).

What it writes:
- Typed cells: numbers as numbers (integers of 16+ digits as text, since Excel keeps 15), booleans
  as booleans, dates (epoch ms in `date_columns`) as real date cells (serial numbers with the
  `yyyy-mm-dd hh:mm:ss.000` format, UTC), ids as text cells with the text format `@`, other text as
  inline strings (no shared-strings table, whose memory would grow with the data).
- Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) keeps its exact value and gets
  the cell style `quotePrefix` unless `raw`: Excel and LibreOffice show it as typed and keep it text
  when the cell is edited (a text cell in .xlsx is never run as a formula anyway; the style guards the
  edit). No visible `'` is added, unlike CSV, where the `'` is the only protection there is (OWASP).
- A bold, frozen header row on every sheet. Past `rows_per_sheet` rows (1,048,576, Excel's limit,
  header included) or `sheet_bytes` of sheet XML (kept under 2 GB so no ZIP64 is ever needed) the
  rows continue on a new sheet with the same header: Sheet1, Sheet2, ...
- Late columns: their cells are written at new column positions as they come; `close()` rewrites
  the header row of each sheet once (a streaming copy of the zip) so the header names them.
"""

from __future__ import annotations

import queue
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.sax.saxutils import quoteattr

import polars as pl

try:  # ISA-L's deflate: the same raw deflate stream, ~5x faster than zlib's at level 1 (and smaller)
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - a platform without its wheel keeps zlib
    _fast_zlib = None  # type: ignore[assignment]

from batchgs.io.write.base import RecordWriter
from batchgs.io.write.safe_cells import is_formula_like
from batchgs.io.write.xlsx_cells import MAX_TEXT as EXCEL_MAX_TEXT
from batchgs.io.write.xlsx_cells import STYLE_HEADER, STYLE_QUOTED_HEADER, sheet_rows

EXCEL_MAX_ROWS = 1_048_576
SHEET_BYTES = 1_900_000_000
COMPRESS_LEVEL = 1  # deflate level 1 is ~3x faster than 6 for ~25% larger files (measured)
# (with ISA-L, level 1 deflates 100,000 flat users' sheet XML at ~0.9 CPU-µs a row, zlib's at ~4.5,
# and 7% smaller: the largest cost of an XLSX export after the page parse)

_NEEDS_ESCAPE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")

_RENDER_ROWS = 10_000  # rows rendered into one string (bounds memory for huge batches)
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss.000"


def xml_text(text: str) -> str:
    """Escape text for an XML element; control characters use Excel's own `_xHHHH_` escape."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class XlsxWriter(RecordWriter):
    suffix = ".xlsx"

    def __init__(
        self,
        *args: Any,
        rows_per_sheet: int = EXCEL_MAX_ROWS,
        sheet_bytes: int = SHEET_BYTES,
        compress_level: int = COMPRESS_LEVEL,
        **kwargs: Any,
    ) -> None:
        if rows_per_sheet < 2:
            raise ValueError("rows_per_sheet counts the header: it must be at least 2")
        self.rows_per_sheet = rows_per_sheet
        self.sheet_bytes = sheet_bytes
        self.compress_level = compress_level
        self.sheet_names: list[str] = []
        self.truncated_cells = 0  # text longer than Excel's 32,767 characters per cell
        super().__init__(*args, **kwargs)

    # -- RecordWriter -----------------------------------------------------------------------------

    def _open(self) -> None:
        self._zip = zipfile.ZipFile(
            self.tmp_path, "x", compression=zipfile.ZIP_DEFLATED, compresslevel=self.compress_level
        )
        self._sheet: IO[bytes] | None = None  # touched only by the deflate thread until it is joined
        self._deflate = _DeflateThread()
        self._data_bytes = self._data_rows = 0  # XML bytes and count of all data rows so far
        self._prefixes: list[bytes] = []  # per sheet: the bytes up to and including the header row
        self._letters = [column_letter(i) for i in range(len(self.columns))]
        self._kinds = self.kinds()
        self._start_sheet()

    def _on_late_columns(self, names: list[str]) -> None:
        self._letters = [column_letter(i) for i in range(len(self.columns))]
        self._kinds = self.kinds()

    def _write_frame(self, frame: pl.DataFrame) -> None:
        """Rows that fit the sheet (Excel's row limit, the sheet's byte budget judged by the average row
        so far), their XML made column-wise by Polars (batchgs.io.write.xlsx_cells); then a new sheet."""
        start = 0
        while start < frame.height:
            room = self.rows_per_sheet - self._next_row + 1
            if room <= 0 or self._sheet_size >= self.sheet_bytes:
                self._end_sheet()
                self._start_sheet()
                continue
            average = self._data_bytes / self._data_rows if self._data_rows else 0
            fits = int((self.sheet_bytes - self._sheet_size) / average) + 1 if average else 10
            chunk = frame.slice(start, min(room, _RENDER_ROWS, fits))
            xml, cut = sheet_rows(chunk, self._kinds, self._next_row, raw=self.raw, xml_text=xml_text)
            self.truncated_cells += cut
            self._submit_rows(xml, chunk.height)
            start += chunk.height

    def _submit_rows(self, data: bytes, count: int) -> None:
        self._deflate.submit(self._write_entry, data)
        self._sheet_size += len(data)
        self._data_bytes += len(data)
        self._data_rows += count
        self._next_row += count

    def _finish(self) -> None:
        self._end_sheet()
        self._deflate.join()
        if self.late_columns:
            self._rewrite_headers()
        self._write_package_parts(self._zip)
        self._zip.close()

    def _discard(self) -> None:
        self._deflate.join(quiet=True)
        if self._sheet is not None:
            self._sheet.close()
        self._zip.close()

    def _temp_paths(self) -> list[Any]:
        return [self.tmp_path, self.tmp_path.with_name(self.tmp_path.name + ".fix")]

    # -- sheets -----------------------------------------------------------------------------------

    def _start_sheet(self) -> None:
        number = len(self.sheet_names) + 1
        self.sheet_names.append(f"Sheet{number}")
        prefix = self._sheet_prefix(first=number == 1).encode("utf-8", "replace")
        self._prefixes.append(prefix)
        self._deflate.submit(self._open_entry, number, prefix)
        self._sheet_size = len(prefix)
        self._next_row = 2

    def _end_sheet(self) -> None:
        self._deflate.submit(self._close_entry)

    # the three below run on the deflate thread, in the order submitted

    def _open_entry(self, number: int, prefix: bytes) -> None:
        info = zipfile.ZipInfo(f"xl/worksheets/sheet{number}.xml", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = self.compress_level  # type: ignore[attr-defined]  # ZipInfo ignores the zip's
        self._sheet = self._zip.open(info, "w")
        _deflate_fast(self._sheet, self.compress_level)
        self._sheet.write(prefix)

    def _write_entry(self, data: bytes) -> None:
        assert self._sheet is not None
        self._sheet.write(data)

    def _close_entry(self) -> None:
        if self._sheet is not None:
            self._sheet.write(b"</sheetData></worksheet>")
            self._sheet.close()
            self._sheet = None

    def _sheet_prefix(self, *, first: bool) -> str:
        widths = "".join(
            f'<col min="{i}" max="{i}" width="{self._width(name, kind)}" customWidth="1"'
            + (' style="2"/>' if kind == "id" else "/>")
            for i, (name, kind) in enumerate(zip(self.columns, self.kinds(), strict=True), start=1)
        )
        selected = ' tabSelected="1"' if first else ""
        header = "".join(
            f'<c r="{column_letter(i)}1" t="inlineStr" s="{self._header_style(name)}">'
            f"<is><t{self._text(name)}</t></is></c>"
            for i, name in enumerate(self.columns)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheetViews><sheetView{selected} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{widths}</cols>" if widths else "")
            + f'<sheetData><row r="1">{header}</row>'
        )

    @staticmethod
    def _width(name: str, kind: str) -> int:
        if kind == "date":
            return 24
        return max(10, min(50, len(name) + 3))

    def _header_style(self, name: str) -> int:
        return STYLE_QUOTED_HEADER if not self.raw and is_formula_like(name) else STYLE_HEADER

    def _text(self, text: str) -> str:
        """The end of an opened `<t` tag and the cell's text: escaped, truncated (never altered
        otherwise: formula-like text is marked by the cell's quotePrefix style)."""
        if len(text) > EXCEL_MAX_TEXT:
            self.truncated_cells += 1
            text = text[:EXCEL_MAX_TEXT]
        escaped = xml_text(text)
        if text[:1].isspace() or text[-1:].isspace():
            return ' xml:space="preserve">' + escaped
        return ">" + escaped

    # -- late columns ---------------------------------------------------------------------------

    def _rewrite_headers(self) -> None:
        """Copy the package once, giving each sheet the header of the final column list."""
        self._zip.close()
        fixed = self.tmp_path.with_name(self.tmp_path.name + ".fix")
        with (
            zipfile.ZipFile(self.tmp_path) as src,
            zipfile.ZipFile(
                fixed, "x", compression=zipfile.ZIP_DEFLATED, compresslevel=self.compress_level
            ) as dst,
        ):
            for number, old_prefix in enumerate(self._prefixes, start=1):
                info = src.getinfo(f"xl/worksheets/sheet{number}.xml")
                with src.open(info) as sheet_in, dst.open(info.filename, "w") as sheet_out:
                    head = sheet_in.read(len(old_prefix))
                    if head != old_prefix:
                        raise RuntimeError(f"sheet {number} of {self.tmp_path} changed while writing")
                    sheet_out.write(self._sheet_prefix(first=number == 1).encode("utf-8", "replace"))
                    while chunk := sheet_in.read(1 << 20):
                        sheet_out.write(chunk)
        fixed.replace(self.tmp_path)
        self._zip = zipfile.ZipFile(
            self.tmp_path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=self.compress_level
        )

    # -- the rest of the package ------------------------------------------------------------------

    def _write_package_parts(self, zf: zipfile.ZipFile) -> None:
        for name, text in self._package_parts():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)

    def _package_parts(self) -> Iterator[tuple[str, str]]:
        decl = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        pkg_rel = "http://schemas.openxmlformats.org/package/2006/relationships"
        sheets = list(enumerate(self.sheet_names, start=1))
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for n, _ in sheets
        )
        yield (
            "[Content_Types].xml",
            decl + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.extended-properties+xml"/>' + overrides + "</Types>",
        )
        yield (
            "_rels/.rels",
            decl + f'<Relationships xmlns="{pkg_rel}">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>",
        )
        yield (
            "docProps/app.xml",
            decl + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>batchgs</Application></Properties>',
        )
        sheet_list = "".join(
            f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>' for n, name in sheets
        )
        yield (
            "xl/workbook.xml",
            decl + f'<workbook xmlns="{main}" xmlns:r="{rel}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheet_list}</sheets></workbook>",
        )
        sheet_rels = "".join(
            f'<Relationship Id="rId{n}" Type="{rel}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n, _ in sheets
        )
        styles_id = len(sheets) + 1
        yield (
            "xl/_rels/workbook.xml.rels",
            decl + f'<Relationships xmlns="{pkg_rel}">{sheet_rels}'
            f'<Relationship Id="rId{styles_id}" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        )
        yield ("xl/styles.xml", decl + _STYLES.format(main=main, date_format=DATE_FORMAT))


_STYLES = (
    '<styleSheet xmlns="{main}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="{date_format}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" quotePrefix="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" quotePrefix="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _deflate_fast(entry: IO[bytes], level: int) -> None:
    """Give a zip entry just opened for writing ISA-L's compressor instead of zlib's. zipfile has no
    way to choose one, so this replaces its writer's private `_compressor` before the first write
    (zipfile still writes the headers and the CRC); the entry stays standard deflate."""
    if _fast_zlib is not None and getattr(entry, "_compressor", None) is not None:
        entry._compressor = _fast_zlib.compressobj(  # type: ignore[attr-defined]
            min(level, _fast_zlib.ISAL_BEST_COMPRESSION), _fast_zlib.DEFLATED, -15
        )


class _DeflateThread:
    """Runs the zip writes on one thread, in order, while the caller renders the next rows: deflate
    releases the GIL, so on two cores compressing costs (almost) no wall time. The queue is short, so
    memory stays bounded; the first error is raised to the caller on its next submit or on join."""

    def __init__(self, depth: int = 4) -> None:
        self._queue: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="batchgs-xlsx-deflate", daemon=True)
        self._thread.start()

    def submit(self, func: Callable[..., None], *args: Any) -> None:
        self._raise()
        self._queue.put((func, args))

    def join(self, *, quiet: bool = False) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if not quiet:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                func, args = item
                try:
                    func(*args)
                except BaseException as exc:  # handed to the caller
                    self._error = exc
