"""CTA records: checking one create/update record, applying it, and the flat view the list returns.

A record problem is a `RecordError` (errorCode + errorDesc) that becomes one entry of the response's
`errors` list; it never fails the other records of the same call (gainsight-api.md §2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batchgs.sandbox.cs.data import (
    CLOSED_STATUSES,
    DEFAULT_PICKS,
    Company,
    Picklist,
    User,
    day_of,
    iso_ms,
    parse_due_date,
)

INVALID_CTA = "COCKPIT_5101"
BAD_DATE = "GSOBJ_1005"
NO_MATCH = "GSOBJ_1011"
CUSTOM_SUFFIX = "__gc"

# record field (by name) → (picklist group, stored id field)
PICKLIST_FIELDS = {
    "type": ("types", "TypeId"),
    "reason": ("reasons", "ReasonId"),
    "priority": ("priorities", "PriorityId"),
    "status": ("statuses", "StatusId"),
}
WRITABLE_FIELDS = frozenset({"Name", "CompanyId", "OwnerId", "DueDate", "Comments", *PICKLIST_FIELDS})
TAG_FIELD = "referenceId"
KEY_FIELD = "Gsid"

# The flat list record, in this order; custom __gc fields follow, then CreatedDate / ModifiedDate.
FLAT_FIELDS = (
    "Gsid",
    "Name",
    "CompanyId",
    "CompanyId__gr.Name",
    "TypeId",
    "TypeId__gr.Name",
    "StatusId",
    "StatusId__gr.Name",
    "PriorityId",
    "PriorityId__gr.Name",
    "ReasonId",
    "ReasonId__gr.Name",
    "OwnerId",
    "OwnerId__gr.Name",
    "DueDate",
    "ClosedDate",
    "IsClosed",
    "Comments",
)
TRAILING_FIELDS = ("CreatedDate", "ModifiedDate")
DELETED_FIELD = "DeletedDate"


class RecordError(Exception):
    """Why one record was refused, as the per-record `errors` entry reports it."""

    def __init__(self, code: str, desc: str) -> None:
        super().__init__(desc)
        self.code = code
        self.desc = desc


def check_record(
    record: Any,
    *,
    for_update: bool,
    picklist: Picklist,
    companies: Mapping[str, Company],
    users: Mapping[str, User],
) -> dict[str, Any]:
    """The stored-field changes a record asks for (ids resolved), or RecordError naming every problem.

    On create, Name and CompanyId are required and left-out picklist fields take DEFAULT_PICKS; on
    update only the given fields change and `Gsid` is required (the caller resolves it).
    """
    if not isinstance(record, Mapping):
        raise RecordError(INVALID_CTA, "each request needs a 'record' object")
    problems: list[tuple[str, str]] = []
    changes: dict[str, Any] = {}

    unknown = sorted(
        key
        for key in record
        if key not in WRITABLE_FIELDS
        and key != TAG_FIELD
        and not (for_update and key == KEY_FIELD)
        and not key.endswith(CUSTOM_SUFFIX)
    )
    if unknown:
        problems.append((INVALID_CTA, f"unknown field(s): {', '.join(unknown)}"))

    def given(name: str) -> bool:
        return name in record and record[name] is not None and record[name] != ""

    for name in ("Name", "CompanyId"):
        if not for_update and not given(name):
            problems.append((INVALID_CTA, f"{name} is required"))
        elif for_update and name in record and not given(name):
            problems.append((INVALID_CTA, f"{name} cannot be empty"))

    if given("Name"):
        if isinstance(record["Name"], str):
            changes["Name"] = record["Name"]
        else:
            problems.append((INVALID_CTA, "Name must be text"))
    if given("CompanyId"):
        if record["CompanyId"] in companies:
            changes["CompanyId"] = record["CompanyId"]
        else:
            problems.append((INVALID_CTA, f"CompanyId '{record['CompanyId']}' is not a known company"))
    if "OwnerId" in record:
        if not given("OwnerId"):
            changes["OwnerId"] = None
        elif record["OwnerId"] in users:
            changes["OwnerId"] = record["OwnerId"]
        else:
            problems.append((INVALID_CTA, f"OwnerId '{record['OwnerId']}' is not a known user"))

    for name, (group, id_field) in PICKLIST_FIELDS.items():
        value = record.get(name)
        if value is None or value == "":
            if for_update and name in record:
                problems.append((INVALID_CTA, f"{name} cannot be empty"))
            elif not for_update:
                default = picklist.find_by_name(group, DEFAULT_PICKS[group])
                changes[id_field] = default.id if default else picklist.group(group)[0].id
            continue
        item = picklist.find_by_name(group, value) if isinstance(value, str) else None
        if item is None:
            problems.append((INVALID_CTA, f"unknown {name} '{value}'"))
        else:
            changes[id_field] = item.id

    if "DueDate" in record:
        due = record["DueDate"]
        if due is None or due == "":
            changes["DueDate"] = None
        elif isinstance(due, str) and parse_due_date(due) is not None:
            changes["DueDate"] = due
        else:
            problems.append((BAD_DATE, f"DueDate '{due}' is not a date in the format YYYY-MM-DD"))
    if "Comments" in record:
        comments = record["Comments"]
        if comments is None or isinstance(comments, str):
            changes["Comments"] = comments
        else:
            problems.append((INVALID_CTA, "Comments must be text"))

    for key, value in record.items():
        if key.endswith(CUSTOM_SUFFIX):
            changes[key] = value

    if problems:
        raise RecordError(problems[0][0], "; ".join(desc for _, desc in problems))
    return changes


def new_cta(gsid: str, changes: Mapping[str, Any], now_ms: int, picklist: Picklist) -> dict[str, Any]:
    """A stored CTA built from checked create changes."""
    stored: dict[str, Any] = {
        "Gsid": gsid,
        "Name": None,
        "CompanyId": None,
        "TypeId": None,
        "StatusId": None,
        "PriorityId": None,
        "ReasonId": None,
        "OwnerId": None,
        "DueDate": None,
        "ClosedDate": None,
        "IsClosed": False,
        "Comments": None,
        "CreatedDate": iso_ms(now_ms),
        "ModifiedDate": iso_ms(now_ms),
    }
    apply_changes(stored, changes, now_ms, picklist)
    return stored


def apply_changes(
    stored: dict[str, Any], changes: Mapping[str, Any], now_ms: int, picklist: Picklist
) -> None:
    """Partial update: only the given fields change; moving into or out of a closed status sets
    IsClosed and ClosedDate (the day it was closed, kept while it stays closed)."""
    stored.update(changes)
    if "StatusId" in changes:
        status_name = (picklist.name_of(changes["StatusId"]) or "").casefold()
        closed = status_name in CLOSED_STATUSES
        if closed and not stored["IsClosed"]:
            stored["ClosedDate"] = day_of(now_ms)
        elif not closed:
            stored["ClosedDate"] = None
        stored["IsClosed"] = closed
    stored["ModifiedDate"] = iso_ms(now_ms)


def flat_view(
    stored: Mapping[str, Any],
    custom_fields: list[str],
    picklist: Picklist,
    companies: Mapping[str, Company],
    users: Mapping[str, User],
) -> dict[str, Any]:
    """The flat list record: ids plus their `__gr.Name` look-ups, every custom field (null when unset)."""
    company = companies.get(stored.get("CompanyId") or "")
    owner = users.get(stored.get("OwnerId") or "")
    view: dict[str, Any] = {}
    for name in FLAT_FIELDS:
        if name == "CompanyId__gr.Name":
            view[name] = company.name if company else None
        elif name == "OwnerId__gr.Name":
            view[name] = owner.name if owner else None
        elif name.endswith("__gr.Name"):
            view[name] = picklist.name_of(stored.get(name.removesuffix("__gr.Name")))
        else:
            view[name] = stored.get(name)
    for name in custom_fields:
        view[name] = stored.get(name)
    for name in TRAILING_FIELDS:
        view[name] = stored.get(name)
    return view
