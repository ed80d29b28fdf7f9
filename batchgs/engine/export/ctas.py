"""`batchgs export ctas`: page the Cockpit CTA list into an export file.

`POST /v2/cockpit/cta/list` (or `/deleted/list` for CTAs deleted in the last 15 days) with pageSize
1,000 and pageNumber from 1; GSOBJ_1011 is an empty result, not a failure (transport.paging.cs_pages).
The records are flat already; their fields become the columns, in the order the API gives them
(first page), later ones appended. The file is written to a temporary name and renamed at the end,
so an interrupted export leaves no half file — and its resume simply pages again from the start.
Each page goes to the writer as one frame (`write_frame`: the same column-wise writing as the PX
exports); the records themselves come parsed by the transport, since a CS answer's envelope decides
whether it is a success.

`--filter` takes the PX syntax (`status==Open;type==Risk`, repeat for OR) on friendly names
(status, type, priority, reason, owner, company: a Gsid value compares the id, any other value the
name) or on any list field (`DueDate<2024-07-01`, `score__gc>3`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from batchgs.errors import Interrupted, UsageError
from batchgs.io.flatten import flatten
from batchgs.io.pages import frame_from_rows
from batchgs.io.write.formats import open_writer
from batchgs.transport.paging import MAX_PAGE_SIZE, cs_pages

LIST_PATH = "/v2/cockpit/cta/list"
DELETED_LIST_PATH = "/v2/cockpit/cta/deleted/list"
# The flat record of gainsight-api.md §2.2: the columns of an export that found nothing.
DEFAULT_COLUMNS = (
    "Gsid", "Name", "CompanyId", "CompanyId__gr.Name", "TypeId", "TypeId__gr.Name", "StatusId",
    "StatusId__gr.Name", "PriorityId", "ReasonId", "OwnerId", "DueDate", "ClosedDate", "IsClosed",
    "Comments",
)  # fmt: skip
ID_COLUMNS = ("Gsid", "CompanyId", "OwnerId", "TypeId", "StatusId", "PriorityId", "ReasonId")
TIMESTAMP_COLUMNS = ("CreatedDate", "ModifiedDate", "DeletedDate")
# friendly filter name → (id field, name field)
FILTER_FIELDS = {
    "status": ("StatusId", "StatusId__gr.Name"),
    "type": ("TypeId", "TypeId__gr.Name"),
    "priority": ("PriorityId", "PriorityId__gr.Name"),
    "reason": ("ReasonId", "ReasonId__gr.Name"),
    "owner": ("OwnerId", "OwnerId__gr.Name"),
    "company": ("CompanyId", "CompanyId__gr.Name"),
}
OPERATORS = (("==", "EQ"), ("!=", "NE"), (">=", "GTE"), ("<=", "LTE"), (">", "GT"), ("<", "LT"), ("~", "~"))
GSID = re.compile(r"^[0-9A-Za-z]{36}$")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass
class CtaExportOptions:
    """What an export writes; saved in the journal so `resume` repeats it exactly."""

    output: str
    force: bool = False
    filters: list[str] = field(default_factory=list)
    columns: list[str] | None = None
    sort: str | None = None
    deleted: bool = False
    raw: bool = False
    base_url: str | None = None

    def to_journal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_journal(cls, data: Mapping[str, Any]) -> CtaExportOptions:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def query(self) -> dict[str, Any]:
        """The list body without paging: `where` from the filters, `select`, `orderBy`."""
        body: dict[str, Any] = {}
        where = build_where(self.filters)
        if where is not None:
            body["where"] = where
        if self.columns:
            body["select"] = list(self.columns)
        if self.sort:
            body["orderBy"] = parse_sort(self.sort)
        return body


def _condition(term: str, alias: str) -> dict[str, Any]:
    at = [(term.find(sym), -len(sym), sym, op) for sym, op in OPERATORS if sym in term]
    if not at:
        raise UsageError(
            f"--filter {term!r}: no operator (use == != > >= < <= or ~)",
            hint="e.g. --filter 'status==Open;type==Risk' (repeat --filter for OR)",
        )
    _, _, symbol, operator = min(at)  # the first operator in the term; `>=` before `>`
    name, _, value = term.partition(symbol)
    name, value = name.strip(), value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if not FIELD.match(name):
        raise UsageError(f"--filter {term!r}: {name!r} is not a field name")
    friendly = FILTER_FIELDS.get(name.lower())
    if friendly is not None:
        name = friendly[0] if GSID.match(value) else friendly[1]
    if operator == "~":
        core = value.strip("*")
        if not core:
            raise UsageError(f"--filter {term!r}: nothing to match")
        starts, ends = value.endswith("*"), value.startswith("*")
        operator = (
            "STARTS_WITH" if starts and not ends else "ENDS_WITH" if ends and not starts else "CONTAINS"
        )
        value = core
    return {"fieldName": name, "alias": alias, "value": [value], "operator": operator}


def build_where(filters: Iterable[str]) -> dict[str, Any] | None:
    """`["status==Open;type==Risk", "owner==1P01..."]` → conditions + `(A AND B) OR (C)`."""
    conditions: list[dict[str, Any]] = []
    branches: list[str] = []
    for text in filters:
        terms = [t for t in (part.strip() for part in text.split(";")) if t]
        if not terms:
            continue
        aliases = []
        for term in terms:
            alias = f"C{len(conditions) + 1}"
            conditions.append(_condition(term, alias))
            aliases.append(alias)
        branches.append("(" + " AND ".join(aliases) + ")" if len(aliases) > 1 else aliases[0])
    if not conditions:
        return None
    return {"conditions": conditions, "expression": " OR ".join(branches)}


def parse_sort(text: str) -> dict[str, str]:
    """`Name;-DueDate` → `{"Name": "ASC", "DueDate": "DESC"}`."""
    order: dict[str, str] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name = part.lstrip("-+").strip()
        if not FIELD.match(name):
            raise UsageError(f"--sort {text!r}: {name!r} is not a field name")
        friendly = FILTER_FIELDS.get(name.lower())
        order[friendly[1] if friendly else name] = "DESC" if part.startswith("-") else "ASC"
    return order


def columns_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every field of the page, in the order the API gives them."""
    return list(dict.fromkeys(key for record in records for key in record))


