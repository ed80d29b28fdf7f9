"""The frozen result of `quota()` (batchgs.api) and `batchgs quota`: every key's requests in the rolling
24 hours and the jobs sharing it now. Its own module so that `batchgs quota` loads only these classes
(batchgs.api_reads fills them); re-exported by batchgs.api and batchgs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class QuotaJob:
    """One job running on a key now (any process of this machine, or of any machine with a coordinator)."""

    host: str
    pid: int
    run: str  # its run folder (or command); "" when it named none
    share: int  # requests per window its limiter may grant now
    wants: int  # what it would use alone (its --rate)


@dataclass(frozen=True)
class QuotaKey:
    """Requests of one API key (by fingerprint, never in clear) in the rolling 24 hours, and the jobs
    sharing it now. A count is None when it is not known (a key seen only on the share board)."""

    api: str
    key_fingerprint: str
    base_url: str
    current_key: bool
    used: int | None
    left: int | None
    daily_limit: int | None
    next_free_at: str | None  # local time when the oldest counted request stops counting
    key_rate: int | None  # requests per window the jobs on this key share
    window_s: float | None
    jobs: tuple[QuotaJob, ...]


@dataclass(frozen=True)
class QuotaResult:
    """`quota()`: every key this machine (or, with a coordinator, any machine) used lately.
    `source` is where the figures come from: the state folder, or the coordinator (no password)."""

    state_dir: Path
    source: str
    keys: tuple[QuotaKey, ...]

    def to_json(self) -> dict[str, Any]:
        """What `batchgs quota --json` prints."""
        keys = [{**asdict(key), "jobs": [asdict(job) for job in key.jobs]} for key in self.keys]
        return {"state_dir": str(self.state_dir), "source": self.source, "keys": keys}
