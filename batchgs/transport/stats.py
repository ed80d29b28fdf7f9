"""The transport's counters, shared by every client of a run (summary.json, progress bar, charts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TransportStats:
    """Counters shared by every client of a run (summary.json, progress bar, charts)."""

    requests: int = 0  # attempts sent, retries and redirect hops included
    responses: Counter[int] = field(default_factory=Counter)
    responses_429: int = 0
    retries: int = 0
    uncertain: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    sent_per_second: Counter[int] = field(default_factory=Counter)  # epoch second -> attempts

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "responses_by_status": {str(k): v for k, v in sorted(self.responses.items())},
            "responses_429": self.responses_429,
            "retries": self.retries,
            "uncertain": self.uncertain,
            "timeouts": self.timeouts,
            "connection_errors": self.connection_errors,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "max_sent_in_a_second": max(self.sent_per_second.values(), default=0),
        }
