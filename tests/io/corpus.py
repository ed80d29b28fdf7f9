"""Generators of real-world-shaped input files for the reader tests, written into a folder.

Each helper writes one file and returns its path. The shapes are the ones users actually hand over:
what Excel's "CSV" and "CSV UTF-8" and "Unicode Text" save, semicolon CSVs from European locales,
typed workbooks from openpyxl and xlsxwriter, and broken or hostile files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct
import zipfile
from pathlib import Path

import openpyxl
import xlsxwriter

# The rows of the text corpus: (header, rows). Each row's first cell is its spreadsheet row number,
# so any test can check that row i of the output came from row i + 2 of the file.
HEADER = ["Row", "Name", "City", "Amount"]
ROWS = [
    ["2", "José", "Zürich", "1,5 €"],
    ["3", "Chloé O'Brien", "Köln", "2 000"],
    ["4", "  padded  ", "", "-3"],
    ["5", 'Say "hi"', "a;b|c", "4"],
]


def _table(delimiter: str, newline: str, rows: list[list[str]] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(HEADER)
    writer.writerows(rows if rows is not None else ROWS)
    return buffer.getvalue()


def excel_cp1252_csv(folder: Path) -> Path:
    """Excel's plain "CSV" on Windows (French locale): cp1252, semicolons, CRLF, no BOM."""
    path = folder / "excel-cp1252.csv"
    path.write_bytes(_table(";", "\r\n").encode("cp1252"))
    return path


def excel_utf8_bom_csv(folder: Path) -> Path:
    """Excel's "CSV UTF-8": BOM, commas, CRLF."""
    path = folder / "excel-utf8-bom.csv"
    path.write_bytes(_table(",", "\r\n").encode("utf-8-sig"))
    return path


def semicolon_csv(folder: Path) -> Path:
    path = folder / "semicolon.csv"
    path.write_text(_table(";", "\n"), encoding="utf-8", newline="")
    return path


def pipe_csv(folder: Path) -> Path:
    path = folder / "pipe.csv"
    path.write_text(_table("|", "\n"), encoding="utf-8", newline="")
    return path


def plain_tsv(folder: Path) -> Path:
    path = folder / "plain.tsv"
    path.write_text(_table("\t", "\n"), encoding="utf-8", newline="")
    return path


def utf16_le_text(folder: Path) -> Path:
    """Excel's "Unicode Text": UTF-16 LE with BOM, tab-delimited, CRLF, saved as .txt."""
    path = folder / "unicode-text.txt"
    path.write_bytes(b"\xff\xfe" + _table("\t", "\r\n").encode("utf-16-le"))
    return path


def utf16_be_csv(folder: Path) -> Path:
    path = folder / "utf16-be.csv"
    path.write_bytes(b"\xfe\xff" + _table(",", "\n").encode("utf-16-be"))
    return path


def quoted_newlines_csv(folder: Path) -> Path:
    """Cells with LF, CRLF and CR inside quotes, in a CRLF file."""
    rows = [
        ["2", "line one\nline two", "x", "1"],
        ["3", "windows\r\nbreak", "y", "2"],
        ["4", "old mac\rbreak", "z", "3"],
        ["5", "plain", "", "4"],
    ]
    path = folder / "quoted-newlines.csv"
    path.write_bytes(_table(",", "\r\n", rows).encode("utf-8"))
    return path


def cr_only_csv(folder: Path) -> Path:
    """Classic Mac line ends (lone CR), one quoted cell holding a CR of its own."""
    rows = [["2", "a", "b", "1"], ["3", "in\rside", "c", "2"], ["4", "d", "e", "3"]]
    path = folder / "cr-only.csv"
    path.write_bytes(_table(",", "\r", rows).encode("utf-8"))
    return path


