"""A clock the sandbox and its tests share, so time-based rules can be tested without sleeping.

Every time-based rule of the emulator (sliding second, rolling day, scroll TTL, 7-day soft-delete
revival, "now" for events) reads this clock; a test moves it forward with `advance()` instead of
waiting.
"""

from __future__ import annotations

import time


class Clock:
    """Monotonic seconds and epoch milliseconds, both shifted by the same test offset."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def monotonic(self) -> float:
        """Seconds for windows and TTLs (never jumps backwards)."""
        return time.monotonic() + self.offset_s

    def epoch_ms(self) -> int:
        """Wall time in epoch milliseconds, as every PX date is."""
        return int((time.time() + self.offset_s) * 1000)

    def advance(self, seconds: float) -> None:
        """Move time forward (tests); the sandbox behaves as if `seconds` had passed."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset_s += seconds
