"""Pages of an export kept in the run folder until the output file is written.

Each part (cursor) appends its pages to its own spool file: frames of `length (4 bytes) + kind (1
byte) + data`. A page is one frame: its records as a flat frame in Arrow IPC (`TABLE`, parsed from the
answer's bytes by batchgs.io.pages while fetching), which the file is written from. (Spools written
before this version also hold each answer's bytes as a `PAGE` frame; they are skipped, unread: keeping
them cost an export as many bytes written and read again as it received, for nothing.)
The journal records the spool's size after every page, so a resumed export truncates a
spool to the last recorded page (dropping a page written just before a crash) and continues the cursor
from there. Small JSON values (the ids of a per-user export) are `JSON` frames.

Why these encodings: a run folder can come from somewhere else, and resuming it must never run code
hidden in it, which unpickling would. JSON and Arrow IPC are data; a frame of another kind, or one
that does not decode, is reported as a corrupt run folder.
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from batchgs import fastjson
from batchgs.errors import NotResumableError
from batchgs.run.folder import FILE_MODE, make_private_dir

SPOOL_DIR = "spool"
_HEADER = struct.Struct(">I")
JSON, PAGE, TABLE = b"J", b"P", b"T"
KINDS = (JSON, PAGE, TABLE)


def spool_dir(run_dir: Path) -> Path:
    return run_dir / SPOOL_DIR


class Spool:
    """The frames of one part: `append_frames` while fetching, `placed_frames` when assembling."""

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
        """Write one JSON frame; returns the spool's new size (to record in the journal)."""
        return self.append_frames((JSON, fastjson.dumps(payload)))

    def append_frames(self, *frames: tuple[bytes, bytes]) -> int:
        """Write (kind, data) frames in one write; returns the spool's new size."""
        if self._file is None:
            self.open_at(self.size)
        assert self._file is not None
        chunks = []
        for kind, data in frames:
            chunks += [_HEADER.pack(len(data) + 1), kind, data]
        blob = b"".join(chunks)
        self._file.write(blob)
        self.size += len(blob)
        return self.size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def frames(self, size: int) -> Iterator[Any]:
        """The JSON frames within the first `size` bytes, decoded one at a time (flat memory)."""
        for _, data in self.raw_frames(size, kinds=(JSON,)):
            yield _json(self.path, data)

    def raw_frames(self, size: int, kinds: tuple[bytes, ...] = KINDS) -> Iterator[tuple[bytes, bytes]]:
        """(kind, data) of every frame of one of `kinds` within the first `size` bytes (the others are
        skipped unread); a frame of an unknown kind or cut short is a corrupt spool."""
        for kind, _, read in self.placed_frames(size, kinds):
            yield kind, read()

    def placed_frames(
        self, size: int, kinds: tuple[bytes, ...] = KINDS
    ) -> Iterator[tuple[bytes, int, Callable[[], bytes]]]:
        """(kind, offset, read) of every frame of one of `kinds` within the first `size` bytes: the
        offset its frame starts at (what `append_frames` returned before it) and `read()` for its data,
        to call before the next frame or not at all (the frame is then skipped unread: a writer that
        has the page in memory, `kept_frames`)."""
        if size == 0:
            return
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below, generator-friendly
        except FileNotFoundError:
            raise NotResumableError(f"{self.path}: a page spool of this run is missing") from None
        with handle:
            start = 0
            while start < size:
                handle.seek(start)
                head = handle.read(_HEADER.size + 1)
                if len(head) < _HEADER.size + 1:
                    raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
                (length,) = _HEADER.unpack_from(head)
                if length < 1:
                    raise NotResumableError(f"{self.path}: page spool is corrupt (an empty frame)")
                kind = _kind(self.path, head[_HEADER.size :])
                end = start + _HEADER.size + length
                if end > size:
                    raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
                if kind in kinds:
                    yield kind, start, functools.partial(self._data, handle, start, length - 1)
                start = end

    def _data(self, handle: IO[bytes], start: int, length: int) -> bytes:
        handle.seek(start + _HEADER.size + 1)
        data = handle.read(length)
        if len(data) < length:
            raise NotResumableError(f"{self.path}: page spool is shorter than recorded")
        return data

    def read_at(self, offset: int) -> Any:
        """The one JSON frame that starts at byte `offset`."""
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
        if _kind(self.path, data[:1]) != JSON:
            raise NotResumableError(f"{self.path}: page spool is corrupt (not a JSON frame)")
        return _json(self.path, data[1:])

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


def _kind(path: Path, kind: bytes) -> bytes:
    if kind not in KINDS:
        raise NotResumableError(f"{path}: page spool is corrupt (a frame of unknown kind)")
    return kind


def _json(path: Path, data: bytes) -> Any:
    try:
        return fastjson.loads(data)
    except ValueError as exc:
        raise NotResumableError(f"{path}: page spool is corrupt ({exc})") from None