def typed_xlsx_openpyxl(folder: Path) -> Path:
    """A typed workbook as openpyxl writes it (shared strings), two sheets, an empty row."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Users"
    sheet.append(["Row", "Identify ID", "Signed Up", "Last Seen", "Seats", "Score", "Active", "Zip"])
    sheet.append(
        [2, "U001", dt.date(2024, 1, 31), dt.datetime(2024, 3, 1, 13, 45, 30), 10, 1.5, True, "01234"]
    )
    sheet.append(
        [3, "U002", dt.date(2024, 2, 29), dt.datetime(2024, 3, 2, 0, 0, 1), 20, 2.25, False, "98765"]
    )
    sheet.append([])  # row 4 stays empty: it must still count
    sheet.append([5, "U004", dt.date(2023, 12, 1), dt.datetime(2023, 12, 1, 8, 0), 30, -1.0, True, "00501"])
    other = workbook.create_sheet("Accounts")
    other.append(["Account ID", "Name"])
    other.append(["ACC-1", "Acme"])
    path = folder / "typed-openpyxl.xlsx"
    workbook.save(path)
    return path


def formulas_xlsx(folder: Path) -> Path:
    """Formulas with cached values (xlsxwriter stores the given value as the cell's result)."""
    path = folder / "formulas.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Calc")
    sheet.write_row(0, 0, ["Price", "Qty", "Total", "Label", "Mixed"])
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for row in range(1, 4):
        sheet.write_number(row, 0, row * 1.25)
        sheet.write_number(row, 1, row)
        sheet.write_formula(row, 2, f"=A{row + 1}*B{row + 1}", None, row * 1.25 * row)
        sheet.write_formula(row, 3, f'="item-"&B{row + 1}', None, f"item-{row}")
    sheet.write_string(1, 4, "text")
    sheet.write_datetime(2, 4, dt.datetime(2024, 5, 6), date_format)
    sheet.write_number(3, 4, 7)
    workbook.close()
    return path


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """A small valid workbook (xlsxwriter) as bytes, for the broken and hostile variants."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Sheet1")
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    workbook.close()
    return buffer.getvalue()


def rezip(original: bytes, replace: dict[str, bytes]) -> bytes:
    """Copy a zip, replacing (or adding) some members."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in replace:
                dst.writestr(info.filename, src.read(info.filename))
        for name, data in replace.items():
            dst.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def truncated_xlsx(folder: Path) -> Path:
    data = xlsx_bytes([["a", "b"], [1, 2]])
    path = folder / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def billion_laughs_xlsx(folder: Path) -> Path:
    """Entity expansion in the worksheet XML: ten levels of ten, a few hundred bytes on disk."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE worksheet [' + "".join(levels) + "]>"
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    data = rezip(xlsx_bytes([["a"], [1]]), {"xl/worksheets/sheet1.xml": sheet.encode()})
    path = folder / "billion-laughs.xlsx"
    path.write_bytes(data)
    return path


def ratio_bomb_xlsx(folder: Path, megabytes: int = 20) -> Path:
    """A worksheet of `megabytes` MiB of padding that deflates about 1000:1 (tens of KiB on disk)."""
    head = b'<?xml version="1.0"?><worksheet><sheetData>'
    padding = b" " * (megabytes << 20)
    data = rezip(
        xlsx_bytes([["a"], [1]]), {"xl/worksheets/sheet1.xml": head + padding + b"</sheetData></worksheet>"}
    )
    path = folder / "ratio-bomb.xlsx"
    path.write_bytes(data)
    return path


def _patch_sizes(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size of `member` in its local header and the central directory."""
    patched = bytearray(data)
    name = member.encode()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    local = info.header_offset
    assert patched[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", patched, local + 22, declared)
    central = patched.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", patched, central + 28)[0]
        if patched[central + 46 : central + 46 + name_length] == name:
            struct.pack_into("<I", patched, central + 24, declared)
            return bytes(patched)
        central = patched.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{member} not found in the central directory")


def declared_bomb_xlsx(folder: Path) -> Path:
    """A member that declares 3 GiB uncompressed: refused from the directory, nothing inflated."""
    data = _patch_sizes(xlsx_bytes([["a"], [1]]), "xl/worksheets/sheet1.xml", 3 << 30)
    path = folder / "declared-bomb.xlsx"
    path.write_bytes(data)
    return path


def understated_member_xlsx(folder: Path) -> Path:
    """A member holding more data than it declares (a bomb that lies to size checks)."""
    big_sheet = (
        b'<?xml version="1.0"?><worksheet><sheetData>' + b" " * (1 << 20) + b"</sheetData></worksheet>"
    )
    data = rezip(xlsx_bytes([["a"], [1]]), {"xl/worksheets/sheet1.xml": big_sheet})
    path = folder / "understated.xlsx"
    path.write_bytes(_patch_sizes(data, "xl/worksheets/sheet1.xml", 1000))
    return path


def ods_zip_bytes() -> bytes:
    """The start of an OpenDocument spreadsheet: a zip whose first member is its mimetype."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # legacy .xls / encrypted workbook
