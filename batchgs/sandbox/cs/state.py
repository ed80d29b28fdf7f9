"""The CS emulator's state: credentials, Cockpit data, published events, limits, and the call log.

One `CsState` is shared by the routes (on the server's event loop) and by tests (often on another
thread, when the sandbox runs in a `SandboxThread`), so every read and write holds one lock. Tests
use the helpers at the bottom instead of reaching into the dicts.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from batchgs.sandbox.cs.ctas import (
    CUSTOM_SUFFIX,
    DELETED_FIELD,
    FLAT_FIELDS,
    TRAILING_FIELDS,
    apply_changes,
    flat_view,
    new_cta,
)
from batchgs.sandbox.cs.data import (
    COMPANY_PREFIX,
    CTA_PREFIX,
    CallRecord,
    Company,
    DeletedCta,
    EpochClock,
    Picklist,
    PublishedEvent,
    User,
    WallClock,
    iso_ms,
    make_gsid,
    seed_companies,
    seed_users,
)

MINUTE_MS = 60_000
DAY_MS = 86_400_000
Bucket = Literal["api", "events"]


@dataclass(frozen=True)
class LimitRefusal:
    """Why a call was refused with 429, and how long until its fixed window ends."""

    message: str
    retry_after_s: int


@dataclass
class _Window:
    minute: int = -1
    minute_count: int = 0
    day: int = -1
    day_count: int = 0


@dataclass(eq=False)
class CsState:
    """Everything the CS routes serve. Limits are per bucket: DECIDED, the accesskey APIs ("api") and
    the Events Framework ("events") each get their own fixed 100/minute and 50,000/day windows
    (minute and UTC day boundaries of the clock); 0 means unlimited. Refused calls do not count."""

    access_key: str = field(default="sandbox-cs", repr=False)
    shared_secret: str = field(default="sandbox-secret", repr=False)
    tenant_id: str = "sandbox-tenant"
    per_minute_limit: int = 100
    daily_limit: int = 50_000
    retry_after: bool = True  # send Retry-After (seconds to the end of the window) with 429s
    seed: int = 0
    company_count: int = 20
    user_count: int = 8
    deleted_retention_days: int = 15
    clock: EpochClock = field(default_factory=WallClock, repr=False)
    call_log_limit: int = 100_000  # newest calls kept

    picklist: Picklist = field(init=False, repr=False)
    companies: dict[str, Company] = field(init=False, repr=False)
    users: dict[str, User] = field(init=False, repr=False)
    ctas: dict[str, dict[str, Any]] = field(init=False, repr=False)
    deleted_ctas: dict[str, DeletedCta] = field(init=False, repr=False)
    events: list[PublishedEvent] = field(init=False, repr=False)
    call_log: list[CallRecord] = field(init=False, repr=False)
    counters: Counter[str] = field(init=False, repr=False)
    lock: threading.RLock = field(init=False, repr=False, default_factory=threading.RLock)
    _windows: dict[str, _Window] = field(init=False, repr=False)
    _next_cta: int = field(init=False, repr=False, default=0)
    _next_event: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        for name in ("per_minute_limit", "daily_limit", "company_count", "user_count"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not self.access_key or not self.shared_secret:
            raise ValueError("the CS access key and shared secret must not be empty")
        self.reset()

    # ----- lifecycle --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the seeded start: default picklist, seeded companies/users, nothing else."""
        with self.lock:
            self.picklist = Picklist.build(self.seed)
            self.companies = {c.gsid: c for c in seed_companies(self.seed, self.company_count)}
            self.users = {u.gsid: u for u in seed_users(self.seed, self.user_count)}
            self.ctas = {}
            self.deleted_ctas = {}
            self.events = []
            self.call_log = []
            self.counters = Counter()
            self._windows = {}
            self._next_cta = 0
            self._next_event = 0

    def now_ms(self) -> int:
        return self.clock.epoch_ms()

    # ----- limits and the call log ------------------------------------------------------------------
    def take_call(self, bucket: Bucket) -> LimitRefusal | None:
        """Count one call against the fixed windows, or say why it is refused (and count nothing)."""
        now = self.now_ms()
        minute, day = now // MINUTE_MS, now // DAY_MS
        with self.lock:
            window = self._windows.setdefault(bucket, _Window())
            if window.minute != minute:
                window.minute, window.minute_count = minute, 0
            if window.day != day:
                window.day, window.day_count = day, 0
            if self.daily_limit and window.day_count >= self.daily_limit:
                wait = -(-((day + 1) * DAY_MS - now) // 1000)
                return LimitRefusal(f"Daily request limit exceeded ({self.daily_limit} calls per day)", wait)
            if self.per_minute_limit and window.minute_count >= self.per_minute_limit:
                wait = -(-((minute + 1) * MINUTE_MS - now) // 1000)
                return LimitRefusal(f"Rate limit exceeded ({self.per_minute_limit} calls per minute)", wait)
            window.minute_count += 1
            window.day_count += 1
            return None

    def record_call(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.call_log.append(CallRecord(self.now_ms(), method, path, status))
            if len(self.call_log) > self.call_log_limit:
                del self.call_log[: len(self.call_log) - self.call_log_limit]
            self.counters["requests"] += 1
            self.counters[f"status:{status}"] += 1
            self.counters[f"{method} {path}"] += 1

    # ----- CTAs -------------------------------------------------------------------------------------
    def insert_cta(self, changes: Mapping[str, Any]) -> str:
        """Store a CTA from checked create changes; its Gsid depends only on the seed and the order."""
        with self.lock:
            gsid = make_gsid(CTA_PREFIX, self.seed, "cta", self._next_cta)
            self._next_cta += 1
            self.ctas[gsid] = new_cta(gsid, changes, self.now_ms(), self.picklist)
            self.counters["ctas_created"] += 1
            return gsid

    def update_cta(self, gsid: str, changes: Mapping[str, Any]) -> bool:
        """Apply a partial update; False when no live CTA has that Gsid."""
        with self.lock:
            stored = self.ctas.get(gsid)
            if stored is None:
                return False
            apply_changes(stored, changes, self.now_ms(), self.picklist)
            self.counters["ctas_updated"] += 1
            return True

    def delete_cta(self, gsid: str) -> bool:
        """Move a CTA to the deleted list (tests: there is no delete route in our contract)."""
        with self.lock:
            stored = self.ctas.pop(gsid, None)
            if stored is None:
                return False
            self.deleted_ctas[gsid] = DeletedCta(stored, self.now_ms())
            return True

    def custom_fields(self) -> list[str]:
        """Every `__gc` field any CTA (live or deleted) carries, sorted: the list's extra columns."""
        with self.lock:
            names = {k for r in self.ctas.values() for k in r if k.endswith(CUSTOM_SUFFIX)}
            names |= {k for d in self.deleted_ctas.values() for k in d.record if k.endswith(CUSTOM_SUFFIX)}
            return sorted(names)

    def is_list_field(self, name: str, *, deleted: bool = False) -> bool:
        """Fields the list may select, filter or sort by (any `__gc` name is allowed, null when unset)."""
        return (
            name in FLAT_FIELDS
            or name in TRAILING_FIELDS
            or name.endswith(CUSTOM_SUFFIX)
            or (deleted and name == DELETED_FIELD)
        )

    def flat_ctas(self) -> list[dict[str, Any]]:
        """Every live CTA as a flat list record, in creation order."""
        with self.lock:
            custom = self.custom_fields()
            return [
                flat_view(r, custom, self.picklist, self.companies, self.users) for r in self.ctas.values()
            ]

    def flat_deleted_ctas(self) -> list[dict[str, Any]]:
        """CTAs deleted within the retention window (older ones are purged), with their DeletedDate."""
        with self.lock:
            cutoff = self.now_ms() - self.deleted_retention_days * DAY_MS
            for gsid in [g for g, d in self.deleted_ctas.items() if d.deleted_at_ms < cutoff]:
                del self.deleted_ctas[gsid]
            custom = self.custom_fields()
            flat = []
            for deleted in self.deleted_ctas.values():
                view = flat_view(deleted.record, custom, self.picklist, self.companies, self.users)
                view[DELETED_FIELD] = iso_ms(deleted.deleted_at_ms)
                flat.append(view)
            return flat

    # ----- events -----------------------------------------------------------------------------------
    def add_event(self, event: PublishedEvent) -> None:
        with self.lock:
            self.events.append(event)
            self.counters["events_published"] += 1

    def next_event_id(self) -> str:
        with self.lock:
            self._next_event += 1
            return f"sandbox-event-{self._next_event:08d}"

    # ----- helpers for tests ------------------------------------------------------------------------
    def cta(self, gsid: str) -> dict[str, Any] | None:
        """A copy of one live CTA as stored (ids, not names), or None."""
        with self.lock:
            stored = self.ctas.get(gsid)
            return dict(stored) if stored is not None else None

    def ctas_by_gsid(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {gsid: dict(r) for gsid, r in self.ctas.items()}

    @property
    def created_count(self) -> int:
        with self.lock:
            return self.counters["ctas_created"]

    @property
    def updated_count(self) -> int:
        with self.lock:
            return self.counters["ctas_updated"]

    def published_events(self) -> list[PublishedEvent]:
        with self.lock:
            return list(self.events)

    def calls(self, path: str | None = None) -> list[CallRecord]:
        """The call log, optionally only the calls to one path."""
        with self.lock:
            return [c for c in self.call_log if path is None or c.path == path]

    def company_gsids(self) -> list[str]:
        with self.lock:
            return list(self.companies)

    def user_gsids(self) -> list[str]:
        with self.lock:
            return list(self.users)

    def add_company(self, name: str) -> Company:
        with self.lock:
            company = Company(make_gsid(COMPANY_PREFIX, self.seed, "company", len(self.companies)), name)
            self.companies[company.gsid] = company
            return company

    def set_picklist(self, **groups: Iterable[str]) -> None:
        """Replace some picklist groups by name lists, e.g. `set_picklist(types=("Risk", "Custom"))`."""
        with self.lock:
            current = {g: tuple(i.name for i in self.picklist.group(g)) for g in self.picklist.as_json()}
            unknown = sorted(set(groups) - set(current))
            if unknown:
                raise ValueError(f"unknown picklist group(s): {', '.join(unknown)}")
            current.update({g: tuple(names) for g, names in groups.items()})
            self.picklist = Picklist.build(self.seed, **current)
