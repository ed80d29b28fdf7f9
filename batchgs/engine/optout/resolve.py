"""Emails → identifyIds through the users list filter (gainsight-api.md §1.3, §1.8).

Emails are asked in chunks of OR-ed filters (`filter=email==a&filter=email==b`, every value
percent-encoded by the transport), paged with the transport's `scroll`. Filter values compare
case-insensitively; the answer is checked again here (exact address, any case) so that a loose
server match can never opt out the wrong person. An address may belong to several users: all are
returned, sorted. An address holding a character the filter language cannot carry as a value
(`; , * ? = < > ! ~`, all valid in an email: `bob!x@…`, `"a;b"@…`) is asked with the like operator
instead, each such character replaced by the one-character wildcard `?` (`email~bob?x@example.com`),
and the answer checked for the exact address like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from batchgs.engine.px_requests import filter_safe
from batchgs.errors import Interrupted
from batchgs.transport.client import ApiClient
from batchgs.transport.paging import MAX_PAGE_SIZE, scroll

USERS_PATH = "/v1/users"
EMAIL_CHUNK = 40  # OR-ed filters per request: keeps the URL far below common 8 KiB limits


@dataclass
class Resolution:
    """`users[email.lower()]` = sorted identifyIds (empty: nobody). `unsearchable` stays empty since
    every address can be asked (like-filter); plans saved by older versions may still name it."""

    users: dict[str, list[str]] = field(default_factory=dict)
    unsearchable: set[str] = field(default_factory=set)

    def ids_for(self, email: str) -> list[str]:
        return self.users.get(email.strip().lower(), [])


def email_clause(email: str) -> str:
    """`email==a@b.c`, or for an address the filter cannot carry as a value `email~a?b@c.d` (every
    such character a one-character wildcard: the answer is checked for the exact address)."""
    if filter_safe(email):
        return f"email=={email}"
    return "email~" + "".join("?" if not filter_safe(ch) else ch for ch in email)


async def resolve_emails(
    client: ApiClient, emails: Iterable[str], *, stop_event: asyncio.Event | None = None
) -> Resolution:
    """Look every distinct address up. Raises Interrupted between chunks when `stop_event` is set;
    QuotaExhausted / FatalApiError / ResumableStop come from the transport (nothing was written)."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    result = Resolution()
    for start in range(0, len(wanted), EMAIL_CHUNK):
        if stop_event is not None and stop_event.is_set():
            raise Interrupted("interrupted while looking emails up: nothing was changed")
        chunk = wanted[start : start + EMAIL_CHUNK]
        found: dict[str, set[str]] = {email: set() for email in chunk}
        params = [("filter", email_clause(email)) for email in chunk]
        async for records, _info in scroll(client, USERS_PATH, "users", params, MAX_PAGE_SIZE):
            for record in records:
                address = str(record.get("email") or "").strip().lower()
                identify_id = record.get("identifyId")
                if address in found and isinstance(identify_id, str) and identify_id:
                    found[address].add(identify_id)
        for email, ids in found.items():
            result.users[email] = sorted(ids)
    return result
