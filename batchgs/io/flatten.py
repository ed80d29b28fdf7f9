"""Turn nested API records into flat spreadsheet rows, and decide the column order of an export.

Decisions (documented in cli.md's spirit, relied on by the import reader):
- Nested objects become dotted keys: `location.city`, `location.coordinates.latitude`,
  `customAttributes.plan`. An empty object yields no key.
- A list of scalars becomes comma-joined text (`["AP-1", "AP-2"]` → `AP-1,AP-2`; booleans as
  `true`/`false`), which the import reader's STRING_LIST parsing reads back. A list holding objects,
  nulls or a text with a comma becomes compact JSON text instead (comma-joining it could not be read
  back), the same text as the Polars page reader makes (batchgs.io.pages).
  An empty list is an empty cell.
- Null values are left out: a missing key and a null both write an empty cell, and a null never
  creates a column of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchgs.entities.spec import EntitySpec

_SCALARS = (str, int, float)
_LEAVES = frozenset((str, int, float, bool))
CUSTOM_PREFIXES = ("customAttributes.", "attributes.")
_METADATA_TYPES = {"DATE_TIME": "datetime", "DATETIME": "datetime", "DATE": "datetime"} | {
    "NUMBER": "number",
    "BOOLEAN": "boolean",
    "STRING": "string",
}


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row (dotted keys, scalar values) from one API record. Idempotent on flat rows."""
    out: dict[str, Any] = {}
    for key, value in record.items():  # the top level inline: most values are leaves
        if type(value) in _LEAVES and type(key) is str:
            out[key] = value
        elif value is not None:
            _flatten_into(out, {key: value}, "")
    return out


def _flatten_into(out: dict[str, Any], obj: Mapping[str, Any], prefix: str) -> None:
    for key, value in obj.items():
        name = prefix + key if type(key) is str else prefix + str(key)
        if type(value) in _LEAVES:
            out[name] = value
        elif value is None:
            continue
        elif isinstance(value, Mapping):
            _flatten_into(out, value, name + ".")
        elif isinstance(value, list | tuple):
            cell = list_cell(value)
            if cell is not None:
                out[name] = cell
        else:
            out[name] = value


def list_cell(values: Sequence[Any]) -> str | None:
    """The text of a list in one cell: comma-joined when that reads back unambiguously, else JSON."""
    if not values:
        return None
    parts: list[str] = []
    for value in values:
        if value is True or value is False:
            parts.append("true" if value else "false")
        elif isinstance(value, _SCALARS) and not (isinstance(value, str) and ("," in value or not value)):
            parts.append(value if isinstance(value, str) else repr(value))
        else:
            return json.dumps(list(values), ensure_ascii=False, default=str, separators=(",", ":"))
    return ",".join(parts)


@dataclass
class ColumnPlan:
    """The stable column order of an export.

    Order: documented fields first, in the spec's order (a documented parent such as
    `lastInferredLocation` stands for its seen children, sorted); then any other seen key, sorted;
    then custom attributes (`customAttributes.*`, `attributes.*`), sorted. Every documented field and
    every custom attribute named in `custom` is a column even when no record has it, so the header is
    the same from one nightly export to the next.
    """

    documented: list[str]
    date_columns: set[str] = field(default_factory=set)
    id_columns: set[str] = field(default_factory=set)
    custom: list[str] = field(default_factory=list)  # known custom columns, full dotted names
    custom_prefixes: tuple[str, ...] = CUSTOM_PREFIXES
    # name → string|integer|number|boolean|datetime: open_writer's `column_types` (Parquet typing)
    types: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: EntitySpec, custom_types: Mapping[str, str] | None = None) -> ColumnPlan:
        """The plan of an entity; `custom_types` maps a custom attribute's apiName to its metadata
        type (`STRING`, `DATE_TIME`, `BOOLEAN`, `NUMBER`), as /v1/admin/model/{model}/attributes says."""
        from batchgs.entities.spec import ColumnType

        by_spec_type = {
            ColumnType.INTEGER: "integer",
            ColumnType.NUMBER: "number",
            ColumnType.BOOLEAN: "boolean",
            ColumnType.DATETIME: "datetime",
        }
        types = {c.name: by_spec_type.get(c.type, "string") for c in spec.columns}
        dates = {c.name for c in spec.columns if c.type == ColumnType.DATETIME}
        ids = {c.name for c in spec.columns if c.type == ColumnType.ID}
        custom: list[str] = []
        field_name = spec.custom.payload_field if spec.custom else ""
        for api_name, kind in (custom_types or {}).items():
            name = f"{field_name}.{api_name}" if field_name else api_name
            custom.append(name)
            types[name] = _METADATA_TYPES.get(kind.upper(), "string")
            if types[name] == "datetime":
                dates.add(name)
        return cls([c.name for c in spec.columns], dates, ids, custom, types=types)

    def is_custom(self, name: str) -> bool:
        return name.startswith(self.custom_prefixes) or name in self._custom_set

    @property
    def _custom_set(self) -> set[str]:
        return set(self.custom)

    def order(self, seen: Iterable[str] = ()) -> list[str]:
        """All columns: the documented and known custom ones plus every key in `seen`."""
        seen_set = set(seen)
        custom_set = self._custom_set
        result: list[str] = []
        placed: set[str] = set()

        def place(name: str) -> None:
            if name not in placed:
                placed.add(name)
                result.append(name)

        for name in self.documented:
            children = sorted(k for k in seen_set if k.startswith(name + "."))
            if children and name not in seen_set:
                for child in children:
                    place(child)
            else:
                place(name)
                for child in children:
                    place(child)
        rest = seen_set - placed
        for name in sorted(k for k in rest if not (k in custom_set or k.startswith(self.custom_prefixes))):
            place(name)
        for name in sorted((rest - placed) | (custom_set - placed)):
            place(name)
        return result

    def select(self, requested: Sequence[str], available: Sequence[str] | None = None) -> list[str]:
        """`--columns a,b,c`: the requested columns in the requested order.

        A name matches a column exactly, else case-insensitively, else as a parent (`location`
        selects every `location.*` column in plan order). A name that matches nothing is kept as
        given (its cells stay empty); `unknown_columns` tells the caller which those are."""
        columns = list(available) if available is not None else self.order()
        result: list[str] = []
        for name in (n.strip() for n in requested):
            if not name:
                continue
            for match in self._matches(name, columns) or [name]:
                if match not in result:
                    result.append(match)
        return result

    def unknown_columns(self, requested: Sequence[str], available: Sequence[str] | None = None) -> list[str]:
        columns = list(available) if available is not None else self.order()
        return [n.strip() for n in requested if n.strip() and not self._matches(n.strip(), columns)]

    @staticmethod
    def _matches(name: str, columns: Sequence[str]) -> list[str]:
        if name in columns:
            return [name]
        folded = name.casefold()
        exact = [c for c in columns if c.casefold() == folded]
        if exact:
            return exact[:1]
        return [c for c in columns if c.casefold().startswith(folded + ".")]
