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
