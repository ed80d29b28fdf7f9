"""When to try again and how long to wait: exponential backoff with full jitter, Retry-After honoured.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of many workers
that failed together, so they do not come back as one burst. The RNG is injectable for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class RetryPolicy:
    """At most `max_attempts` tries of one request within `max_total_seconds`; waits capped at `cap`."""

    max_attempts: int = 8
    max_total_seconds: float = 300.0
    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """The jittered wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return self.rng.uniform(0.0, ceiling)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before the next attempt: the server's Retry-After when it gave one, else backoff;
        never more than `cap`."""
        if retry_after is not None and retry_after >= 0:
            return min(self.cap, retry_after)
        return self.backoff(attempt)

    def next_delay(self, attempt: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """The wait before another attempt, or None when attempts or total time are used up."""
        if attempt >= self.max_attempts:
            return None
        wait = self.delay(attempt, retry_after)
        if elapsed + wait > self.max_total_seconds:
            return None
        return wait
