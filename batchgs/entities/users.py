"""Gainsight PX users (gainsight-api.md §1.3)."""

from __future__ import annotations

from batchgs.entities.common import location_columns, property_keys_column
from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec, Family, ListEndpoint

T = ColumnType

SPEC = EntitySpec(
    name="users",
    family=Family.PX,
    description="Gainsight PX users, keyed by identifyId (the id your product identifies users with).",
    key="identifyId",
    modes=("upsert", "insert", "update", "delete"),
    product_key_field="propertyKeys",
    columns=(
        Column(
            "identifyId",
            T.ID,
            required=True,
            description="Unique user id in your product (case-sensitive); the key of every operation",
            example="user-000123",
        ),
        property_keys_column("user"),
        Column(
            "type",
            T.ENUM,
            enum=("LEAD", "USER", "VISITOR", "EMPTY_USER_TYPE"),
            description="Kind of user",
            example="USER",
        ),
        Column(
            "gender",
            T.ENUM,
            enum=("MALE", "FEMALE", "OTHER", "EMPTY_GENDER"),
            description="Gender",
            example="FEMALE",
        ),
        Column("email", T.EMAIL, description="Email address", example="ada@example.com"),
        Column("firstName", description="First name", example="Ada"),
        Column("lastName", description="Last name", example="Lovelace"),
        Column(
            "signUpDate",
            T.DATETIME,
            description="Sign-up date: ISO 8601, date only, or epoch milliseconds (sent as epoch ms)",
            example="2024-03-31T09:30:00+02:00",
        ),
        Column(
            "firstVisitDate",
            T.DATETIME,
            description="First visit: ISO 8601, date only, or epoch milliseconds (sent as epoch ms)",
            example="2024-04-01",
        ),
        Column("title", description="Job title", example="Engineer"),
        Column("phone", T.ID, description="Phone number, kept as text", example="+33 1 23 45 67 89"),
        Column("score", T.NUMBER, description="Numeric score", example="87.5"),
        Column("role", description="Role", example="Admin"),
        Column("subscriptionId", T.ID, description="Subscription id", example="SUB-0042"),
        Column(
            "accountId",
            T.ID,
            description="Id of the PX account this user belongs to (the account should exist first)",
            example="acct-001",
        ),
        *location_columns("user"),
        Column(
            "globalUnsubscribe",
            T.BOOLEAN,
            description="Unsubscribed from all emails (true/false/yes/no/1/0)",
            example="false",
        ),
        Column("sfdcContactId", T.ID, description="Salesforce contact id", example="0031t00000ABCDeAAF"),
        # read-only: exported, never sent
        Column("aptrinsicId", T.ID, read_only=True, description="PX internal id (read-only)"),
        Column("id", T.ID, read_only=True, description="PX internal id (read-only)"),
        Column("lastSeenDate", T.DATETIME, read_only=True, description="Last activity (read-only)"),
        Column("numberOfVisits", T.INTEGER, read_only=True, description="Visit count (read-only)"),
        Column("createDate", T.DATETIME, read_only=True, description="Creation time (read-only)"),
        Column("lastModifiedDate", T.DATETIME, read_only=True, description="Last change (read-only)"),
        Column(
            "lastInferredLocation",
            read_only=True,
            description="Location inferred from the IP (read-only, exported as lastInferredLocation.*)",
        ),
        Column("globalId", T.ID, read_only=True, description="Global id (read-only)"),
    ),
    custom=CustomFields(
        payload_field="customAttributes",
        header_prefixes=("custom.", "customAttributes."),
        metadata_model="user",
    ),
    list_endpoint=ListEndpoint(
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
)
