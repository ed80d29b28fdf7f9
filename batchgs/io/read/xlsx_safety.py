"""Refuse hostile or broken .xlsx files before any spreadsheet parser opens them.

An .xlsx is a zip of XML parts. Two classic attacks target the readers: a zip bomb (a few kilobytes
that expand to gigabytes) and an XML entity bomb ("billion laughs": nested <!ENTITY> definitions that
expand exponentially). Excel never writes a document type declaration, so any <!DOCTYPE or <!ENTITY
in any part is refused outright, without needing an XML parser at all.

`check_xlsx` works in bounded memory (1 MiB at a time) and bounded time: sizes declared in the zip
directory are checked first, then each member is decompressed as a stream that stops one byte past
its declared size, so a member lying about its size costs no more than an honest one. The same pass
notes which worksheets hold boolean and error cells, which the reader needs to type columns.
"""

from __future__ import annotations

import copy
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from batchgs.errors import InputFileError

MAX_TOTAL_UNCOMPRESSED = 2 << 30  # 2 GiB: Excel's own row limit keeps genuine sheets far below
MAX_COMPRESSION_RATIO = 200  # genuine sheet XML compresses 5-30x; bombs 1000x
RATIO_CHECK_MIN_SIZE = 16 << 20  # small members may compress well (styles, empty sheets)
MAX_MEMBERS = 10_000
CHUNK = 1 << 20
_DECLARATION = re.compile(rb"<![DdEe]")  # <!DOCTYPE or <!ENTITY in any case; <!-- and <![CDATA[ pass
_OVERLAP = 16
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_SAVE_AS = "open it in Excel and save it again as .xlsx (or as 'CSV UTF-8')"


@dataclass(frozen=True)
class XlsxScan:
    """What the safety pass learnt: worksheet parts holding boolean or error cells."""

    boolean_parts: frozenset[str]
    error_parts: frozenset[str]


def _refuse(path: Path, message: str, hint: str = _SAVE_AS) -> InputFileError:
    return InputFileError(message, path=str(path), hint=hint)


def check_xlsx(path: Path, *, max_bytes: int | None = None) -> XlsxScan:
    """Raise InputFileError unless `path` is a plain, sane .xlsx zip; return cell-type hints."""
    size = path.stat().st_size
    if size == 0:
        raise _refuse(path, "is empty (0 bytes)", "export the workbook again")
    if max_bytes is not None and size > max_bytes:
        raise _refuse(
            path,
            f"is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit",
            "split the data into smaller files or raise the size limit",
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_OLE_MAGIC):
        raise _refuse(
            path,
            "is not an .xlsx workbook: it is a legacy .xls file or a password-protected workbook",
            "remove the password and save it as .xlsx (File > Save As > Excel Workbook)",
        )
    if not head.startswith(b"PK"):
        raise _refuse(path, "is not a valid .xlsx workbook (it is not a zip file)")
    _check_entry_count(path, size)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(path, f"is damaged or truncated ({exc})") from None
    with archive:
        infos = archive.infolist()
        _check_format(path, archive, {info.filename for info in infos})
        _check_declared_sizes(path, infos)
        booleans: set[str] = set()
        errors: set[str] = set()
        for info in infos:
            if info.is_dir():
                continue
            has_bool, has_error = _stream_member(path, archive, info)
            if has_bool:
                booleans.add(info.filename)
            if has_error:
                errors.add(info.filename)
    return XlsxScan(boolean_parts=frozenset(booleans), error_parts=frozenset(errors))


