"""Gainsight PX accounts (gainsight-api.md §1.4). Deleting an account deletes all of its users."""

from __future__ import annotations

from batchgs.entities.common import location_columns, property_keys_column
from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec, Family, ListEndpoint

T = ColumnType

SPEC = EntitySpec(
    name="accounts",
    family=Family.PX,
    description="Gainsight PX accounts (companies), keyed by id. Deleting an account deletes its users.",
    key="id",
    modes=("upsert", "insert", "update", "delete"),
    product_key_field="propertyKeys",
    columns=(
        Column(
            "id", T.ID, required=True, description="Unique account id (case-sensitive)", example="acct-001"
        ),
        Column("name", required=True, description="Account name (required on create)", example="Acme Corp"),
        property_keys_column("account"),
        Column("trackedSubscriptionId", T.ID, description="Tracked subscription id", example="SUB-0042"),
        Column("sfdcId", T.ID, description="Salesforce account id", example="0011t00000ABCDeAAF"),
        Column("dunsNumber", T.ID, description="D-U-N-S number, kept as text", example="150483782"),
        Column("industry", description="Industry", example="Software"),
        Column(
            "numberOfEmployees", T.INTEGER, description="Number of employees (whole number)", example="250"
        ),
        Column("sicCode", T.ID, description="SIC code, kept as text", example="7372"),
        Column("website", description="Website URL", example="https://acme.example.com"),
        Column("naicsCode", T.ID, description="NAICS code, kept as text", example="511210"),
        Column("plan", description="Plan name", example="Enterprise"),
        *location_columns("account"),
        Column("parentGroupId", T.ID, description="Id of the parent account", example="acct-000"),
        Column(
            "renewalDate",
            T.DATETIME,
            description="Renewal date: ISO 8601, date only, or epoch milliseconds (sent as epoch ms)",
            example="2025-01-31",
        ),
        Column("healthScore", T.NUMBER, description="Health score", example="72"),
        Column("nps", T.NUMBER, description="Net promoter score", example="40"),
        Column("csm", description="Customer success manager", example="Grace Hopper"),
        # read-only: exported, never sent
        Column("aptrinsicId", T.ID, read_only=True, description="PX internal id (read-only)"),
        Column("createDate", T.DATETIME, read_only=True, description="Creation time (read-only)"),
        Column("lastModifiedDate", T.DATETIME, read_only=True, description="Last change (read-only)"),
        Column("lastSeenDate", T.DATETIME, read_only=True, description="Last activity (read-only)"),
        Column("numberOfUsers", T.INTEGER, read_only=True, description="Users of the account (read-only)"),
    ),
    custom=CustomFields(
        payload_field="customAttributes",
        header_prefixes=("custom.", "customAttributes."),
        metadata_model="account",
    ),
    list_endpoint=ListEndpoint(
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
)
