"""The CS emulator's plain data: Gsids, the Cockpit picklist, seeded companies and owners, log records.

Everything here is deterministic for a given seed, so a test (or a demo) that names a seeded company
by its Gsid gets the same company on every run.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

GSID_LENGTH = 36  # what real Gainsight Gsids look like: a 4-character object prefix + 32 characters
GSID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USER_PREFIX = "1P01"
COMPANY_PREFIX = "1P02"
PICKLIST_PREFIX = "1I00"
CTA_PREFIX = "1S01"

DEFAULT_TYPES = ("Risk", "Expansion", "Lifecycle", "Renewal", "Event")
DEFAULT_REASONS = ("Churn", "Low Usage", "Upsell", "Onboarding", "Support Escalation", "Other")
DEFAULT_PRIORITIES = ("High", "Medium", "Low")
DEFAULT_STATUSES = ("Open", "Work In Progress", "Closed Success", "Closed Lost")
CLOSED_STATUSES = frozenset({"closed success", "closed lost"})

# DECIDED: what a created CTA gets when the record leaves a picklist field out.
DEFAULT_PICKS = {"types": "Risk", "reasons": "Other", "priorities": "Medium", "statuses": "Open"}

_COMPANY_WORDS = (
    "Acme", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nimbus", "Orchid", "Pioneer", "Quartz", "Ridge", "Summit", "Tidal",
)  # fmt: skip
_COMPANY_KINDS = ("Analytics", "Labs", "Systems", "Logistics", "Health", "Foods", "Energy", "Media")
_FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
)
_LAST_NAMES = ("Novak", "Okafor", "Park", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber")


class EpochClock(Protocol):
    """Anything that tells wall time in epoch milliseconds (the shared sandbox Clock, or a test's)."""

    def epoch_ms(self) -> int: ...


class WallClock:
    """The real time, for a CsState used on its own (the app passes the shared sandbox Clock)."""

    def epoch_ms(self) -> int:
        return time.time_ns() // 1_000_000


def make_gsid(prefix: str, seed: int, kind: str, number: int) -> str:
    """A Gsid-shaped id that only depends on (seed, kind, number): reruns give the same ids."""
    digest = hashlib.sha256(f"{seed}:{kind}:{number}".encode()).digest()
    value = int.from_bytes(digest, "big")
    chars = []
    for _ in range(GSID_LENGTH - len(prefix)):
        value, index = divmod(value, len(GSID_ALPHABET))
        chars.append(GSID_ALPHABET[index])
    return prefix + "".join(chars)


@dataclass(frozen=True)
class PicklistItem:
    id: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Picklist:
    """The Cockpit configuration: four named lists, each item with a Gsid and a display name."""

    types: tuple[PicklistItem, ...]
    reasons: tuple[PicklistItem, ...]
    priorities: tuple[PicklistItem, ...]
    statuses: tuple[PicklistItem, ...]

    @classmethod
    def build(
        cls,
        seed: int,
        types: tuple[str, ...] = DEFAULT_TYPES,
        reasons: tuple[str, ...] = DEFAULT_REASONS,
        priorities: tuple[str, ...] = DEFAULT_PRIORITIES,
        statuses: tuple[str, ...] = DEFAULT_STATUSES,
    ) -> Picklist:
        def items(kind: str, names: tuple[str, ...]) -> tuple[PicklistItem, ...]:
            return tuple(
                PicklistItem(make_gsid(PICKLIST_PREFIX, seed, kind, n), name) for n, name in enumerate(names)
            )

        return cls(
            items("types", types),
            items("reasons", reasons),
            items("priorities", priorities),
            items("statuses", statuses),
        )

    def group(self, name: str) -> tuple[PicklistItem, ...]:
        """One list by its response key: "types", "reasons", "priorities" or "statuses"."""
        groups: dict[str, tuple[PicklistItem, ...]] = {
            "types": self.types,
            "reasons": self.reasons,
            "priorities": self.priorities,
            "statuses": self.statuses,
        }
        return groups[name]

    def find_by_name(self, group: str, name: str) -> PicklistItem | None:
        """DECIDED: names match exactly but ignoring case ("open" finds "Open"; " Open" does not)."""
        wanted = name.casefold()
        return next((item for item in self.group(group) if item.name.casefold() == wanted), None)

    def name_of(self, item_id: str | None) -> str | None:
        if item_id is None:
            return None
        for group in ("types", "reasons", "priorities", "statuses"):
            for item in self.group(group):
                if item.id == item_id:
                    return item.name
        return None

    def as_json(self) -> dict[str, list[dict[str, str]]]:
        return {
            group: [item.as_json() for item in self.group(group)]
            for group in ("types", "reasons", "priorities", "statuses")
        }


@dataclass(frozen=True)
class Company:
    gsid: str
    name: str


@dataclass(frozen=True)
class User:
    gsid: str
    name: str
    email: str


def seed_companies(seed: int, count: int) -> list[Company]:
    """`count` companies with distinct names such as "Cedar Labs", the same for the same seed."""
    rng = random.Random(seed)
    combos = [f"{word} {kind}" for word in _COMPANY_WORDS for kind in _COMPANY_KINDS]
    rng.shuffle(combos)
    names = [
        combos[n % len(combos)] + ("" if n < len(combos) else f" {n // len(combos) + 1}")
        for n in range(count)
    ]
    return [Company(make_gsid(COMPANY_PREFIX, seed, "company", n), name) for n, name in enumerate(names)]


def seed_users(seed: int, count: int) -> list[User]:
    """`count` CS users (CTA owners) with distinct names and emails, the same for the same seed."""
    rng = random.Random(seed + 1)
    combos = [(first, last) for first in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(combos)
    users = []
    for n in range(count):
        first, last = combos[n % len(combos)]
        suffix = "" if n < len(combos) else str(n // len(combos) + 1)
        email = f"{first}.{last}{suffix}@sandbox.example".lower()
        users.append(User(make_gsid(USER_PREFIX, seed, "user", n), f"{first} {last}{suffix}", email))
    return users


@dataclass(frozen=True)
class CallRecord:
    """One request as the emulator saw it, for tests that check pacing and outcomes."""

    at_ms: int
    method: str
    path: str
    status: int


@dataclass
class PublishedEvent:
    """One accepted Events Framework event. The shared secret is never kept: only that it matched."""

    event_id: str
    received_at_ms: int
    topic_name: str
    event_name: str
    event_version: str
    tenant_id: str
    contract_id: str | None
    body: dict[str, Any]
    secret_matched: bool = True
    headers: dict[str, str] = field(default_factory=dict)  # every other header, secret removed


@dataclass
class DeletedCta:
    record: dict[str, Any]
    deleted_at_ms: int


def iso_ms(epoch_ms: int) -> str:
    """2026-01-01T00:00:00.000Z — how CreatedDate / ModifiedDate are written."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def day_of(epoch_ms: int) -> str:
    """The UTC calendar day (YYYY-MM-DD) of an instant — how ClosedDate is written."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).date().isoformat()


def parse_due_date(value: str) -> date | None:
    """A strict YYYY-MM-DD date, or None when `value` is anything else (GSOBJ_1005)."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
