"""Every list `batchgs export` reads, as data (gainsight-api.md §1.3–1.9): the entity specs' own
`list_endpoint` (users, accounts, custom events) and the lists that have no import spec (the event
histories, page-number lists, per-user reads). batchgs.engine.export reads nothing else.
"""

from __future__ import annotations

from batchgs.entities import accounts, events, users
from batchgs.entities.events import EVENT_FIELDS
from batchgs.entities.spec import ListEndpoint

ENGAGEMENT_FIELDS = ("id", "name", "type", "state", "propertyKey", "createDate")
FEATURE_FIELDS = ("id", "name", "type", "parentFeatureId", "propertyKey")
SEGMENT_FIELDS = ("id", "name", "type", "propertyKey")


def _history(name: str, path: str, records_key: str, what: str) -> ListEndpoint:
    return ListEndpoint(
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


def _spec_list(spec_list: ListEndpoint | None) -> ListEndpoint:
    assert spec_list is not None, "an exported entity spec has a list_endpoint"
    return spec_list


PX_LISTS: tuple[ListEndpoint, ...] = (
    _spec_list(users.SPEC.list_endpoint),
    _spec_list(accounts.SPEC.list_endpoint),
    _spec_list(events.SPEC.list_endpoint),
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
    ListEndpoint(
        "engagements",
        "page-number",
        "/v1/engagement",
        "engagements",
        key="id",
        page_size=500,
        documented=ENGAGEMENT_FIELDS,
        description="engagements (page-number list)",
    ),
    ListEndpoint(
        "features",
        "page-number",
        "/v1/feature",
        "features",
        key="id",
        page_size=200,
        documented=FEATURE_FIELDS,
        description="features (page-number list)",
    ),
    ListEndpoint(
        "segments",
        "page-number",
        "/v1/segment",
        "segments",
        key="id",
        page_size=200,
        documented=SEGMENT_FIELDS,
        description="segments (page-number list)",
    ),
    ListEndpoint(
        "preferences",
        "per-user",
        "/v2/user/preferences",
        key="identifyId",
        spec_name="preferences",
        description="v2 preferences of the users in --ids FILE, or of every user",
    ),
    ListEndpoint(
        "denylist",
        "per-user",
        "/v1/users/denylist",
        key="identifyId",
        documented=("identifyId", "denied"),
        description="denylist flag of the users in --ids FILE, or of every user",
    ),
)
PX_LISTINGS: dict[str, ListEndpoint] = {listing.name: listing for listing in PX_LISTS}
