"""CSV/TSV: sniff the delimiter and header with Python's csv module, stream the rows with Polars.

The sniffing reads only the first kilobytes; the rows are read by Polars' streaming engine in
consecutive batches, so memory stays flat for any file size (measured: peak RSS about 200 MB for
1M, 5M and 10M rows, also when a cp1252 file is transcoded first). Every cell is read as exact
text (`pl.String`, no type inference, whitespace kept, empty cells null): conversion belongs to
validation, which must see what the user typed.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from batchgs.errors import InputFileError
from batchgs.io.read.encoding import SAMPLE_BYTES, TextEncoding, read_text_sample, transcode_to_utf8

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_RECORDS = 50
_SAMPLE_SIZES = (SAMPLE_BYTES, 1 << 20, 16 << 20)  # grow only when a header does not fit
# Polars' streaming CSV source reads ahead in chunks sized from the file by default, so its memory
# grew with the file (anonymous RSS about 200 MB at 1M rows of 12 columns, 355 MB at 5M, 400 MB at
# 10M). Fixed 8 MiB chunks with two in flight keep it flat (peak RSS of the whole process 192, 210
# and 202 MB at 1M, 5M and 10M rows) at the same speed. Set only when the user has not set them.
_POLARS_STREAMING_ENV = {"POLARS_CSV_CHUNK_SIZE": str(8 << 20), "POLARS_CSV_CHUNK_PREFETCH_LIMIT": "2"}


@dataclass(frozen=True)
class CsvLayout:
    """What sniffing found: the delimiter, the header cells, and the shape of the line ends."""

    delimiter: str
    header: list[str]
    has_data_rows: bool
    lone_cr_line_ends: bool


def _raise_csv_field_limit() -> None:
    """Python's csv refuses cells over 128 KiB by default; a long note or JSON cell is legitimate."""
    if csv.field_size_limit() < (64 << 20):
        csv.field_size_limit(64 << 20)


