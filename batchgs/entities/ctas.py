"""Gainsight CS Cockpit CTAs (gainsight-api.md §2.2). Names (type, status, ...) not ids."""

from __future__ import annotations

from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec, Family, ListEndpoint

T = ColumnType

MAX_RECORDS_PER_CALL = 50

SPEC = EntitySpec(
    name="ctas",
    family=Family.CS,
    description=(
        "Gainsight CS Cockpit calls to action. Rows with a Gsid update that CTA; rows without one "
        "create a new CTA (upsert). Up to 50 records per request."
    ),
    key="Gsid",
    modes=("upsert", "insert", "update"),
    columns=(
        Column("Name", required=True, description="CTA name", example="Renewal risk: low usage"),
        Column(
            "CompanyId",
            T.ID,
            required=True,
            aliases=("Company", "Company Gsid"),
            description="Gsid of the company",
            example="1P02XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        Column(
            "OwnerId",
            T.ID,
            aliases=("Owner",),
            description="Gsid of the owning user",
            example="1P01XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        Column("type", description="CTA type name as configured in Cockpit", example="Risk"),
        Column("reason", description="Reason name as configured in Cockpit", example="Churn"),
        Column("status", description="Status name as configured in Cockpit", example="Open"),
        Column("priority", description="Priority name as configured in Cockpit", example="High"),
        Column(
            "DueDate",
            T.DATE,
            aliases=("Due Date",),
            description="Due date (YYYY-MM-DD)",
            example="2024-06-30",
        ),
        Column("Comments", description="Comments", example="Usage dropped 40% this quarter"),
        Column(
            "Gsid",
            T.ID,
            description="Gsid of an existing CTA: the row updates it; empty creates a new CTA",
            example="",
        ),
        # read-only: exported from the list, never sent
        Column("CompanyId__gr.Name", read_only=True, description="Company name (read-only)"),
        Column("TypeId", T.ID, read_only=True, description="Type id (read-only)"),
        Column("TypeId__gr.Name", read_only=True, description="Type name (read-only)"),
        Column("StatusId", T.ID, read_only=True, description="Status id (read-only)"),
        Column("StatusId__gr.Name", read_only=True, description="Status name (read-only)"),
        Column("PriorityId", T.ID, read_only=True, description="Priority id (read-only)"),
        Column("ReasonId", T.ID, read_only=True, description="Reason id (read-only)"),
        Column("ClosedDate", T.DATE, read_only=True, description="Closing date (read-only)"),
        Column("IsClosed", T.BOOLEAN, read_only=True, description="Closed (read-only)"),
    ),
    custom=CustomFields(payload_field="", header_prefixes=(), suffix="__gc"),
    list_endpoint=ListEndpoint(
        "ctas",
        "cs-list",
        "/v2/cockpit/cta/list",
        "records",
        key="Gsid",
        spec_name="ctas",
        description="CS calls to action (batchgs.engine.export.ctas)",
    ),
    extra={"max_records_per_call": str(MAX_RECORDS_PER_CALL)},
)