@dataclass
class ExportResult:
    rows: int = 0
    pages: int = 0
    columns: list[str] = field(default_factory=list)
    late_columns: list[str] = field(default_factory=list)


async def export_ctas(
    client: Any,
    options: CtaExportOptions,
    *,
    stop_event: asyncio.Event | None = None,
    on_page: Callable[[ExportResult], None] | None = None,
) -> ExportResult:
    """Page the list into `options.output`. Raises Interrupted (nothing committed) when `stop_event`
    is set between pages; QuotaExhausted/FatalApiError/ResumableStop come from the transport."""
    path = Path(options.output)
    result = ExportResult()
    writer = None
    list_path = DELETED_LIST_PATH if options.deleted else LIST_PATH
    try:
        async for records, _info in cs_pages(client, list_path, options.query(), MAX_PAGE_SIZE):
            if writer is None:
                writer = _open(path, options, options.columns or columns_of(records))
            writer.write_frame(frame_from_rows([flatten(r) for r in records]))
            result.rows += len(records)
            result.pages += 1
            if on_page is not None:
                on_page(result)
            if stop_event is not None and stop_event.is_set():
                raise Interrupted("interrupted between pages: nothing was written (resume starts again)")
        if writer is None:
            writer = _open(path, options, options.columns or list(DEFAULT_COLUMNS))
        result.columns = list(writer.columns)
        result.late_columns = list(writer.late_columns)
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return result


def _open(path: Path, options: CtaExportOptions, columns: list[str]) -> Any:
    return open_writer(
        path,
        columns,
        date_columns=TIMESTAMP_COLUMNS,
        id_columns=ID_COLUMNS,
        raw=options.raw,
        force=options.force,
        extra_columns="ignore" if options.columns else "append",
    )
