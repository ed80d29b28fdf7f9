"""Hostile workbooks are refused before any spreadsheet parser opens them, with a one-line error, in
bounded memory: XML entity bombs (billion laughs in the worksheet, sharedStrings or workbook part,
external entities), zip bombs (a huge compression ratio, a member lying about its size, absurd
declared sizes, too many members). Every command that reads a file goes through the same check."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from batchgs.io.read import xlsx_safety
from tests.cli.cli_helpers import run_cli
from tests.io.corpus import _patch_sizes, rezip, xlsx_bytes
from tests.security.sec_helpers import error_lines

MiB = 1 << 20
PYTHON_PEAK_BOUND = 64 * MiB  # what a refusal may allocate (Python heap, tracemalloc)
RSS_GROWTH_BOUND = 150 * MiB  # a whole `batchgs validate` process over a benign one
SPREADSHEET_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _laughs(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, levels)
    ]
    return "".join(entities)


def _base() -> bytes:
    return xlsx_bytes([["identifyId", "email"], ["U1", "a@example.com"]])


def laughs_in_shared_strings(folder: Path) -> Path:
    part = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE sst [{_laughs()}]>'
        f'<sst {SPREADSHEET_NS} count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    path = folder / "laughs-sharedstrings.xlsx"
    path.write_bytes(rezip(_base(), {"xl/sharedStrings.xml": part.encode()}))
    return path


def laughs_in_workbook(folder: Path) -> Path:
    with zipfile.ZipFile(_as_file(folder, _base())) as book:
        workbook = book.read("xl/workbook.xml").decode()
    head, rest = workbook.split("?>", 1)
    part = f"{head}?><!DOCTYPE workbook [{_laughs()}]>{rest}".replace("Sheet1", "&lol9;")
    path = folder / "laughs-workbook.xlsx"
    path.write_bytes(rezip(_base(), {"xl/workbook.xml": part.encode()}))
    return path


def laughs_across_a_chunk_boundary(folder: Path) -> Path:
    """The declaration starts 3 bytes before the 1 MiB read boundary of the streaming check."""
    decl = '<?xml version="1.0" encoding="UTF-8"?>'
    padding = " " * (xlsx_safety.CHUNK - len(decl) - 3)
    part = f"{decl}{padding}<!DOCTYPE sst [{_laughs()}]><sst {SPREADSHEET_NS}><si><t>&lol9;</t></si></sst>"
    path = folder / "laughs-boundary.xlsx"
    path.write_bytes(rezip(_base(), {"xl/sharedStrings.xml": part.encode()}))
    return path


def external_entity(folder: Path) -> Path:
    part = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f"<sst {SPREADSHEET_NS}><si><t>&xxe;</t></si></sst>"
    )
    path = folder / "xxe.xlsx"
    path.write_bytes(rezip(_base(), {"xl/sharedStrings.xml": part.encode()}))
    return path


def ratio_bomb(folder: Path, megabytes: int = 64) -> Path:
    """A worksheet of `megabytes` MiB that deflates ~1000:1, written as a stream (flat memory)."""
    path = folder / "ratio-bomb.xlsx"
    with zipfile.ZipFile(_as_file(folder, _base())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, src.read(info))
        target = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        target.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(target, "w") as member:
            member.write(f'<?xml version="1.0"?><worksheet {SPREADSHEET_NS}><sheetData>'.encode())
            block = b" " * MiB
            for _ in range(megabytes):
                member.write(block)
            member.write(b"</sheetData></worksheet>")
    return path


def lying_member(folder: Path) -> Path:
    """A member that declares 1 KB and holds 8 MiB: the size check alone would let it through."""
    sheet = f'<?xml version="1.0"?><worksheet {SPREADSHEET_NS}><sheetData>'.encode() + b" " * (8 * MiB)
    data = rezip(_base(), {"xl/worksheets/sheet1.xml": sheet + b"</sheetData></worksheet>"})
    path = folder / "lying.xlsx"
    path.write_bytes(_patch_sizes(data, "xl/worksheets/sheet1.xml", 1000))
    return path


def absurd_declared_size(folder: Path) -> Path:
    path = folder / "absurd-size.xlsx"
    path.write_bytes(_patch_sizes(_base(), "xl/worksheets/sheet1.xml", 0xFFFF_FFF0))  # ~4 GiB
    return path


def too_many_members(folder: Path) -> Path:
    path = folder / "many.xlsx"
    with zipfile.ZipFile(_as_file(folder, _base())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for i in range(xlsx_safety.MAX_MEMBERS + 1):
            dst.writestr(f"xl/media/x{i}.bin", b"")
    return path


def _as_file(folder: Path, data: bytes) -> Path:
    path = folder / "base.xlsx"
    path.write_bytes(data)
    return path


BOMBS = {
    "laughs-sharedStrings": (laughs_in_shared_strings, "<!DOCTYPE/<!ENTITY"),
    "laughs-workbook": (laughs_in_workbook, "<!DOCTYPE/<!ENTITY"),
    "laughs-chunk-boundary": (laughs_across_a_chunk_boundary, "<!DOCTYPE/<!ENTITY"),
    "external-entity": (external_entity, "<!DOCTYPE/<!ENTITY"),
    "ratio-bomb": (ratio_bomb, "refused as a zip bomb"),
    "lying-member": (lying_member, "more data than its declared size"),
    "absurd-declared-size": (absurd_declared_size, "would expand to more than 2 GiB"),
    "too-many-members": (too_many_members, "refused as a zip bomb"),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_hostile_workbooks_are_refused_in_one_line_and_bounded_memory(name: str, tmp_path: Path) -> None:
    build, expected = BOMBS[name]
    bomb = build(tmp_path)
    assert bomb.stat().st_size < 2 * MiB, "bombs are small on disk"
    tracemalloc.start()
    try:
        result = run_cli(["validate", "users", str(bomb), "--offline", "--run-dir", str(tmp_path / "v")], {})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2, result.output
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and expected in errors[0] and str(bomb) in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert peak < PYTHON_PEAK_BOUND, f"{name}: {peak / MiB:.1f} MiB allocated"
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())


@pytest.mark.parametrize("command", ["import", "optout", "validate"])
def test_every_reading_command_refuses_a_bomb(command: str, tmp_path: Path) -> None:
    bomb = laughs_in_shared_strings(tmp_path)
    args = {
        "import": ["import", "users", str(bomb), "--run-dir", str(tmp_path / "r")],
        "optout": ["optout", str(bomb), "--run-dir", str(tmp_path / "r")],
        "validate": ["validate", "users", str(bomb), "--offline"],
    }[command]
    env = {"GAINSIGHT_PX_API_KEY": "k" * 20, "GAINSIGHT_PX_BASE_URL": "http://127.0.0.1:9"}
    result = run_cli(args, env)
    assert result.exit_code == 2, result.output
    assert len(error_lines(result.stderr)) == 1 and "XML bomb" in result.stderr, result.stderr


_MEASURE = r"""
import resource, sys
from batchgs.cli.main import cli
try:
    cli.main(args=sys.argv[1:])
except SystemExit as done:
    status = done.code
print("PEAK_RSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _peak_rss(path: Path, tmp_path: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, "validate", "users", str(path), "--offline", "-q",
         "--run-dir", str(tmp_path / f"v-{path.stem}")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    line = next(x for x in done.stderr.splitlines() if x.startswith("PEAK_RSS_KIB"))
    return int(line.split()[1]) * 1024, done.stderr


def test_a_whole_process_refusing_bombs_stays_near_a_benign_run(tmp_path: Path) -> None:
    """Peak RSS of `batchgs validate` on a zip bomb (64 MiB in 64 KiB) stays within a generous bound of
    the same command on a small genuine workbook (entity bombs: see the tracemalloc test above)."""
    benign = _as_file(tmp_path, _base())
    baseline, _ = _peak_rss(benign, tmp_path)
    for bomb in (ratio_bomb(tmp_path, 64),):
        peak, stderr = _peak_rss(bomb, tmp_path)
        assert "Error: " in stderr
        assert peak - baseline < RSS_GROWTH_BOUND, (bomb.name, peak / MiB, baseline / MiB)
