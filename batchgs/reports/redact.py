"""`--redact`: keep emails and names out of errors.csv and success.csv.

What is replaced, exactly:

* Every non-empty cell of a *name-like* column. A header is name-like when, lower-cased with spaces,
  `_`, `-` removed and only its last dotted part kept (so `custom.firstName` → `firstname`), it is one
  of: email, emailaddress, firstname, lastname, middlename, name, fullname, displayname, username —
  or it ends with `email` (`workEmail`, `customAttributes.secondaryEmail`). Accounts' `name` counts
  too: a company name may name a person.
* In every other cell — identifyId, the record key, `_message` included — each substring that looks
  like an email address.
* In `_message`, also every occurrence of the row's own name-like values (3 characters or more): a
  server may quote a value back in a shape no email pattern recognises (`'bad(mail)@x.com'`).

The replacement is `sha256:` + the first 12 hex digits of SHA-256 of the trimmed, lower-cased value.
The same person gives the same token in every file and run, so rows can still be matched across
reports; it is pseudonymisation, not anonymisation (a known address can be hashed and compared).
Names written inside free-text messages are not detected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

NAME_LIKE = frozenset(
    {
        "email",
        "emailaddress",
        "firstname",
        "lastname",
        "middlename",
        "name",
        "fullname",
        "displayname",
        "username",
    }
)
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def pseudonym(value: str) -> str:
    """`sha256:<12 hex>` of the trimmed, lower-cased value."""
    return "sha256:" + hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()[:12]


def is_name_like(header: str) -> bool:
    last = header.rsplit(".", 1)[-1]
    normalised = re.sub(r"[\s_\-]+", "", last).lower()
    return normalised in NAME_LIKE or normalised.endswith("email")


def name_like_columns(headers: Iterable[str]) -> frozenset[str]:
    return frozenset(h for h in headers if is_name_like(h))


def redact_text(text: str) -> str:
    """Replace every email-looking substring of `text` with its pseudonym."""
    if "@" not in text:
        return text
    return EMAIL_PATTERN.sub(lambda m: pseudonym(m.group(0)), text)


def redact_message(message: str, values: Iterable[str]) -> str:
    """`message` with each of `values` (the row's name-like cells) and every email replaced."""
    for value in sorted({v.strip() for v in values if len(v.strip()) >= 3}, key=len, reverse=True):
        if value in message:
            message = message.replace(value, pseudonym(value))
    return redact_text(message)


def redact_cell(header: str | None, value: str, name_like: frozenset[str]) -> str:
    if not value:
        return value
    if header is not None and header in name_like:
        return pseudonym(value)
    return redact_text(value)
