"""Declarative description of an entity: one source of truth for validation, templates, docs,
import requests and export paging. Adding an entity means adding one small module of data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class ColumnType(StrEnum):
    STRING = "string"
    ID = "id"  # text that must never be turned into a number (Excel damage is flagged)
    EMAIL = "email"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # sent as epoch milliseconds (PX)
    DATE = "date"  # sent as YYYY-MM-DD (CS DueDate)
    STRING_LIST = "string-list"  # e.g. propertyKeys: "AP-1,AP-2" or a single value
    ENUM = "enum"


class Family(StrEnum):
    PX = "px"
    CS = "cs"


# scroll: scrollId cursor (users, accounts, histories); page-number: pageNumber + isLastPage (engagements);
# per-user: one GET per user (preferences, denylist); cs-list: CS POST search with pageNumber from 1
Paging = Literal["scroll", "page-number", "per-user", "cs-list"]
Window = Literal["dateRange", "filter"]


@dataclass(frozen=True)
class Column:
    """One API field as a spreadsheet column. `name` is the API path (`location.city`)."""

    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False  # required on create (insert/upsert); update/delete only need the key
    enum: tuple[str, ...] = ()
    max_length: int | None = None
    description: str = ""
    example: str = ""
    read_only: bool = False  # exported but never sent: import skips it with a notice
    aliases: tuple[str, ...] = ()  # extra header spellings (e.g. CS "Company" for CompanyId)
    default: str | None = None  # value sent when the column is absent or empty (events: userType USER)
    varying_width: bool = False  # ID whose values differ in width by nature (postal codes across countries)


@dataclass(frozen=True)
class CustomFields:
    """Where free-form columns go: `customAttributes` for users/accounts, `attributes` for events."""

    payload_field: str  # "customAttributes" | "attributes" | "" (top level, CS *__gc)
    header_prefixes: tuple[str, ...]  # "custom.", "customAttributes." / "attributes."
    max_count: int | None = None
    max_name_length: int | None = None
    suffix: str | None = None  # CS custom fields end with "__gc"
    metadata_model: str | None = None  # "user" | "account": /v1/admin/model/{model}/attributes


@dataclass(frozen=True)
class ListEndpoint:
    """How an entity is listed and exported: the one description the exporter reads
    (batchgs.entities.listings gathers them; the entity specs that have one carry it)."""

    name: str  # the export's name (`batchgs export NAME`)
    paging: Paging
    path: str = ""
    records_key: str = ""
    key: str | None = None  # unique field of a record (slicing by key ranges, duplicate checks)
    page_size: int = 1000
    window: Window | None = None  # history: <= 190-day windows given this way
    slice_field: str | None = None  # numeric field whose ranges split the list into disjoint slices
    spec_name: str | None = None  # entity spec giving the documented columns
    metadata_model: Literal["user", "account"] | None = None  # custom attribute types
    documented: tuple[str, ...] = ()  # column order when there is no spec
    description: str = ""

    @property
    def spec(self) -> EntitySpec | None:
        from batchgs.entities import registry  # the registry imports the specs, which import this

        return registry.get(self.spec_name) if self.spec_name else None

    @property
    def windowed(self) -> bool:
        return self.window is not None


@dataclass(frozen=True)
class EntitySpec:
    name: str  # CLI name: users, accounts, events, preferences, ctas, cs-events
    family: Family
    description: str
    key: str | None  # API key field: identifyId, id, Gsid; None for events
    columns: tuple[Column, ...]
    custom: CustomFields | None = None
    modes: tuple[str, ...] = ("upsert",)
    idempotent: bool = True  # custom events and CS events are not: an unknown outcome is `uncertain`
    list_endpoint: ListEndpoint | None = None
    unique_key_in_file: bool = True  # a repeated key in one file is an error (`duplicate-key`)
    extra: dict[str, str] = field(default_factory=dict)
    product_key_field: str | None = None  # field that --product-key fills (propertyKeys / propertyKey)
    free_form: bool = False  # cs-events: any column is accepted, nested into the body by dots

    @property
    def default_mode(self) -> str:
        """The mode used when none is given: the first of `modes`."""
        return self.modes[0]

    def find_column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def writable_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.read_only)
