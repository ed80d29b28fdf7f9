"""The known entities by CLI name: `get("users")`, `names()`, `all_specs()`."""

from __future__ import annotations

import difflib

from batchgs.entities import accounts, cs_events, ctas, events, preferences, users
from batchgs.entities.spec import EntitySpec
from batchgs.errors import UsageError

_SPECS: dict[str, EntitySpec] = {
    module.SPEC.name: module.SPEC for module in (users, accounts, events, preferences, ctas, cs_events)
}


def names() -> list[str]:
    return list(_SPECS)


def all_specs() -> list[EntitySpec]:
    return list(_SPECS.values())


def get(name: str) -> EntitySpec:
    """The spec named `name` (case-insensitive, `cs_events` works), else a UsageError with a suggestion."""
    wanted = name.strip().lower().replace("_", "-")
    if wanted in _SPECS:
        return _SPECS[wanted]
    close = difflib.get_close_matches(wanted, list(_SPECS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UsageError(
        f"unknown entity {name!r}",
        hint=f"{hint}known entities: {', '.join(_SPECS)}",
    )
