"""Which bytes a text table really holds, and a streaming transcoder to the UTF-8 Polars reads.

Polars' CSV reader takes UTF-8 with LF or CRLF line ends only. Spreadsheet users hand us Excel's
"CSV" (Windows-1252), "CSV UTF-8" (BOM), "Unicode Text" (UTF-16 LE with BOM) and, now and then, old Mac
files ending lines with a lone CR. This module decides what a file is from its bytes, refuses what is
not text with a message naming what it looks like, and converts the rest to UTF-8 in bounded memory.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from batchgs.errors import InputFileError

CHUNK = 1 << 20  # bytes per read: memory stays flat for any file size
SAMPLE_BYTES = 64 * 1024
SAVE_AS_UTF8 = "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'"

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Files that are not text at all, by their first bytes: what they are and what to do.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook?)", "if it is an Excel workbook, rename it to .xlsx"),
    (b"PK\x05\x06", "an empty zip archive", "export the data as .csv or .xlsx"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "a legacy Excel .xls workbook (or a password-protected workbook)",
        "open it in Excel, remove any password and save as .xlsx or 'CSV UTF-8'",
    ),
    (b"%PDF", "a PDF document", "export the data as .csv or .xlsx"),
    (b"\x89PNG", "a PNG image", "export the data as .csv or .xlsx"),
    (b"\xff\xd8\xff", "a JPEG image", "export the data as .csv or .xlsx"),
    (b"\x1f\x8b", "a gzip archive", "decompress it first"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as .csv"),
    (b"PAR1", "a Parquet file", "convert it to .csv"),
)
_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class TextEncoding:
    """How to decode a text file: `codec` for Python, `label` for people, and what must be rewritten."""

    codec: str  # "utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252"
    label: str  # the name given in TableSource.encoding
    bom_length: int
    warning: str | None = None

    @property
    def polars_reads_directly(self) -> bool:
        """Polars reads UTF-8 (and skips a UTF-8 BOM) itself; anything else goes through a temp file."""
        return self.codec in ("utf-8", "utf-8-sig")


def identify_binary(head: bytes) -> tuple[str, str] | None:
    """(what the file looks like, what to do) when its first bytes say it is not a text table."""
    for magic, what, todo in _MAGIC:
        if head.startswith(magic):
            return what, todo
    return None


def detect_encoding(path: Path, head: bytes) -> TextEncoding:
    """Decide the encoding from the BOM, then by validating the whole file as UTF-8 in chunks.

    A full pass is needed because a cp1252 `é` can sit on the last row; it runs at memory speed
    (ASCII chunks are skipped by `bytes.isascii`). Invalid UTF-8 that is valid Windows-1252 text is
    accepted with a warning (that is what Excel's plain "CSV" writes on Windows); anything else is a
    clear error telling how to save the file.
    """
    display = str(path)
    for bom, codec in _BOMS:
        if head.startswith(bom):
            found = TextEncoding(codec=codec, label=codec, bom_length=len(bom))
            if codec == "utf-8-sig" and (bad := first_invalid_utf8(path)) is not None:
                raise InputFileError(
                    f"starts with a UTF-8 marker but is not valid UTF-8 (undecodable byte at offset {bad})",
                    path=display,
                    hint=f"save it again as UTF-8: {SAVE_AS_UTF8}",
                )
            return found  # UTF-16 is validated while it is transcoded
    if b"\x00" in head[:SAMPLE_BYTES]:
        if _looks_like_utf16_without_bom(head):
            raise InputFileError(
                "looks like UTF-16 text without a byte-order mark, which cannot be read safely",
                path=display,
                hint=f"save it as UTF-8: {SAVE_AS_UTF8}",
            )
        raise InputFileError(
            "is a binary file, not CSV/TSV text", path=display, hint="export the data as .csv or .xlsx"
        )
    bad_offset = first_invalid_utf8(path)
    if bad_offset is None:
        return TextEncoding(codec="utf-8", label="utf-8", bom_length=0)
    if _is_clean_cp1252(path):
        return TextEncoding(
            codec="cp1252",
            label="cp1252",
            bom_length=0,
            warning=(
                f"{display}: not valid UTF-8 (first bad byte at offset {bad_offset}); "
                "decoded as cp1252 (Windows-1252, Excel's plain 'CSV')"
            ),
        )
    line = _line_of_offset(path, bad_offset)
    raise InputFileError(
        f"is neither UTF-8 nor Windows-1252 text (undecodable byte at line {line}, offset {bad_offset})",
        path=display,
        hint=f"save it as UTF-8: {SAVE_AS_UTF8}",
    )


def first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None when the whole file is valid."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            pending = len(decoder.getstate()[0])  # bytes of a sequence split by the previous chunk
            if not pending and chunk.isascii():
                offset += len(chunk)
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset - len(decoder.getstate()[0])
    return None


def _is_clean_cp1252(path: Path) -> bool:
    """True when every byte is defined in Windows-1252 and no control character shows up."""
    decoder = codecs.getincrementaldecoder("cp1252")("strict")
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
            if _C0_CONTROLS.search(text):
                return False
    return True


def _looks_like_utf16_without_bom(head: bytes) -> bool:
    """Mostly-ASCII UTF-16 has a NUL in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return False
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    return max(even_nuls, odd_nuls) > 0.6 * half and min(even_nuls, odd_nuls) < 0.1 * half


def _line_of_offset(path: Path, offset: int) -> int:
    """1-based physical line holding byte `offset` (for error messages only)."""
    lines = 1
    remaining = offset
    with path.open("rb") as handle:
        while remaining > 0 and (chunk := handle.read(min(CHUNK, remaining))):
            lines += chunk.count(b"\n")
            remaining -= len(chunk)
    return lines


def read_text_sample(path: Path, encoding: TextEncoding, max_bytes: int = SAMPLE_BYTES) -> tuple[str, bool]:
    """The first `max_bytes` of the file decoded (BOM dropped), and whether that is the whole file."""
    with path.open("rb") as handle:
        handle.seek(encoding.bom_length)
        raw = handle.read(max_bytes + 1)
    complete = len(raw) <= max_bytes
    decoder = codecs.getincrementaldecoder(_stream_codec(encoding))("replace")
    text = decoder.decode(raw[:max_bytes], final=complete)
    return text, complete


def _stream_codec(encoding: TextEncoding) -> str:
    """The BOM is skipped by offset, so the BOM-less codec decodes the rest."""
    return "utf-8" if encoding.codec == "utf-8-sig" else encoding.codec


class _LoneCrFixer:
    """Turns record-ending lone CRs (old Mac files) into LF, leaving CRs inside quoted cells alone.

    Quote state is tracked by parity, as Polars does: every `"` toggles it (an escaped `""` toggles
    twice). A CR at the end of a chunk is held back in case the next chunk starts with LF.
    """

    def __init__(self) -> None:
        self.in_quotes = False
        self.held = ""

    def feed(self, text: str, final: bool = False) -> str:
        text = self.held + text
        self.held = ""
        if not final and text.endswith("\r"):
            text, self.held = text[:-1], "\r"
        parts = text.split('"')
        for index, part in enumerate(parts):
            outside = (index % 2 == 0) != self.in_quotes
            if outside and "\r" in part:
                parts[index] = part.replace("\r\n", "\n").replace("\r", "\n")
        if (len(parts) - 1) % 2:
            self.in_quotes = not self.in_quotes
        return '"'.join(parts)


def transcode_to_utf8(source: Path, target: Path, encoding: TextEncoding, *, fix_lone_cr: bool) -> None:
    """Stream `source` to `target` as UTF-8 without BOM, optionally turning lone CR line ends into LF."""
    decoder = codecs.getincrementaldecoder(_stream_codec(encoding))("strict")
    fixer = _LoneCrFixer() if fix_lone_cr else None
    try:
        with source.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
            src.seek(encoding.bom_length)
            for chunk in _chunks(src):
                text = decoder.decode(chunk)
                dst.write(fixer.feed(text) if fixer else text)
            tail = decoder.decode(b"", final=True)
            if fixer:
                tail = fixer.feed(tail, final=True)
            dst.write(tail)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"is not valid {encoding.label} text ({exc.reason})",
            path=str(source),
            hint=f"save it as UTF-8: {SAVE_AS_UTF8}",
        ) from None


def _chunks(handle: object) -> Iterator[bytes]:
    read = handle.read  # type: ignore[attr-defined]
    while chunk := read(CHUNK):
        yield chunk
