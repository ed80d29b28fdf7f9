"""Helpers for the security tests: distinctive secrets, a whole-tree grep that also looks inside zip
files (xlsx), and an isolated environment whose every per-user folder lies under the test's tmp_path."""

from __future__ import annotations

import base64
import csv
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

import openpyxl

# Keys with characters that URL-encoding changes (`+`, `/`, `=`), so each form is a distinct needle.
PX_KEY = "bgs+PXcanary/7f3c9e1d=a8b2-LEAK"
PX_READONLY_KEY = "bgs+ROcanary/5e6d7c8b=0a1b-LEAK"
PROFILE_KEY = "bgs+PROFILEcanary/93ab17cd=ee01-LEAK"
CS_ACCESS_KEY = "bgs+CSaccess/4d2c1b0a=f9e8-LEAK"
CS_SHARED_SECRET = "bgs+CSshared/6a5b4c3d=2e1f-LEAK"


def forms(secret: str) -> dict[str, bytes]:
    """Every shape in which a leaked key could sit in a file or an output."""
    raw = secret.encode()
    core = secret.split("/", 1)[1].split("=", 1)[0]  # the random middle: catches a partial leak
    return {
        "plain": raw,
        "url-encoded": quote(secret, safe="").encode(),
        "url-encoded (lower)": quote(secret, safe="").lower().encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64-url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "utf-16": secret.encode("utf-16-le"),
        "core": core.encode(),
    }


def _blobs(path: Path) -> Iterable[tuple[str, bytes]]:
    data = path.read_bytes()
    yield str(path), data
    if data[:2] == b"PK":  # xlsx and other zips: their XML is compressed, look inside
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    yield f"{path}!{info.filename}", archive.read(info)
        except zipfile.BadZipFile:
            pass


def find_secrets(roots: Sequence[Path], secrets: Sequence[str], texts: Sequence[str] = ()) -> list[str]:
    """Where any form of any secret appears: every file under `roots` (zip members included) and
    every text in `texts` (captured output). An empty list means no trace."""
    needles = [(s, name, needle) for s in secrets for name, needle in forms(s).items()]
    hits: list[str] = []
    blobs: list[tuple[str, bytes]] = [(f"output #{i}", t.encode()) for i, t in enumerate(texts)]
    seen_files = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                seen_files += 1
                blobs.extend(_blobs(path))
    for where, data in blobs:
        for secret, form, needle in needles:
            if needle in data:
                hits.append(f"{secret[:12]}… ({form}) in {where}")
    assert seen_files or texts, "nothing was searched"
    return hits


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """HOME and the XDG folders inside `home`, so anything batchgs writes per user is searchable."""
    for sub in ("config", "state", "cache", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "PYTHONWARNINGS": "default",  # ResourceWarnings and the like print object reprs: show them
        "TMPDIR": str(home / "tmp"),
    }
    (home / "tmp").mkdir(exist_ok=True)
    env.update(extra)
    return env


def run_process(
    args: Sequence[str], env: dict[str, str], cwd: Path, *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`python -m batchgs ARGS` as a real process with exactly the batchgs variables of `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_", "XDG_"))}
    return subprocess.run(
        [sys.executable, "-m", "batchgs", *args],
        env={**base, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def modes(root: Path) -> dict[str, tuple[str, int]]:
    """relative path → (kind, permission bits) of everything under `root`, root included."""
    found = {".": ("dir", stat.S_IMODE(root.stat().st_mode))}
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(dirpath) / name
            kind = "dir" if path.is_dir() else "file"
            found[str(path.relative_to(root))] = (kind, stat.S_IMODE(path.lstat().st_mode))
    return found


def write_table(path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    """A CSV, or an .xlsx when the suffix says so."""
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(headers))
        for row in rows:
            sheet.append(list(row))
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text as typed, not a formula (openpyxl's default)
        book.save(path)
        return path
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


def run_here(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The same command in this process (click's runner, output captured): fast for the commands
    where a real process adds nothing but start-up time."""
    from tests.cli.cli_helpers import run_cli

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = run_cli(args, env)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)
