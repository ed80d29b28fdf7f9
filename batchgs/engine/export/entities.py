"""What `batchgs export ENTITY` reads for each PX entity: the lists of batchgs.entities.listings
(endpoint, paging, key, columns, slicing), their names and aliases, and the column rules.

`ctas` is not among them: the CS export owns it (batchgs.cli.cs_export).

Columns: documented fields first (the entity spec, or the common event fields of §1.9), then other
keys sorted, then custom attributes sorted (batchgs.io.flatten.ColumnPlan). Date columns are the
spec's datetime fields and, for entities without a spec, `date` and names ending in `Date`; id
columns are `id` and names ending in `Id`, so they stay text in every format.
"""

from __future__ import annotations

from collections.abc import Iterable

from batchgs.entities.listings import PX_LISTINGS
from batchgs.entities.spec import ColumnType, ListEndpoint
from batchgs.errors import UsageError

ExportEntity = ListEndpoint  # how one entity is exported (batchgs.entities.spec)
EXPORT_ENTITIES: dict[str, ExportEntity] = PX_LISTINGS
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
