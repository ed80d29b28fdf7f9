"""What a compliance opt-out may change, and the one gate every opt-out write passes through.

An opt-out only ever turns things OFF: a v2 preference to `false`, the denylist flag to `true`
(PX then ignores the user's events) and `globalUnsubscribe` to `true` (no more email). The payloads
are built by functions that can only emit those values, and `check_safe_write` refuses, at the send
boundary, any request whose body would turn something back ON or touch anything else — so a bug
elsewhere raises instead of opting someone back in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from batchgs.engine import px_requests as rq
from batchgs.entities.preferences import PREFERENCES
from batchgs.errors import UsageError
from batchgs.io.mapping import normalise

PREFERENCE_NAMES: tuple[str, ...] = tuple(name for name, _text in PREFERENCES)
DENYLIST = "denylist"
UNSUBSCRIBE = "unsubscribe"
_PREF_PATHS = ("/v1/user/preferences", "/v2/user/preferences")
_DENYLIST_PATH = "/v1/users/denylist/"


class UnsafeWriteError(RuntimeError):
    """A request would turn something ON (or change anything but the opt-out fields): never sent."""


@dataclass(frozen=True)
class OptOutOptions:
    """What a run turns off; saved in the journal so a resume does exactly the same."""

    only: tuple[str, ...] = PREFERENCE_NAMES
    denylist: bool = False
    unsubscribe: bool = False
    workers: int = 32
    sheet: str | None = None
    base_url: str | None = None

    def to_journal(self) -> dict[str, Any]:
        data = asdict(self)
        data["only"] = list(self.only)
        return data

    @classmethod
    def from_journal(cls, data: Mapping[str, Any]) -> OptOutOptions:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        values["only"] = tuple(values.get("only") or PREFERENCE_NAMES)
        return cls(**values)

    def describe(self) -> str:
        """`trackUsage, surveys set to false; the denylist flag set` — for prompts and receipts."""
        parts = [f"{', '.join(self.only)} set to false"]
        if self.denylist:
            parts.append("the denylist flag set (PX ignores their events)")
        if self.unsubscribe:
            parts.append("email unsubscribe (globalUnsubscribe) set")
        return "; ".join(parts)

    def requests_per_person(self) -> int:
        """Read before, write, read back: per lever."""
        return 3 * (1 + int(self.denylist) + int(self.unsubscribe))


def parse_only(text: str | None) -> tuple[str, ...]:
    """`"trackusage, Surveys"` → `("trackUsage", "surveys")` in the canonical order; unknown → UsageError."""
    if text is None:
        return PREFERENCE_NAMES
    by_form = {normalise(name): name for name in PREFERENCE_NAMES}
    chosen: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name = by_form.get(normalise(part))
        if name is None:
            guess = difflib.get_close_matches(normalise(part), list(by_form), n=1, cutoff=0.6)
            mean = f" (did you mean {by_form[guess[0]]}?)" if guess else ""
            raise UsageError(
                f"--only: unknown preference {part!r}{mean}",
                hint=f"choose from {', '.join(PREFERENCE_NAMES)}",
            )
        chosen.add(name)
    if not chosen:
        raise UsageError("--only needs at least one preference", hint=f"e.g. --only {PREFERENCE_NAMES[0]}")
    return tuple(name for name in PREFERENCE_NAMES if name in chosen)


@dataclass(frozen=True)
class UserState:
    """What PX says about one user. `prefs[name]` None = unset (PX default: opted in);
    `denied`/`unsubscribed` None = not read (the run does not touch that lever)."""

    prefs: Mapping[str, bool | None] = field(default_factory=dict)
    denied: bool | None = None
    unsubscribed: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"prefs": dict(self.prefs), "denied": self.denied, "unsubscribed": self.unsubscribed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserState:
        prefs = data.get("prefs") or {}
        return cls(
            prefs={n: _bool_or_none(prefs.get(n)) for n in PREFERENCE_NAMES},
            denied=_bool_or_none(data.get("denied")),
            unsubscribed=_bool_or_none(data.get("unsubscribed")),
        )


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_preferences(body: Any) -> dict[str, bool | None]:
    """The six v2 preferences of a GET answer; anything not a boolean counts as unset."""
    data = body if isinstance(body, Mapping) else {}
    return {name: _bool_or_none(data.get(name)) for name in PREFERENCE_NAMES}


@dataclass(frozen=True)
class Changes:
    """What still has to be turned off for one user."""

    prefs: tuple[str, ...] = ()
    denylist: bool = False
    unsubscribe: bool = False

    @property
    def empty(self) -> bool:
        return not (self.prefs or self.denylist or self.unsubscribe)

    def names(self) -> list[str]:
        return [
            *self.prefs,
            *([DENYLIST] if self.denylist else []),
            *([UNSUBSCRIBE] if self.unsubscribe else []),
        ]


def needed(state: UserState, options: OptOutOptions) -> Changes:
    """Levers not yet off. An unset preference counts as on (PX's default is opted in)."""
    return Changes(
        prefs=tuple(n for n in options.only if state.prefs.get(n) is not False),
        denylist=options.denylist and state.denied is not True,
        unsubscribe=options.unsubscribe and state.unsubscribed is not True,
    )


def changed_between(before: UserState, after: UserState, options: OptOutOptions) -> list[str]:
    """Levers that were on before and are off after: what this run changed."""
    was, now = needed(before, options), needed(after, options)
    return [name for name in was.names() if name not in now.names()]


# -- the only payloads an opt-out sends ---------------------------------------------------------
def off_payload(names: Iterable[str]) -> dict[str, bool]:
    """Preferences to turn off. The value is the literal False: this function cannot emit true."""
    return {name: False for name in names if name in PREFERENCE_NAMES}


def preferences_off(identify_id: str, names: Iterable[str]) -> rq.Call:
    return rq.preferences_update(identify_id, off_payload(names))


def denylist_on(identify_id: str) -> rq.Call:
    return rq.denylist_set(identify_id)


def unsubscribe_on(identify_id: str) -> rq.Call:
    return rq.USERS.update(identify_id, {"globalUnsubscribe": True})


def check_safe_write(call: rq.Call) -> None:
    """Raise UnsafeWriteError unless `call` is a read or one of the three opt-out writes with only
    opt-out values: preferences all `false`, `{"denied": true}`, `{"globalUnsubscribe": true}`."""
    body = call.json if isinstance(call.json, Mapping) else {}
    if call.json is not None and not isinstance(call.json, Mapping):
        raise UnsafeWriteError(f"{call.method} {call.path}: an opt-out body must be a JSON object")
    if call.method == "GET":
        if call.json is not None:
            raise UnsafeWriteError(f"GET {call.path} carries a body")
        return
    pref_path = call.path.startswith(_PREF_PATHS)
    if call.method == "POST" and pref_path and set(body) == {"identifyId"}:
        return  # the id-in-body read of a user's preferences
    if call.method != "PUT":
        raise UnsafeWriteError(f"{call.method} {call.path}: an opt-out only reads and PUTs")
    values = {k: v for k, v in body.items() if k != "identifyId"}
    if pref_path:
        unknown = sorted(set(values) - set(PREFERENCE_NAMES))
        if unknown or not values:
            raise UnsafeWriteError(f"PUT {call.path}: not an opt-out body (fields {sorted(values)})")
        turned_on = sorted(k for k, v in values.items() if v is not False)
        if turned_on:
            raise UnsafeWriteError(
                f"PUT {call.path}: refusing to send {', '.join(turned_on)} other than false"
            )
    elif call.path.startswith(_DENYLIST_PATH):
        if body != {"denied": True}:
            raise UnsafeWriteError(f"PUT {call.path}: the denylist flag may only be set to true")
    elif call.path.startswith("/v1/users/"):
        if set(values) != {"globalUnsubscribe"} or values["globalUnsubscribe"] is not True:
            raise UnsafeWriteError(f"PUT {call.path}: only globalUnsubscribe=true may be sent to a user")
    else:
        raise UnsafeWriteError(f"PUT {call.path}: not an opt-out endpoint")
