"""The PX data, in memory: plain dicts that handlers, seeders and tests read and write directly.

Tests may reach in (`store.users["u1"]["email"]`); the HTTP handlers are just one way to change it.
Soft-deleted records move to `deleted_users` / `deleted_accounts` so that a re-create within 7 days
revives them (gainsight-api.md §1.3).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs.sandbox.px.model import (
    CUSTOM_ACCOUNT_ATTRIBUTES,
    CUSTOM_USER_ATTRIBUTES,
    DEFAULT_ACCOUNT_ATTRIBUTES,
    DEFAULT_USER_ATTRIBUTES,
    AttributeDef,
)
from batchgs.sandbox.table import Table

Record = dict[str, Any]
SOFT_DELETE_REVIVAL_MS = 7 * 24 * 3600 * 1000
PREFERENCES_V1 = ("trackUsage", "productUpdates", "guidedTours", "surveys", "onboardingBot")
PREFERENCES_V2 = (*PREFERENCES_V1, "trackEmailAnalytics")
# The `/v1/events/<kind>` histories besides custom events, plus survey responses, keyed by kind.
HISTORY_KINDS = (
    "pageView",
    "email",
    "engagementView",
    "formSubmit",
    "lead",
    "feature_match",
    "segment_match",
    "identify",
    "session",
    "survey",
)
STATE_FORMAT = 1


@dataclass
class Deleted:
    """A soft-deleted record and when it was deleted (epoch ms)."""

    record: Record
    deleted_at_ms: int


@dataclass
class PxStore:
    """All PX data of one sandbox. Keys are case-sensitive ids."""

    users: Table = field(default_factory=Table)
    accounts: Table = field(default_factory=Table)
    deleted_users: dict[str, Deleted] = field(default_factory=dict)
    deleted_accounts: dict[str, Deleted] = field(default_factory=dict)
    denylist: set[str] = field(default_factory=set)
    preferences: dict[str, dict[str, bool]] = field(default_factory=dict)  # only users who changed any
    custom_events: list[Record] = field(default_factory=list)
    event_names: set[str] = field(default_factory=set)
    history: dict[str, list[Record]] = field(default_factory=lambda: {k: [] for k in HISTORY_KINDS})
    engagements: list[Record] = field(default_factory=list)
    features: list[Record] = field(default_factory=list)
    segments: list[Record] = field(default_factory=list)
    user_attributes: list[AttributeDef] = field(
        default_factory=lambda: [*DEFAULT_USER_ATTRIBUTES, *CUSTOM_USER_ATTRIBUTES]
    )
    account_attributes: list[AttributeDef] = field(
        default_factory=lambda: [*DEFAULT_ACCOUNT_ATTRIBUTES, *CUSTOM_ACCOUNT_ATTRIBUTES]
    )

    def __post_init__(self) -> None:
        # a plain dict handed in (tests, older callers) becomes a Table, so the index sees its changes
        if not isinstance(self.users, Table):
            self.users = Table(self.users)
        if not isinstance(self.accounts, Table):
            self.accounts = Table(self.accounts)

    # ---- attribute metadata -------------------------------------------------------------------
    def attributes(self, model: str) -> list[AttributeDef]:
        """`model` is "user" or "account"."""
        return self.user_attributes if model == "user" else self.account_attributes

    def custom_attribute(self, model: str, api_name: str) -> AttributeDef | None:
        for attr in self.attributes(model):
            if attr.origin == "CUSTOM" and attr.api_name == api_name:
                return attr
        return None

    # ---- preferences ----------------------------------------------------------------------------
    def preferences_of(self, identify_id: str) -> dict[str, bool]:
        """All six preferences, opted-in (true) unless changed."""
        current = dict.fromkeys(PREFERENCES_V2, True)
        current.update(self.preferences.get(identify_id, {}))
        return current

    # ---- deletes and revival --------------------------------------------------------------------
    def delete_user(self, identify_id: str, *, hard: bool, now_ms: int) -> bool:
        """Soft delete (revivable for 7 days) or hard delete. False when no such user exists."""
        record = self.users.pop(identify_id, None)
        if record is None:
            if hard and self.deleted_users.pop(identify_id, None) is not None:
                self._forget_user(identify_id)
                return True
            return False
        if hard:
            self.deleted_users.pop(identify_id, None)
            self._forget_user(identify_id)
        else:
            self.deleted_users[identify_id] = Deleted(record, now_ms)
        return True

    def delete_account(self, account_id: str, *, hard: bool, now_ms: int) -> bool:
        """Delete an account and ALL of its users (gainsight-api.md §1.4)."""
        record = self.accounts.pop(account_id, None)
        if record is None:
            return hard and self.deleted_accounts.pop(account_id, None) is not None
        for identify_id in [uid for uid, u in self.users.items() if u.get("accountId") == account_id]:
            self.delete_user(identify_id, hard=hard, now_ms=now_ms)
        if hard:
            self.deleted_accounts.pop(account_id, None)
        else:
            self.deleted_accounts[account_id] = Deleted(record, now_ms)
        return True

    def take_revivable(self, kind: str, key: str, now_ms: int) -> Record | None:
        """Pop a soft-deleted user/account deleted less than 7 days ago (older ones are purged)."""
        deleted = self.deleted_users if kind == "users" else self.deleted_accounts
        gone = deleted.pop(key, None)
        if gone is None:
            return None
        if now_ms - gone.deleted_at_ms <= SOFT_DELETE_REVIVAL_MS:
            return gone.record
        if kind == "users":
            self._forget_user(key)
        return None

    def _forget_user(self, identify_id: str) -> None:
        self.preferences.pop(identify_id, None)
        self.denylist.discard(identify_id)

    def counts(self) -> dict[str, int]:
        """Sizes, for `/__sandbox/counts` and quick test assertions."""
        out = {
            "users": len(self.users),
            "accounts": len(self.accounts),
            "deleted_users": len(self.deleted_users),
            "deleted_accounts": len(self.deleted_accounts),
            "denylist": len(self.denylist),
            "custom_events": len(self.custom_events),
            "engagements": len(self.engagements),
            "features": len(self.features),
            "segments": len(self.segments),
        }
        out.update({f"history.{k}": len(v) for k, v in self.history.items()})
        return out

    # ---- persistence ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "users": self.users,
            "accounts": self.accounts,
            "deleted_users": {k: [d.record, d.deleted_at_ms] for k, d in self.deleted_users.items()},
            "deleted_accounts": {k: [d.record, d.deleted_at_ms] for k, d in self.deleted_accounts.items()},
            "denylist": sorted(self.denylist),
            "preferences": self.preferences,
            "custom_events": self.custom_events,
            "event_names": sorted(self.event_names),
            "history": self.history,
            "engagements": self.engagements,
            "features": self.features,
            "segments": self.segments,
            "user_attributes": [a.as_json("user") for a in self.user_attributes],
            "account_attributes": [a.as_json("account") for a in self.account_attributes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PxStore:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported sandbox state format {data.get('format')!r}")
        history: dict[str, list[Record]] = {k: [] for k in HISTORY_KINDS}
        history.update(data.get("history", {}))
        return cls(
            users=Table(data["users"]),
            accounts=Table(data["accounts"]),
            deleted_users={k: Deleted(v[0], v[1]) for k, v in data.get("deleted_users", {}).items()},
            deleted_accounts={k: Deleted(v[0], v[1]) for k, v in data.get("deleted_accounts", {}).items()},
            denylist=set(data.get("denylist", [])),
            preferences=data.get("preferences", {}),
            custom_events=data.get("custom_events", []),
            event_names=set(data.get("event_names", [])),
            history=history,
            engagements=data.get("engagements", []),
            features=data.get("features", []),
            segments=data.get("segments", []),
            user_attributes=[AttributeDef.from_json(a) for a in data["user_attributes"]],
            account_attributes=[AttributeDef.from_json(a) for a in data["account_attributes"]],
        )

    def save(self, path: str | Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a state file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-state-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_json(), fh, separators=(",", ":"))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> PxStore:
        """Read a state file; any malformation is a ValueError naming what is wrong."""
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a sandbox state file ({type(exc).__name__}: {exc})") from None
