"""Gainsight CS Events Framework events (gainsight-api.md §2.3): free-form JSON, one per call."""

from __future__ import annotations

from batchgs.entities.spec import EntitySpec, Family

SPEC = EntitySpec(
    name="cs-events",
    family=Family.CS,
    description=(
        "Gainsight CS Events Framework events. Any columns are accepted and sent as the event body; "
        'dotted headers nest (`account.name` → {"account": {"name": ...}}). Not idempotent.'
    ),
    key=None,
    columns=(),
    modes=("insert",),
    idempotent=False,
    unique_key_in_file=False,
    free_form=True,
)