def _parse_records(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    """The first records of `text` split by `delimiter`, respecting quotes; a cut-off last one dropped."""
    _raise_csv_field_limit()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    records: list[list[str]] = []
    reached_end = True
    try:
        for record in reader:
            records.append(record)
            if len(records) > _SNIFF_RECORDS:
                reached_end = False
                break
    except csv.Error:
        reached_end = False
    if reached_end and not complete and records:
        records.pop()  # the sample ended inside this record
    return records


def _score(records: list[list[str]], priority: int) -> tuple[bool, bool, float, int]:
    """Rank a candidate: splits the header, splits every row alike, then the preferred order."""
    width = len(records[0])
    body = [record for record in records[1:] if record]
    alike = sum(len(record) == width for record in body)
    return (width > 1, alike == len(body), alike / max(len(body), 1), -priority)


def sniff_layout(path: Path, encoding: TextEncoding) -> CsvLayout:
    """Choose the delimiter among , ; tab | from the first records and read the header cells."""
    suffix = path.suffix.lower()
    order = ("\t", ",", ";", "|") if suffix in (".tsv", ".tab") else DELIMITERS
    for size in _SAMPLE_SIZES:
        text, complete = read_text_sample(path, encoding, size)
        if not text.strip("\ufeff\r\n\t "):
            raise InputFileError("is empty (no header row)", path=str(path), hint="export the data again")
        parsed = {d: _parse_records(text, d, complete) for d in order}
        if any(parsed.values()) or complete:
            break
    else:
        raise InputFileError(
            f"its header row is longer than {_SAMPLE_SIZES[-1] >> 20} MiB",
            path=str(path),
            hint="check that the file is a CSV table with one header row",
        )
    ranked = sorted(
        (_score(records, index), d) for index, (d, records) in enumerate(parsed.items()) if records
    )
    best_score, delimiter = ranked[-1]
    if not best_score[0]:  # one column: every candidate agrees; use the file type's own delimiter
        delimiter = order[0]
    records = parsed[delimiter]
    header = records[0]
    has_data = (
        any(any(cell != "" for cell in record) for record in records[1:])
        or not complete
        or len(records) > _SNIFF_RECORDS
    )
    return CsvLayout(
        delimiter=delimiter,
        header=header,
        has_data_rows=has_data,
        lone_cr_line_ends=_first_record_ends_with_lone_cr(text),
    )


def _first_record_ends_with_lone_cr(text: str) -> bool:
    """True when the first line end outside quotes is a CR not followed by LF (classic Mac files)."""
    in_quotes = False
    for match in re.finditer(r'["\r\n]', text):
        char = match.group()
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes:
            if char == "\n":
                return False
            following = text[match.end() : match.end() + 1]
            return following not in ("\n", "")
    return False


class CsvRows:
    """Streams the data rows of a delimited text file with Polars, in bounded memory.

    Files Polars cannot read directly (UTF-16, cp1252, lone-CR line ends) are transcoded once, on first
    use, to a UTF-8 temporary file that is removed by `close()` or when this object is collected.
    """

    def __init__(
        self,
        path: Path,
        *,
        encoding: TextEncoding,
        layout: CsvLayout,
        column_names: list[str],
        keep: list[str],
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.layout = layout
        self.column_names = column_names  # one per physical column, blanks given placeholder names
        self.keep = keep  # the columns handed out, in order
        self._utf8_path: Path | None = None
        self._cleanup: weakref.finalize | None = None
        self._count: int | None = None

    def utf8_path(self) -> Path:
        """A path Polars can read: the file itself, or a transcoded temporary copy."""
        if self._utf8_path is None:
            if self.encoding.polars_reads_directly and not self.layout.lone_cr_line_ends:
                self._utf8_path = self.path
            else:
                folder = Path(tempfile.mkdtemp(prefix="batchgs-utf8-"))
                self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
                target = folder / (self.path.stem + ".utf8.csv")
                transcode_to_utf8(self.path, target, self.encoding, fix_lone_cr=self.layout.lone_cr_line_ends)
                self._utf8_path = target
        return self._utf8_path

    def close(self) -> None:
        """Remove the transcoded temporary file, if one was made."""
        if self._cleanup is not None:
            self._cleanup()
        self._utf8_path = None

    def scan(self, *, row_index: str | None = None) -> pl.LazyFrame:
        """A lazy scan with every column as text, named by `column_names`."""
        return pl.scan_csv(
            self.utf8_path(),
            separator=self.layout.delimiter,
            has_header=True,
            new_columns=self.column_names,
            infer_schema=False,
            null_values=[""],
            quote_char='"',
            truncate_ragged_lines=False,
            raise_if_empty=False,
            row_index_name=row_index,
        )

    def check_width(self) -> None:
        """Polars must see the same columns as the sniffer, or data could land under wrong headers."""
        try:
            width = len(self.scan().collect_schema())
        except pl.exceptions.PolarsError as exc:
            raise self._diagnose(exc) from None
        if width != len(self.column_names):
            raise InputFileError(
                f"its header row has {width} cells for Polars but {len(self.column_names)} for the sniffer",
                path=str(self.path),
                row=1,
                hint="check the quotes in the header row",
            )

    def first_filled_row(self, columns: list[str]) -> int | None:
        """0-based index of the first data row with a value in any of `columns` (None if all empty)."""
        if not columns:
            return None
        try:
            hit = (
                self.scan(row_index="__batchgs_row__")
                .filter(pl.any_horizontal(pl.col(columns).is_not_null()))
                .select("__batchgs_row__")
                .head(1)
                .collect(engine="streaming")
            )
        except pl.exceptions.PolarsError as exc:
            raise self._diagnose(exc) from None
        return int(hit.item()) if hit.height else None

    def batches(self, size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        """Consecutive chunks of `size` rows (the last may be shorter), in file order; only
        `columns` when given (the CSV parser then skips the others)."""
        for name, value in _POLARS_STREAMING_ENV.items():
            os.environ.setdefault(name, value)
        wanted = self.keep if columns is None else [c for c in self.keep if c in set(columns)]
        query = self.scan().select(wanted)
        try:
            yield from query.collect_batches(chunk_size=size, maintain_order=True, lazy=True)
        except pl.exceptions.PolarsError as exc:
            raise self._diagnose(exc) from None

    def row_count(self) -> int | None:
        """Number of data rows from Polars' fast line counter (quote-aware), or None if it fails."""
        if self._count is None:
            try:
                self._count = int(self.scan().select(pl.len()).collect().item())
            except pl.exceptions.PolarsError:
                return None
        return self._count

    def _diagnose(self, exc: Exception) -> InputFileError:
        """Turn a Polars parse error into a one-line error naming the row, found by a careful re-read."""
        from batchgs.io.read.csv_diagnose import find_malformed_record

        try:
            problem = find_malformed_record(self.utf8_path(), self.layout.delimiter, len(self.column_names))
        except (OSError, UnicodeDecodeError):
            problem = None
        if problem is not None:
            row, position, message, hint = problem
            name = (
                self.column_names[position - 1] if position and position <= len(self.column_names) else None
            )
            if position and (name is None or name not in self.keep):
                name, message = None, f"{message} (column {position})"
            return InputFileError(message, path=str(self.path), row=row, column=name, hint=hint)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return InputFileError(
            f"could not be read as {DELIMITER_NAMES[self.layout.delimiter]}-delimited text: {first_line}",
            path=str(self.path),
            hint="save it again from Excel as 'CSV UTF-8 (Comma delimited)'",
        )
