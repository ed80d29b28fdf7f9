"""The sandbox's knobs: keys, limits, faults and seeding, changeable at start and (mostly) at runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# 2026-01-01T00:00:00Z: seeded dates are spread before this instant so a seed always gives the same data.
DEFAULT_SEED_ANCHOR_MS = 1_767_225_600_000
FAULT_STATUSES = (429, 500, 502, 503, 504)

# What `POST /__sandbox/config` and `SandboxThread.configure()` may change while the server runs.
RUNTIME_FIELDS = frozenset(
    {
        "rate_limit",
        "daily_limit",
        "retry_after",
        "duplicate_window_ms",
        "latency_ms",
        "jitter_ms",
        "fail_rate",
        "fail_statuses",
        "ambiguous_rate",
        "drop_rate",
        "drop_after_apply",
        "scroll_ttl_s",
        "seed",
    }
)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes one sandbox. Rates are fractions of requests (0..1), decided by a seeded RNG."""

    api_key: str = "sandbox"
    read_only_keys: tuple[str, ...] = ()
    rate_limit: int = 200  # accepted requests per key in any sliding second; 0 = unlimited
    daily_limit: int = 1_000_000  # accepted requests per key in the rolling 24 hours; 0 = unlimited
    retry_after: bool = True  # send a Retry-After header with 429s
    duplicate_window_ms: int = 0  # >0: an identical GET within this window gets "Duplicate request blocked"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0  # answered with one of fail_statuses BEFORE anything is applied
    fail_statuses: tuple[int, ...] = (429, 500, 503)
    ambiguous_rate: float = 0.0  # applied, then answered 500
    drop_rate: float = 0.0  # connection closed without an answer
    drop_after_apply: bool = False  # whether a dropped request was applied first
    seed: int = 0
    scroll_ttl_s: float = 300.0
    log_limit: int = 200_000  # newest request-log entries kept for /__sandbox/stats
    seed_users: int = 0
    seed_accounts: int = 0
    seed_events: int = 0
    # share of seeded users (and accounts) created in one hour, as after a bulk load: exporters must
    # still cut such a tenant into even slices
    seed_cluster: float = 0.0
    seed_anchor_ms: int = DEFAULT_SEED_ANCHOR_MS
    state_file: str | None = None
    # Gainsight CS (batchgs.sandbox.cs.routes): its own credentials and fixed-window limits
    cs_access_key: str = "sandbox-cs"
    cs_shared_secret: str = "sandbox-secret"
    cs_tenant_id: str = "sandbox-tenant"
    cs_per_minute_limit: int = 100
    cs_daily_limit: int = 50_000

    def __post_init__(self) -> None:
        check_config(self)

    def with_changes(self, **changes: Any) -> SandboxConfig:
        """A copy with `changes` applied; unknown names raise ValueError (a typo must not pass silently)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown sandbox setting(s): {', '.join(unknown)}")
        if "fail_statuses" in changes:
            changes["fail_statuses"] = tuple(int(s) for s in changes["fail_statuses"])
        if "read_only_keys" in changes:
            changes["read_only_keys"] = tuple(changes["read_only_keys"])
        return replace(self, **changes)

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON, keys masked: they are secrets even in a sandbox."""
        data = asdict(self)
        data["api_key"] = "***"
        data["read_only_keys"] = ["***" for _ in self.read_only_keys]
        data["cs_access_key"] = data["cs_shared_secret"] = "***"
        data["fail_statuses"] = list(self.fail_statuses)
        return data


def check_config(config: SandboxConfig) -> None:
    """Refuse settings that cannot mean anything, with a message naming the setting."""
    for name in ("fail_rate", "ambiguous_rate", "drop_rate", "seed_cluster"):
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    if config.fail_rate + config.ambiguous_rate + config.drop_rate > 1.0 + 1e-9:
        raise ValueError("fail_rate + ambiguous_rate + drop_rate must not exceed 1")
    for name in (
        "rate_limit",
        "daily_limit",
        "duplicate_window_ms",
        "latency_ms",
        "jitter_ms",
        "seed_users",
        "seed_accounts",
        "seed_events",
        "log_limit",
        "cs_per_minute_limit",
        "cs_daily_limit",
    ):
        if getattr(config, name) < 0:
            raise ValueError(f"{name} must not be negative")
    if config.scroll_ttl_s <= 0:
        raise ValueError("scroll_ttl_s must be positive")
    bad = [s for s in config.fail_statuses if s not in FAULT_STATUSES]
    if bad or not config.fail_statuses:
        raise ValueError(f"fail_statuses must be a non-empty subset of {FAULT_STATUSES}")
    if not config.api_key:
        raise ValueError("api_key must not be empty")
