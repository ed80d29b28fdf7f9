"""A tqdm progress bar on stderr (rows done, rows/s, requests/s, errors, ETA), only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, *, enabled: bool, stats: Any = None, unit: str = "row") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.stats = stats
        self.errors = 0
        self.started = time.monotonic()
        self.bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=not self.enabled)

    def advance(self, outcomes: list[Any]) -> None:
        self.errors += sum(1 for o in outcomes if getattr(o, "status", "succeeded") != "succeeded")
        self.bar.update(len(outcomes))
        if self.enabled:
            postfix: dict[str, object] = {"errors": self.errors}
            if self.stats is not None:
                elapsed = max(1e-6, time.monotonic() - self.started)
                postfix["req/s"] = f"{self.stats.requests / elapsed:.0f}"
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()
