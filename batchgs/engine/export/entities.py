"""What `batchgs export ENTITY` reads for each PX entity: endpoint, paging, key, columns, slicing.

Every entity is data here (gainsight-api.md §1.3–1.9): a scroll list (users, accounts, the event
histories), a page-number list (engagements, features, segments) or one GET per user (preferences,
denylist). `ctas` is not here: the CS export owns it (batchgs.cli.cs_export).

Columns: documented fields first (the entity spec, or the common event fields of §1.9), then other
keys sorted, then custom attributes sorted (batchgs.io.flatten.ColumnPlan). Date columns are the
spec's datetime fields and, for entities without a spec, `date` and names ending in `Date`; id
columns are `id` and names ending in `Id`, so they stay text in every format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from batchgs.entities import registry
from batchgs.entities.spec import ColumnType, EntitySpec
from batchgs.errors import UsageError

Paging = Literal["scroll", "page-number", "per-user"]
Window = Literal["dateRange", "filter"]

EVENT_FIELDS = (
    "eventId",
    "identifyId",
    "accountId",
    "propertyKey",
    "date",
    "eventType",
    "sessionId",
    "userType",
    "globalContext",
)
ENGAGEMENT_FIELDS = ("id", "name", "type", "state", "propertyKey", "createDate")
FEATURE_FIELDS = ("id", "name", "type", "parentFeatureId", "propertyKey")
SEGMENT_FIELDS = ("id", "name", "type", "propertyKey")


@dataclass(frozen=True)
class ExportEntity:
    """How one entity is exported."""

    name: str
    paging: Paging
    path: str = ""
    records_key: str = ""
    key: str | None = None  # unique field of a record (slicing by key ranges, duplicate checks)
    page_size: int = 1000
    window: Window | None = None  # history: ≤ 190-day windows given this way
    slice_field: str | None = None  # numeric field whose ranges split the list into disjoint slices
    spec_name: str | None = None  # entity spec giving the documented columns
    metadata_model: Literal["user", "account"] | None = None  # custom attribute types
    documented: tuple[str, ...] = ()  # column order when there is no spec
    description: str = ""

    @property
    def spec(self) -> EntitySpec | None:
        return registry.get(self.spec_name) if self.spec_name else None

    @property
    def windowed(self) -> bool:
        return self.window is not None


def _history(name: str, path: str, records_key: str, what: str) -> ExportEntity:
    return ExportEntity(
        name,
        "scroll",
        path,
        records_key,
        key="eventId",
        window="filter",
        slice_field="date",
        documented=EVENT_FIELDS,
        description=what,
    )


_ENTITIES: tuple[ExportEntity, ...] = (
    ExportEntity(
        "users",
        "scroll",
        "/v1/users",
        "users",
        key="identifyId",
        slice_field="createDate",
        spec_name="users",
        metadata_model="user",
        description="PX users with their custom attributes",
    ),
    ExportEntity(
        "accounts",
        "scroll",
        "/v1/accounts",
        "accounts",
        key="id",
        slice_field="createDate",
        spec_name="accounts",
        metadata_model="account",
        description="PX accounts with their custom attributes",
    ),
    ExportEntity(
        "events",
        "scroll",
        "/v1/events/custom",
        "customEvents",
        key="eventId",
        window="dateRange",
        slice_field="date",
        spec_name="events",
        documented=EVENT_FIELDS,
        description="custom events history",
    ),
    _history("page-views", "/v1/events/pageView", "results", "page view history"),
    _history("sessions", "/v1/events/session", "sessionInitializedEvents", "session history"),
    _history("email-events", "/v1/events/email", "results", "email event history"),
    _history("engagement-views", "/v1/events/engagementView", "results", "engagement view history"),
    _history("feature-matches", "/v1/events/feature_match", "featureMatchEvents", "feature match history"),
    _history("segment-matches", "/v1/events/segment_match", "featureMatchEvents", "segment match history"),
    _history("identify-events", "/v1/events/identify", "identifyEvents", "identify event history"),
    _history("form-submits", "/v1/events/formSubmit", "results", "form submit history"),
    _history("leads", "/v1/events/lead", "results", "lead event history"),
    _history("survey-responses", "/v1/survey/responses", "results", "survey responses"),
    ExportEntity(
        "engagements",
        "page-number",
        "/v1/engagement",
        "engagements",
        key="id",
        page_size=500,
        documented=ENGAGEMENT_FIELDS,
        description="engagements (page-number list)",
    ),
    ExportEntity(
        "features",
        "page-number",
        "/v1/feature",
        "features",
        key="id",
        page_size=200,
        documented=FEATURE_FIELDS,
        description="features (page-number list)",
    ),
    ExportEntity(
        "segments",
        "page-number",
        "/v1/segment",
        "segments",
        key="id",
        page_size=200,
        documented=SEGMENT_FIELDS,
        description="segments (page-number list)",
    ),
    ExportEntity(
        "preferences",
        "per-user",
        "/v2/user/preferences",
        key="identifyId",
        spec_name="preferences",
        description="v2 preferences of the users in --ids FILE, or of every user",
    ),
    ExportEntity(
        "denylist",
        "per-user",
        "/v1/users/denylist",
        key="identifyId",
        documented=("identifyId", "denied"),
        description="denylist flag of the users in --ids FILE, or of every user",
    ),
)
EXPORT_ENTITIES: dict[str, ExportEntity] = {e.name: e for e in _ENTITIES}
CS_EXPORT_ENTITIES = ("ctas",)
ALIASES = {
    "custom-events": "events",
    "pageviews": "page-views",
    "page-view": "page-views",
    "session": "sessions",
    "emails": "email-events",
    "feature-match": "feature-matches",
    "segment-match": "segment-matches",
    "identify": "identify-events",
    "form-submit": "form-submits",
    "lead": "leads",
    "surveys": "survey-responses",
    "engagement": "engagements",
    "feature": "features",
    "segment": "segments",
    "preference": "preferences",
}


def export_entity_names() -> list[str]:
    return [*EXPORT_ENTITIES, *CS_EXPORT_ENTITIES]


def get_export_entity(name: str) -> ExportEntity:
    wanted = name.strip().lower().replace("_", "-")
    wanted = ALIASES.get(wanted, wanted)
    found = EXPORT_ENTITIES.get(wanted)
    if found is None:
        import difflib

        close = difflib.get_close_matches(wanted, export_entity_names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            f"cannot export {name!r}", hint=f"{hint}entities: {', '.join(export_entity_names())}"
        )
    return found


def documented_columns(entity: ExportEntity) -> list[str]:
    spec = entity.spec
    if spec is None:
        return list(entity.documented)
    names = [c.name for c in spec.columns]
    return [*names, *(n for n in entity.documented if n not in names)]


def spec_date_columns(entity: ExportEntity) -> set[str]:
    spec = entity.spec
    return {c.name for c in spec.columns if c.type == ColumnType.DATETIME} if spec else set()


def spec_id_columns(entity: ExportEntity) -> set[str]:
    spec = entity.spec
    return {c.name for c in spec.columns if c.type == ColumnType.ID} if spec else set()


def looks_like_date(name: str) -> bool:
    """`date`, `createDate`, `customAttributes.renewalDate`: epoch ms in PX (§1.10)."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "date" or leaf.endswith("Date") or leaf == "timestamp"


def looks_like_id(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "id" or leaf.endswith(("Id", "Ids"))


def date_and_id_columns(entity: ExportEntity, columns: Iterable[str]) -> tuple[set[str], set[str]]:
    """Which of `columns` become date cells and which stay id text: the spec decides its own fields;
    other non-custom columns go by name (custom attribute types come from the metadata instead)."""
    dates, ids = spec_date_columns(entity), spec_id_columns(entity)
    spec = entity.spec
    known = {c.name for c in spec.columns} if spec else set()
    for name in columns:
        if name in known or name.startswith(("customAttributes.", "attributes.")):
            continue
        if looks_like_date(name):
            dates.add(name)
        elif looks_like_id(name):
            ids.add(name)
    return dates, ids
