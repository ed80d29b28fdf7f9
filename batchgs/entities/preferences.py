"""Gainsight PX user preferences, v2 (gainsight-api.md §1.7). An empty cell leaves it unchanged."""

from __future__ import annotations

from batchgs.entities.spec import Column, ColumnType, EntitySpec, Family

T = ColumnType

PREFERENCES: tuple[tuple[str, str], ...] = (
    ("trackUsage", "Track product usage"),
    ("productUpdates", "Receive product update messages"),
    ("guidedTours", "Show guided tours"),
    ("surveys", "Show surveys"),
    ("onboardingBot", "Show the onboarding bot"),
    ("trackEmailAnalytics", "Track email analytics (v2 only)"),
)

SPEC = EntitySpec(
    name="preferences",
    family=Family.PX,
    description=(
        "Gainsight PX user preferences (compliance opt-outs) for existing users. "
        "An empty cell leaves that preference unchanged."
    ),
    key="identifyId",
    modes=("update",),
    columns=(
        Column(
            "identifyId", T.ID, required=True, description="Id of an existing user", example="user-000123"
        ),
        *(
            Column(name, T.BOOLEAN, description=f"{text} (true/false; empty = unchanged)", example="false")
            for name, text in PREFERENCES
        ),
    ),
)
