"""The one definition of a valid email address, shared by `validate` and the sandbox.

gainsight-api.md names only the API's answer to a bad address (400, `must be a well-formed email
address`) and not the rule behind it. DECIDED for batchgs: an address is well formed when it has the
shape mail systems deliver on the public internet (RFC 5321/5322 with RFC 6531 internationalised
addresses, as Jakarta Bean Validation's @Email accepts them), and a domain is required to have a dot:

- local part (before the last `@`): 1-64 characters, dot-separated atoms of letters, digits,
  ``!#$%&'*+/=?^_`{|}~-`` and any non-ASCII character (`Łukasz.smith3`, `josé+news`), or quoted
  strings (`"john smith"`); no leading, trailing or doubled dot outside quotes;
- domain: two or more dot-separated labels of letters, digits, hyphens and non-ASCII characters,
  none starting or ending with a hyphen, none empty (so no trailing dot); an internationalised
  domain (`bücher.example`) must encode with IDNA and each label stay within 63 characters;
  the domain, encoded, at most 253 characters;
- the whole address at most 254 characters.

The sandbox calls `email_problem`. validate runs `EMAIL_SHAPE` (a regular expression valid for
Python's `re` and for Rust's `regex`, which Polars runs) and the length limits on whole columns, and
calls `email_problem` only for the few addresses with non-ASCII characters (IDNA); the CLI test
tests/cli/test_email_agreement.py feeds the same edge cases to both and checks they agree.
"""

from __future__ import annotations

import re

MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254
MAX_LABEL = 63

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]|[^\x00-\x7F]"
_ATOM = rf"(?:{_ATEXT})+"
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])+"'
_WORD = rf"(?:{_ATOM}|{_QUOTED})"
_LABEL_CHAR = r"(?:[A-Za-z0-9]|[^\x00-\x7F])"
_LABEL = rf"{_LABEL_CHAR}(?:(?:{_LABEL_CHAR}|-){{0,61}}{_LABEL_CHAR})?"
EMAIL_SHAPE = rf"^{_WORD}(?:\.{_WORD})*@(?:{_LABEL}\.)+{_LABEL}$"
"""The shape of a valid address (lengths and IDNA are checked by `email_problem`)."""

_SHAPE = re.compile(EMAIL_SHAPE)


def email_problem(address: str) -> str | None:
    """Why `address` is not a valid email address, or None when it is (see the module docstring)."""
    if not _SHAPE.fullmatch(address):
        return "must be a well-formed email address"
    local, _, domain = address.rpartition("@")
    if len(local) > MAX_LOCAL:
        return f"the part before @ has {len(local)} characters, at most {MAX_LOCAL}"
    if len(address) > MAX_ADDRESS:
        return f"{len(address)} characters, at most {MAX_ADDRESS}"
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "the domain is not a valid internationalised domain name"
    if len(encoded) > MAX_DOMAIN or any(len(label) > MAX_LABEL for label in encoded.split(".")):
        return f"the domain is too long (at most {MAX_DOMAIN} characters, {MAX_LABEL} per label)"
    return None


def is_valid_email(address: str) -> bool:
    return email_problem(address) is None
