"""The tenant's Cockpit picklist (CTA types, reasons, priorities, statuses), checked before sending.

A spreadsheet names these by NAME ("Risk", "Open"); a name the tenant does not know would only fail
at the API, one record at a time. Checking against `GET /v2/cockpit/admin/picklist/lite` first turns
each into a row issue with a did-you-mean, and the row is never sent. Names match ignoring case and
surrounding spaces; the tenant's own spelling is what gets sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchgs.engine.px_requests import Client
from batchgs.errors import FatalApiError
from batchgs.io.rows import RowIssue
from batchgs.transport.client import raise_for_result
from batchgs.transport.result import Outcome

PICKLIST_PATH = "/v2/cockpit/admin/picklist/lite"
UNKNOWN_NAME_CODE = "unknown-name"

# record field → (picklist group in the response, the word a person uses)
PICKLIST_FIELDS: dict[str, tuple[str, str]] = {
    "type": ("types", "type"),
    "reason": ("reasons", "reason"),
    "priority": ("priorities", "priority"),
    "status": ("statuses", "status"),
}


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class CtaPicklist:
    """Names per group, keyed by their folded form → the tenant's spelling."""

    groups: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Any) -> CtaPicklist:
        """From the response's `data`: `{"types": [{"id", "name"}, ...], ...}` (tolerates plain names)."""
        groups: dict[str, dict[str, str]] = {}
        source = data if isinstance(data, Mapping) else {}
        for group, _word in PICKLIST_FIELDS.values():
            names: dict[str, str] = {}
            for item in source.get(group) or ():
                name = item.get("name") if isinstance(item, Mapping) else item
                if isinstance(name, str) and name.strip():
                    names.setdefault(_fold(name), name)
            groups[group] = names
        return cls(groups)

    def names(self, group: str) -> list[str]:
        return list(self.groups.get(group, {}).values())

    def resolve(self, group: str, name: str) -> str | None:
        """The tenant's spelling of `name`, or None when the group has no such name."""
        return self.groups.get(group, {}).get(_fold(name))

    def suggestion(self, group: str, name: str) -> str | None:
        known = self.groups.get(group, {})
        close = difflib.get_close_matches(_fold(name), list(known), n=1, cutoff=0.6)
        return known[close[0]] if close else None

    def check(
        self, row: int, payload: dict[str, Any], headers: Mapping[str, str]
    ) -> tuple[dict[str, Any], list[RowIssue]]:
        """The payload with names in the tenant's spelling, or the issues of the unknown names.

        `headers` maps a record field (`type`) to the file's header (`Type`) so the issue names the
        column the person sees.
        """
        issues: list[RowIssue] = []
        fixed = dict(payload)
        for field_name, (group, word) in PICKLIST_FIELDS.items():
            value = payload.get(field_name)
            if not isinstance(value, str) or not value.strip():
                continue
            known = self.resolve(group, value)
            if known is not None:
                fixed[field_name] = known
                continue
            guess = self.suggestion(group, value)
            if guess is not None:
                hint = f" (did you mean {guess!r}?)"
            else:
                listed = ", ".join(self.names(group)[:12]) or "none configured"
                hint = f" (known: {listed})"
            issues.append(
                RowIssue(
                    row=row,
                    column=headers.get(field_name, field_name),
                    code=UNKNOWN_NAME_CODE,
                    message=f"{value!r} is not a CTA {word} of this tenant{hint}",
                )
            )
        return fixed, issues


async def fetch_picklist(client: Client) -> CtaPicklist:
    """Read the tenant's picklist; a refused access key stops the run before anything is written."""
    result = await client.request("GET", PICKLIST_PATH)
    if result.outcome is Outcome.FATAL:
        raise FatalApiError(
            f"the CS API refused the access key (HTTP {result.status}): {result.message}",
            status=result.status,
            hint="check GAINSIGHT_CS_ACCESS_KEY and --base-url / GAINSIGHT_CS_BASE_URL",
        )
    raise_for_result(result, what=f"GET {PICKLIST_PATH}")
    body = result.body if isinstance(result.body, Mapping) else {}
    return CtaPicklist.from_data(body.get("data"))