def _check_entry_count(path: Path, size: int) -> None:
    """Read the entry count from the end-of-central-directory record before zipfile lists them all."""
    tail_size = min(size, 65_557)  # 22-byte record + the longest possible comment
    with path.open("rb") as handle:
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise _refuse(path, "is damaged or truncated (no zip directory at its end)")
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    locator = tail.rfind(_ZIP64_LOCATOR, 0, at)
    if entries == 0xFFFF and locator >= 0 and locator + 20 <= len(tail):
        (zip64_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        if zip64_offset + 56 <= size:
            with path.open("rb") as handle:
                handle.seek(zip64_offset)
                record = handle.read(56)
            if record.startswith(b"PK\x06\x06"):
                (entries,) = struct.unpack_from("<Q", record, 32)
    if entries > MAX_MEMBERS:
        raise _refuse(path, f"holds {entries:,} zip members (limit {MAX_MEMBERS:,}); refused as a zip bomb")


def _check_format(path: Path, archive: zipfile.ZipFile, names: set[str]) -> None:
    """Tell an OpenDocument or binary workbook apart from an .xlsx, with what to do."""
    if "mimetype" in names:
        mimetype = archive.read("mimetype")[:100]
        if b"opendocument" in mimetype:
            raise _refuse(
                path,
                "is an OpenDocument spreadsheet (.ods), not an .xlsx workbook",
                "save it as .xlsx or .csv (File > Save As)",
            )
    if "xl/workbook.bin" in names:
        raise _refuse(path, "is a binary Excel workbook (.xlsb), not an .xlsx workbook")
    if "xl/workbook.xml" not in names:
        raise _refuse(path, "is a zip file but not an Excel workbook (no xl/workbook.xml)")


def _check_declared_sizes(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _refuse(path, f"has an encrypted part ({info.filename})", "remove the password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(path, f"uses a compression method Excel never writes ({info.filename})")
        total += info.file_size
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise _refuse(
                path,
                f"would expand to more than {MAX_TOTAL_UNCOMPRESSED >> 30} GiB; refused as a zip bomb",
                "if the workbook is genuine, save it as 'CSV UTF-8' and import the CSV",
            )
        if info.file_size >= RATIO_CHECK_MIN_SIZE:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_COMPRESSION_RATIO:
                raise _refuse(
                    path,
                    f"part {info.filename} is compressed {ratio:,.0f}:1 "
                    f"(limit {MAX_COMPRESSION_RATIO}:1); refused as a zip bomb",
                    "if the workbook is genuine, save it as 'CSV UTF-8' and import the CSV",
                )


def _stream_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bool, bool]:
    """Decompress one member as a stream: true size, CRC, no DTD; (has boolean cells, has error cells)."""
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1  # let a member that lies about its size show it
    probe.CRC = None  # type: ignore[assignment]  # checked below, once the true size is known
    crc = 0
    seen = 0
    carry = b""
    has_bool = has_error = False
    is_worksheet = info.filename.startswith("xl/worksheets/")
    is_xml = info.filename.lower().endswith(_XML_SUFFIXES)
    try:
        with archive.open(probe) as stream:
            while chunk := stream.read(CHUNK):
                if seen == 0:
                    if chunk[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
                        raise _refuse(path, f"part {info.filename} is UTF-16 text, which Excel never writes")
                    is_xml = is_xml or chunk.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
                seen += len(chunk)
                if seen > info.file_size:
                    raise _refuse(
                        path,
                        f"part {info.filename} holds more data than its declared size; "
                        "refused as damaged or a zip bomb",
                    )
                crc = zlib.crc32(chunk, crc)
                if not is_xml:  # images and printer settings: size and checksum only
                    continue
                window = carry + chunk
                if _DECLARATION.search(window):
                    raise _refuse(
                        path,
                        f"part {info.filename} declares an XML document type or entities "
                        "(<!DOCTYPE/<!ENTITY), which Excel never writes; refused as a possible XML bomb",
                    )
                if is_worksheet:
                    has_bool = has_bool or b't="b"' in window or b"t='b'" in window
                    has_error = has_error or b't="e"' in window or b"t='e'" in window
                carry = chunk[-_OVERLAP:]
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise _refuse(path, f"is damaged ({info.filename}: {exc})") from None
    if seen != info.file_size:
        raise _refuse(path, f"is damaged ({info.filename} is shorter than declared)")
    if crc != info.CRC:
        raise _refuse(path, f"is damaged (bad checksum in {info.filename})")
    return has_bool, has_error
