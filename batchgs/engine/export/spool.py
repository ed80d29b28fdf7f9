"""Pages of an export kept in the run folder until the output file is written.

Each part (cursor) appends its pages to its own spool file: frames of `length (4 bytes) + JSON`.
The journal records the spool's size after every page, so a resumed export truncates a spool to
the last recorded page (dropping a page written just before a crash) and continues the cursor from
there; the output is assembled from the spools, in part order, only when every part is done.

Why JSON (orjson): a run folder can come from somewhere else, and resuming it must never run code
hidden in it, which unpickling would. orjson encodes + decodes a 1,000-record page in a few ms, close
to pickle; a spool that does not decode is reported as a corrupt run folder.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from batchgs import fastjson
from batchgs.errors import NotResumableError
from batchgs.run.folder import FILE_MODE, make_private_dir

SPOOL_DIR = "spool"
_HEADER = struct.Struct(">I")


def spool_dir(run_dir: Path) -> Path:
    return run_dir / SPOOL_DIR


class Spool:
    """The frames of one part: `append` while fetching, `frames` when assembling."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self.size = 0

    @classmethod
    def of(cls, run_dir: Path, name: str) -> Spool:
        folder = spool_dir(run_dir)
        make_private_dir(folder)
        return cls(folder / f"{name}.bin")

    def open_at(self, size: int) -> None:
        """Open for appending after the first `size` bytes (the recorded ones); later bytes go."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            os.ftruncate(fd, size)
            os.lseek(fd, size, os.SEEK_SET)
            self._file = os.fdopen(fd, "r+b", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        self.size = size

    def append(self, payload: Any) -> int:
        """Write one frame; returns the spool's new size (to record in the journal)."""
        if self._file is None:
            self.open_at(self.size)
        assert self._file is not None
        data = fastjson.dumps(payload)
        self._file.write(_HEADER.pack(len(data)) + data)
        self.size += _HEADER.size + len(data)
        return self.size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def frames(self, size: int) -> Iterator[Any]:
        """The frames within the first `size` bytes, decoded one at a time (flat memory)."""
        if size == 0:
            return
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below, generator-friendly
        except FileNotFoundError:
            raise NotResumableError(f"{self.path}: a page spool of this run is missing") from None
        with handle:
            read = 0
            while read < size:
                head = handle.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
                (length,) = _HEADER.unpack(head)
                data = handle.read(length)
                if len(data) < length:
                    raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
                read += _HEADER.size + length
                try:
                    yield fastjson.loads(data)
                except Exception as exc:
                    raise NotResumableError(f"{self.path}: page spool is corrupt ({exc})") from None

    def read_at(self, offset: int) -> Any:
        """The one frame that starts at byte `offset`."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                head = handle.read(_HEADER.size)
                (length,) = _HEADER.unpack(head)
                data = handle.read(length)
        except (OSError, struct.error) as exc:
            raise NotResumableError(f"{self.path}: cannot read the spool ({exc})") from None
        if len(data) < length:
            raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
        try:
            return fastjson.loads(data)
        except ValueError as exc:
            raise NotResumableError(f"{self.path}: page spool is corrupt ({exc})") from None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def remove_spools(run_dir: Path) -> None:
    folder = spool_dir(run_dir)
    if not folder.is_dir():
        return
    for item in folder.glob("*.bin"):
        item.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()
