"""The fields `--filter`, `--sort` and `--columns` may name, checked before anything is written.

A misspelt field is not an error for the API: `plan==Gold` on users (the field is
`customAttributes.plan`) matches nothing, `--columns emial` makes an empty column, and a date
the API cannot compare (`signUpDate>=03/04/2024`) filters nothing. So each name is checked against the
entity's fields — its spec's columns, the documented fields, the custom attributes of the metadata
(/v1/admin/model/*/attributes) — and a name that matches none is a usage error with a did-you-mean
(`plan` → `customAttributes.plan`). Values are checked against the field's type: dates must be epoch
ms or ISO (an ISO date becomes epoch ms, as PX compares them), numbers must be numbers, booleans
true/false.

Entities whose records carry fields no list describes (the histories, engagements, features,
segments) get an open catalog: only their documented fields are known, so a name is refused only
after the fetch, by `unknown_columns` against the keys the records actually had.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from batchgs.engine.export.entities import EXPORT_ENTITIES, ExportEntity, documented_columns, looks_like_date
from batchgs.engine.export.options import CLAUSE, ISO_MOMENT, ExportOptions, parse_moment
from batchgs.entities.spec import ColumnType
from batchgs.errors import UsageError

FieldType = str  # "datetime" | "number" | "boolean" | "text"
_EPOCH_MS = re.compile(r"-?\d+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = ("true", "false")
# documented fields that are objects of undocumented children (exported as `lastInferredLocation.city`)
OBJECT_FIELDS = ("lastInferredLocation", "globalContext")
_SPEC_TYPES: dict[ColumnType, FieldType] = {
    ColumnType.DATETIME: "datetime",
    ColumnType.INTEGER: "number",
    ColumnType.NUMBER: "number",
    ColumnType.BOOLEAN: "boolean",
}
_METADATA_TYPES: dict[str, FieldType] = {
    "DATE_TIME": "datetime",
    "DATETIME": "datetime",
    "DATE": "datetime",
    "NUMBER": "number",
    "BOOLEAN": "boolean",
}


@dataclass
class FieldCatalog:
    """The known fields of one entity with their types; `open_prefixes` hold any child."""

    entity: str
    types: dict[str, FieldType] = field(default_factory=dict)
    open_prefixes: tuple[str, ...] = ()
    closed: bool = True  # every field is known before the fetch

    @classmethod
    def of(cls, entity: ExportEntity, custom_types: Mapping[str, str] | None = None) -> FieldCatalog:
        """`custom_types`: apiName → metadata type of every custom attribute (any state)."""
        spec = entity.spec
        types: dict[str, FieldType] = {}
        if spec is not None:
            for column in spec.columns:
                types[column.name] = _SPEC_TYPES.get(column.type, "text")
        for name in documented_columns(entity):
            types.setdefault(name, "datetime" if looks_like_date(name) else "text")
        parents = [f"{name}." for name in OBJECT_FIELDS if name in types]
        custom_field = spec.custom.payload_field if spec is not None and spec.custom else ""
        for api_name, kind in (custom_types or {}).items():
            name = f"{custom_field}.{api_name}" if custom_field else api_name
            types[name] = _METADATA_TYPES.get(kind.upper(), "text")
        if custom_field and entity.metadata_model is None:  # event attributes: no metadata list
            parents.append(custom_field + ".")
        closed = entity.metadata_model is not None or entity.paging == "per-user"
        return cls(entity.name, types, tuple(parents), closed)

    # -- lookups ---------------------------------------------------------------------------------
    def knows(self, name: str) -> bool:
        return name in self.types or name.startswith(self.open_prefixes) or self._is_parent(name)

    def type_of(self, name: str) -> FieldType:
        if name in self.types:
            return self.types[name]
        return "datetime" if looks_like_date(name) else "text"

    def _is_parent(self, name: str) -> bool:
        prefix = name + "."
        return any(known.startswith(prefix) for known in self.types)

    def suggestion(self, name: str) -> str | None:
        """The field the user most likely meant: same last segment (`plan` → `customAttributes.plan`),
        same spelling but for case, or the closest spelling."""
        folded = name.casefold()
        names = sorted(self.types)
        for known in names:
            if known.casefold() == folded or known.rsplit(".", 1)[-1].casefold() == folded:
                return known
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
        if close:
            return close[0]
        leaves = {known.rsplit(".", 1)[-1]: known for known in names}
        close = difflib.get_close_matches(name, list(leaves), n=1, cutoff=0.75)
        return leaves[close[0]] if close else None

    def refuse(self, option: str, name: str) -> UsageError:
        meant = self.suggestion(name)
        hint = f"did you mean {meant!r}?" if meant else None
        listing = ", ".join(sorted(self.types)[:12]) + (", ..." if len(self.types) > 12 else "")
        return UsageError(
            f"{option}: {self.entity} have no field {name!r}",
            hint=hint or f"fields of {self.entity}: {listing}",
        )

    # -- the three options -------------------------------------------------------------------------
    def check_filters(self, filters: Iterable[str]) -> list[str]:
        """Each `field<op>value` clause: a known field (closed catalogs) and a value of its type.
        Returns the filters with ISO dates turned into the epoch ms PX compares."""
        out = []
        for group in filters:
            clauses = []
            for clause in (c.strip() for c in group.split(";")):
                if not clause:
                    continue
                match = CLAUSE.match(clause)
                if match is None:  # check_filters of options.py refused these already
                    raise UsageError(f"--filter {group!r}: {clause!r} is not field<op>value")
                name, op, value = match.groups()
                if self.closed and not self.knows(name):
                    raise self.refuse(f"--filter {clause!r}", name)
                clauses.append(f"{name}{op}{self._value(name, op, value, clause)}")
            out.append(";".join(clauses))
        return out

    def _value(self, name: str, op: str, value: str, clause: str) -> str:
        kind = self.type_of(name)
        text = value.strip()
        if op in ("~", "!~") or not text:
            return value
        if kind == "datetime":
            if _EPOCH_MS.fullmatch(text):
                return text
            if ISO_MOMENT.fullmatch(text):
                return str(parse_moment(text, end_of_day=op in ("<=", ">"), what=f"--filter {name}{op}"))
            raise UsageError(
                f"--filter {clause!r}: {text!r} is not a date PX can compare",
                hint=f"give an ISO date (e.g. {name}{op}2024-03-04) or epoch milliseconds; "
                "a date such as 03/04/2024 is ambiguous (March 4 or 3 April?)",
            )
        if kind == "number" and not _NUMBER.fullmatch(text):
            raise UsageError(f"--filter {clause!r}: {name} is a number, {text!r} is not")
        if kind == "boolean" and text.lower() not in _BOOLEANS:
            raise UsageError(f"--filter {clause!r}: {name} is true or false, not {text!r}")
        return value

    def check_sort(self, sort: str | None) -> None:
        if not sort or not self.closed:
            return
        for key in sort.split(";"):
            name = key.lstrip("-+")
            if name and not self.knows(name):
                raise self.refuse(f"--sort {sort!r}", name)

    def check_columns(self, columns: Iterable[str] | None) -> None:
        """Closed catalogs only; open ones are checked against the fetched keys (`unknown_columns`)."""
        if not columns or not self.closed:
            return
        for name in columns:
            if not self.knows(name) and not self._knows_folded(name):
                raise self.refuse(f"--columns {name}", name)

    def _knows_folded(self, name: str) -> bool:
        folded = name.casefold()
        return any(k.casefold() == folded or k.casefold().startswith(folded + ".") for k in self.types)


def refuse_unknown_columns(entity: str, unknown: list[str], available: Iterable[str]) -> UsageError:
    """--columns names that matched no field of the fetched records (open catalogs)."""
    names = sorted(set(available))
    name = unknown[0]
    leaves = {n.rsplit(".", 1)[-1].casefold(): n for n in names}
    meant = leaves.get(name.casefold()) or next(iter(difflib.get_close_matches(name, names, n=1)), None)
    return UsageError(
        f"--columns {', '.join(unknown)}: {entity} records have no such field (nothing was written)",
        hint=f"did you mean {meant!r}?" if meant else f"fields: {', '.join(names[:12])}",
    )


def fields_model(entity: ExportEntity, options: ExportOptions) -> Literal["user", "account"] | None:
    """The attribute list the fields of `options` are checked against (per-user entities filter the
    users list, so their filters name user fields)."""
    if entity.metadata_model:
        return entity.metadata_model
    return "user" if entity.paging == "per-user" and options.filters else None


def check_fields(
    entity: ExportEntity, options: ExportOptions, custom_types: Mapping[str, str] | None
) -> ExportOptions:
    """`options` with every field of --filter/--sort/--columns checked (UsageError otherwise) and ISO
    dates in filters as epoch ms. `custom_types`: the attribute list of `fields_model`."""
    catalog = FieldCatalog.of(entity, custom_types)
    users = (
        FieldCatalog.of(EXPORT_ENTITIES["users"], custom_types) if entity.paging == "per-user" else catalog
    )
    filters = users.check_filters(options.filters)
    catalog.check_sort(options.sort)
    catalog.check_columns(options.columns)
    return dataclasses.replace(options, filters=filters)


def custom_types_of(attributes: Iterable[Mapping[str, Any]], *, deleted: bool = False) -> dict[str, str]:
    """apiName → type of the custom attributes (/v1/admin/model/*/attributes) that still exist, or
    of every one when `deleted` (a filter may still name a deleted attribute's old values)."""
    return {
        str(a["apiName"]): str(a.get("type") or "STRING")
        for a in attributes
        if str(a.get("origin", "")).upper() == "CUSTOM"
        and (deleted or str(a.get("state", "")).upper() != "DELETED")
    }
