"""Gainsight PX custom events (gainsight-api.md §1.6): create only, permanent, not idempotent."""

from __future__ import annotations

from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec, Family, ListEndpoint

T = ColumnType

MAX_EVENT_NAME = 2000
# the fields every PX history record has (gainsight-api.md §1.9): the first columns of a history export
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
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME = 1024

SPEC = EntitySpec(
    name="events",
    family=Family.PX,
    description=(
        "Gainsight PX custom events. Events are permanent (no update or delete) and a retried "
        "request can create a duplicate, so an unknown outcome is reported as uncertain."
    ),
    key=None,
    modes=("insert",),
    idempotent=False,
    unique_key_in_file=False,
    product_key_field="propertyKey",
    columns=(
        Column(
            "identifyId", T.ID, required=True, description="Id of the user who did it", example="user-000123"
        ),
        Column(
            "eventName",
            required=True,
            max_length=MAX_EVENT_NAME,
            description=f"Event name (at most {MAX_EVENT_NAME} characters)",
            example="report_exported",
        ),
        Column(
            "userType",
            T.ENUM,
            required=True,
            enum=("USER", "LEAD", "VISITOR"),
            default="USER",
            description="Kind of user (USER when empty)",
            example="USER",
        ),
        Column(
            "propertyKey",
            required=True,
            description="Product key (one); may come from --product-key instead of a column",
            example="AP-XXXXXXXXXX-2",
        ),
        Column("accountId", T.ID, description="Id of the user's account", example="acct-001"),
        Column(
            "date",
            T.DATETIME,
            description="When it happened: ISO 8601, date only, or epoch milliseconds (now when empty)",
            example="2024-03-31T09:30:00Z",
        ),
        Column(
            "eventId", T.ID, description="Your own id for the event (not de-duplicated)", example="evt-0001"
        ),
        Column("url", description="Page URL", example="https://app.example.com/reports"),
        Column("referrer", description="Referrer URL", example="https://app.example.com/"),
        Column("remoteHost", description="Client IP address or host", example="203.0.113.7"),
        # read-only: exported from the history, never sent
        Column("eventType", read_only=True, description="Event type (read-only)"),
        Column("sessionId", T.ID, read_only=True, description="Session id (read-only)"),
        Column("globalContext", read_only=True, description="Global context (read-only)"),
    ),
    custom=CustomFields(
        payload_field="attributes",
        header_prefixes=("attributes.",),
        max_count=MAX_ATTRIBUTES,
        max_name_length=MAX_ATTRIBUTE_NAME,
    ),
    list_endpoint=ListEndpoint(
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
)
