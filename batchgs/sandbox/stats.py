"""What the sandbox saw, for tests and benchmarks (never for the client): counts, a request log and the
busiest sliding second of arrivals and of accepted requests.

Both maxima are computed online from times taken in event-loop order, so they are exact: the max over
every window (t - 1, t] of the number of arrivals (or acceptances) in it.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any


class _WindowMax:
    """Largest number of events seen in any half-open one-second window."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self.max = 0

    def add(self, now: float) -> None:
        times = self._times
        times.append(now)
        while times[0] <= now - 1.0:
            times.popleft()
        if len(times) > self.max:
            self.max = len(times)


class Stats:
    """Counters since start or since the last reset. Times are monotonic seconds since `origin`."""

    def __init__(self, origin: float, log_limit: int) -> None:
        self.origin = origin
        self.total = 0
        self.arrived = 0  # more than `total` while requests are being served
        self.by_status: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.by_route: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.responses_429 = 0
        self.dropped = 0
        self.log: deque[tuple[float, str, str, int | None]] = deque(maxlen=log_limit or None)
        self._arrivals = _WindowMax()
        self._accepted = _WindowMax()

    def arrival(self, now: float) -> None:
        self.arrived += 1
        self._arrivals.add(now)

    def accepted(self, now: float) -> None:
        """Call when a request is let through the limits (PX: at admission; others: when answered)."""
        self._accepted.add(now)

    def finish(self, arrived: float, method: str, path: str, route: str, status: int | None) -> None:
        """Record one answered (or dropped: `status=None`) request."""
        self.total += 1
        self.by_status["dropped" if status is None else str(status)] += 1
        self.by_path[route] += 1
        self.by_route[f"{method} {route}"] += 1
        if status == 429:
            self.responses_429 += 1
        if status is None:
            self.dropped += 1
        self.log.append((round(arrived - self.origin, 6), method, path, status))

    def snapshot(self, *, include_log: bool = True, now: float | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "requests_total": self.total,
            "requests_arrived": self.arrived,
            "by_status": dict(self.by_status),
            "by_path": dict(self.by_path),
            "by_route": dict(self.by_route),
            "responses_429": self.responses_429,
            "dropped": self.dropped,
            "faults": dict(self.faults),
            "max_arrivals_per_second": self._arrivals.max,
            "max_accepted_per_second": self._accepted.max,
        }
        if now is not None:
            data["uptime_s"] = round(now - self.origin, 3)
        if include_log:
            data["log"] = [list(entry) for entry in self.log]
        return data
