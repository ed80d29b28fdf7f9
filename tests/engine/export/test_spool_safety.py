"""A run folder can come from someone else: resuming it must never run code hidden in its page spools."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import pytest

from batchgs.engine.export.spool import Spool
from batchgs.errors import NotResumableError


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_frame_is_refused_as_corrupt_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    spool = Spool.of(tmp_path, "part-0")
    spool.open_at(0)
    size = spool.append([{"identifyId": "u1", "n": 1}])
    spool.close()
    evil = pickle.dumps(_Payload(marker))
    with spool.path.open("ab") as handle:
        handle.write(struct.pack(">I", len(evil)) + evil)
    total = spool.path.stat().st_size
    assert list(spool.frames(size)) == [[{"identifyId": "u1", "n": 1}]]
    with pytest.raises(NotResumableError, match="corrupt"):
        list(spool.frames(total))
    with pytest.raises(NotResumableError, match="corrupt"):
        spool.read_at(size)
    assert not marker.exists()


def test_a_run_folder_of_the_old_spool_format_is_not_resumed(tmp_path: Path) -> None:
    """Plan version 1 spooled flattened JSON rows: this version reads page bytes and Arrow frames, so
    such a run folder is refused with a clear message rather than misread."""
    from batchgs.engine.export.state import PLAN_VERSION, ExportState
    from batchgs.run.journal import Journal

    journal = Journal.create(tmp_path / "run", kind="export", entity="users", input_path=None, options={})
    try:
        journal.set_progress("plan", {"version": 1, "parts": [], "info": {"planned": True}})
        with pytest.raises(NotResumableError, match="older batchgs"):
            ExportState.load(journal)
        journal.set_progress("plan", {"version": PLAN_VERSION, "parts": [], "info": {"planned": True}})
        assert ExportState.load(journal).planned
    finally:
        journal.close()


def test_page_frames_of_an_older_spool_are_skipped_and_cut_frames_refused(tmp_path: Path) -> None:
    """Spools of the previous version hold each answer's bytes (PAGE) before its table: the tables are
    read, the bytes skipped; a spool shorter than the journal says is refused."""
    from batchgs.engine.export.spool import PAGE, TABLE

    spool = Spool.of(tmp_path, "part-0")
    spool.open_at(0)
    spool.append_frames((PAGE, b'{"users":[]}'), (TABLE, b"first"))
    spool.append_frames((PAGE, b'{"users":[1]}'), (TABLE, b"second"))
    size = spool.append([1, 2])
    spool.close()
    assert [data for _, data in spool.raw_frames(size, kinds=(TABLE,))] == [b"first", b"second"]
    assert [read() for _, _, read in spool.placed_frames(size, kinds=(TABLE,))] == [b"first", b"second"]
    assert list(spool.frames(size)) == [[1, 2]]
    with pytest.raises(NotResumableError, match="shorter than recorded"):
        list(spool.raw_frames(size + 10, kinds=(TABLE,)))
