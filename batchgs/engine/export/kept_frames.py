"""Page frames kept in memory after they are spooled, so the writer takes them instead of decoding the
spool again.

Every page is spooled as Arrow IPC (the resume needs it), and the writer used to read each one back:
decoding a 1,000-user page cost ~0.5 ms, a tenth of its parse, for a frame that was still in memory
when it was spooled. The writer takes a kept frame once (it is then dropped) and reads the spool for
any other. A budget bounds the memory: past it, pages are spooled only, as before (a part far ahead
of the writer, a file written at the end).

Frames are keyed by spool file and offset, the place the writer reads them from: the same bytes, so the
same rows. A spool rewritten from its start (a part paged again) forgets its frames first.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# ~75 pages of 1,000 users (their Arrow IPC sizes): more than a writer's batch (50,000 rows). A
# 300,000-user Parquet export at 150 ms a request took 185 of its 300 pages from memory for ~25 MiB more
# peak RSS; 64 MiB took all 300 for ~48 MiB more, no CPU difference that runs could tell apart.
KEPT_BYTES = 32 << 20


class KeptFrames:
    """Frames by (spool, offset), at most `budget` bytes of them (their spooled sizes)."""

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self.budget = budget
        self.kept_bytes = 0
        self.taken = 0  # frames the writer took from memory (tests, benchmarks)
        self._frames: dict[tuple[Path, int], tuple[pl.DataFrame, int]] = {}
        self._lock = threading.Lock()

    def keep(self, spool: Path, offset: int, frame: pl.DataFrame, size: int) -> None:
        """Keep the frame spooled at `offset` of `spool` (`size`: its bytes there), if it fits."""
        with self._lock:
            if self.kept_bytes + size > self.budget:
                return
            old = self._frames.pop((spool, offset), None)
            if old is not None:
                self.kept_bytes -= old[1]
            self._frames[(spool, offset)] = (frame, size)
            self.kept_bytes += size

    def take(self, spool: Path, offset: int) -> pl.DataFrame | None:
        """The frame kept for that place (no longer kept), or None: read the spool."""
        with self._lock:
            found = self._frames.pop((spool, offset), None)
            if found is None:
                return None
            self.kept_bytes -= found[1]
            self.taken += 1
            return found[0]

    def forget(self, spool: Path) -> None:
        """Drop the frames of `spool` (written again from its start)."""
        with self._lock:
            for key in [k for k in self._frames if k[0] == spool]:
                self.kept_bytes -= self._frames.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self.kept_bytes = 0
