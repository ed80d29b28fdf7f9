"""How header and field names are compared: one normal form, and the words a name is made of."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s_\-]+")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def normalise(name: str) -> str:
    """The matching form of a header or field: lower case, without spaces, `_` and `-`."""
    return _SEPARATORS.sub("", name.strip().lower())


def words(name: str) -> list[str]:
    """The lower-case words of a header or a camelCase field: `Event Date UTC-MS` → event, date, utc,
    ms; `location.timeZone` → location, time, zone; `signUpDate` → sign, up, date."""
    return [word.lower() for word in _WORDS.findall(name)]
