"""Open a CSV, TSV or XLSX file as a `TableSource`: its headers, then its rows in batches.

This is the one entry point the rest of batchgs uses to read a user's spreadsheet. Everything that
can be known cheaply is checked here, before a single row is handed out: the file type (refusing
.xls, .ods, .numbers, ... with what to do instead), bombs in .xlsx files, the text encoding, the
delimiter, and the header row. Every failure is an `InputFileError` whose message is one line naming
the file (and the row and column when there is one).

Row numbers: the i-th data row overall (0-based, across batches) is spreadsheet row i + 2, because
the header is row 1. Empty rows are kept as all-null rows so that this holds for every file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

import polars as pl

from batchgs.errors import InputFileError
from batchgs.io.read.csv_reader import CsvRows, sniff_layout
from batchgs.io.read.encoding import SAMPLE_BYTES, detect_encoding, identify_binary
from batchgs.io.read.headers import blank_column_error, plan_headers
from batchgs.io.read.xlsx_reader import read_sheet
from batchgs.io.read.xlsx_safety import check_xlsx

TableFormat = Literal["csv", "tsv", "xlsx"]
DEFAULT_BATCH_ROWS = 50_000
TEXT_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv"}
_SAVE_AS = "open it and save it as .xlsx or as 'CSV UTF-8' (File > Save As)"
REFUSED_SUFFIXES: dict[str, tuple[str, str]] = {
    ".xls": ("is a legacy Excel 97-2003 workbook (.xls), which batchgs does not read", _SAVE_AS),
    ".xlsm": ("is a macro-enabled workbook (.xlsm), which batchgs does not read", _SAVE_AS),
    ".xlsb": ("is a binary Excel workbook (.xlsb), which batchgs does not read", _SAVE_AS),
    ".xltx": ("is an Excel template (.xltx), not a workbook", _SAVE_AS),
    ".xltm": ("is an Excel template (.xltm), not a workbook", _SAVE_AS),
    ".ods": ("is an OpenDocument spreadsheet (.ods), which batchgs does not read", _SAVE_AS),
    ".numbers": (
        "is an Apple Numbers document, which batchgs does not read",
        "in Numbers use File > Export To > Excel (.xlsx) or CSV",
    ),
}
_BLANK_PREFIX = "__batchgs_blank_column_"


class _Rows(Protocol):
    def batches(self, size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]: ...
    def row_count(self) -> int | None: ...
    def close(self) -> None: ...


def frame_batches(
    frame: pl.DataFrame, size: int, columns: Sequence[str] | None = None
) -> Iterator[pl.DataFrame]:
    """Zero-copy slices of `size` rows of an in-memory table; only `columns` (in the frame's order)
    when given."""
    if columns is not None:
        wanted = set(columns)
        frame = frame.select([c for c in frame.columns if c in wanted])
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)


class _FrameRows:
    """An XLSX sheet is loaded whole (Excel caps it at 1,048,576 rows); batches are zero-copy slices."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def batches(self, size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        return frame_batches(self.frame, size, columns)

    def row_count(self) -> int | None:
        return self.frame.height

    def close(self) -> None:
        """Nothing to release: the frame goes with this object."""


@dataclass
class TableSource:
    """An opened table: what the header says, how the file was decoded, and its rows on demand."""

    path: Path
    format: TableFormat
    headers: list[str]  # original header texts, in order (BOM stripped; blank and repeated refused)
    sheet: str | None
    encoding: str | None  # detected encoding for text files
    delimiter: str | None
    warnings: list[str]  # e.g. "decoded as cp1252" - printed by the CLI
    _rows: _Rows = field(repr=False, compare=False, kw_only=True)

    @classmethod
    def from_frame(
        cls, frame: pl.DataFrame, *, path: str | Path = "memory.csv", format: TableFormat = "csv"
    ) -> TableSource:
        """A source over an in-memory frame (tests, or rows built by code): headers are its columns."""
        return cls(
            path=Path(path),
            format=format,
            headers=list(frame.columns),
            sheet=None,
            encoding=None,
            delimiter=None,
            warnings=[],
            _rows=_FrameRows(frame),
        )

    def batches(
        self, size: int = DEFAULT_BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> Iterator[pl.DataFrame]:
        """Consecutive chunks of data rows, columns named by `headers`, in file order.

        CSV/TSV: every column pl.String with the exact text (empty cells null, whitespace kept).
        XLSX: typed columns (String, Int64/Float64, Boolean, Datetime, Date); mixed columns as String.
        Can be called again for a fresh pass over the rows. Memory is bounded by `size` for CSV/TSV.
        """
        if size < 1:
            raise ValueError("batch size must be at least 1")
        return self._rows.batches(size, columns)

    def row_count(self) -> int | None:
        """Number of data rows (CSV/TSV: a fast quote-aware count by Polars), or None if unknown."""
        return self._rows.row_count()

    def close(self) -> None:
        """Release temporary files (a transcoded copy of a non-UTF-8 text file)."""
        self._rows.close()

    def __enter__(self) -> TableSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_table(path: str | Path, *, sheet: str | None = None, max_bytes: int | None = None) -> TableSource:
    """Open a .csv/.tsv/.txt/.xlsx file, check it, and return its headers and a row source."""
    file = Path(path)
    display = str(file)
    try:
        if not file.exists():
            raise InputFileError("does not exist", path=display, hint="check the path")
        if file.is_dir():
            raise InputFileError("is a folder, not a file", path=display)
        size = file.stat().st_size
        with file.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as exc:
        raise InputFileError(f"cannot be read ({exc.strerror or exc})", path=display) from None
    if size == 0:
        raise InputFileError("is empty (0 bytes)", path=display, hint="export the data again")
    if max_bytes is not None and size > max_bytes:
        raise InputFileError(
            f"is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit",
            path=display,
            hint="split the data into smaller files or raise the size limit",
        )
    suffix = file.suffix.lower()
    if suffix in REFUSED_SUFFIXES:
        message, hint = REFUSED_SUFFIXES[suffix]
        raise InputFileError(message, path=display, hint=hint)
    if suffix == ".xlsx" and (text_kind := _text_table_kind(head)) is not None:
        raise InputFileError(
            f"is named .xlsx but is not a workbook: it is {text_kind} text",
            path=display,
            hint=f"rename it to {'.tsv' if 'tab' in text_kind else '.csv'} and run the command again",
        )
    if suffix == ".xlsx" or (suffix == "" and head.startswith(b"PK")):
        return _open_xlsx(file, sheet, max_bytes)
    if suffix in TEXT_SUFFIXES or suffix == "":
        return _open_text(file, head, sheet)
    raise InputFileError(
        f"has an unsupported file type ({suffix})",
        path=display,
        hint="batchgs reads .csv, .tsv, .txt (delimited text) and .xlsx files",
    )


def _text_table_kind(head: bytes) -> str | None:
    """ "CSV (comma-separated)" and the like when `head` is delimited text, not a zip; else None."""
    if head.startswith(b"PK") or identify_binary(head) is not None:
        return None
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, errors="replace")
            break
    else:
        if b"\x00" in head:
            return None
        text = head.decode("utf-8", errors="replace")
    first = text.splitlines()[0] if text.strip() else ""
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if not counts[delimiter]:
        return None
    return {",": "CSV (comma-separated)", ";": "CSV (semicolon-separated)", "\t": "TSV (tab-separated)"}.get(
        delimiter, "pipe-separated"
    )


def _open_xlsx(file: Path, sheet: str | None, max_bytes: int | None) -> TableSource:
    scan = check_xlsx(file, max_bytes=max_bytes)
    loaded = read_sheet(file, sheet, scan)
    return TableSource(
        path=file,
        format="xlsx",
        headers=loaded.headers,
        sheet=loaded.name,
        encoding=None,
        delimiter=None,
        warnings=loaded.warnings,
        _rows=_FrameRows(loaded.frame),
    )


def _open_text(file: Path, head: bytes, sheet: str | None) -> TableSource:
    display = str(file)
    binary = identify_binary(head)
    if binary is not None:
        what, todo = binary
        raise InputFileError(f"is {what}, not CSV/TSV text", path=display, hint=todo)
    if sheet is not None:
        raise InputFileError(
            f"is a text file, so it has no sheet {sheet!r}",
            path=display,
            hint="sheets exist only in .xlsx workbooks; leave the sheet out",
        )
    encoding = detect_encoding(file, head)
    layout = sniff_layout(file, encoding)
    labels = [f"column {i + 1}" for i in range(len(layout.header))]
    plan = plan_headers(display, list(layout.header), labels)
    if not layout.has_data_rows:
        raise InputFileError("has a header row but no data rows", path=display, hint="add rows below row 1")
    names = [
        plan.headers[plan.keep.index(i)] if i in plan.keep else f"{_BLANK_PREFIX}{i + 1}"
        for i in range(len(layout.header))
    ]
    rows = CsvRows(
        file, encoding=encoding, layout=layout, column_names=names, keep=[names[i] for i in plan.keep]
    )
    warnings = [encoding.warning] if encoding.warning else []
    try:
        rows.check_width()
        filled = [(rows.first_filled_row([names[i]]), i) for i in plan.blank]
        hits = sorted((row, i) for row, i in filled if row is not None)
        if hits:
            row, index = hits[0]
            raise blank_column_error(display, labels[index], row + 2)
    except BaseException:
        rows.close()
        raise
    if plan.blank:
        ignored = ", ".join(labels[i] for i in plan.blank)
        warnings.append(f"{display}: ignored empty column(s) without a header: {ignored}")
    return TableSource(
        path=file,
        format="tsv" if layout.delimiter == "\t" else "csv",
        headers=plan.headers,
        sheet=None,
        encoding=encoding.label,
        delimiter=layout.delimiter,
        warnings=warnings,
        _rows=rows,
    )
