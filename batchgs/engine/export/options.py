"""The options of one PX export, checked before anything is sent and saved in the journal so that
`batchgs resume` repeats the export exactly (same filters, same window, same slices).

`--filter` and `--sort` are checked against the PX syntax of gainsight-api.md §1.8 here, so a typo is
a usage error (exit 2) instead of a 400 after the run folder exists; ISO dates on date fields become
the epoch ms the API compares. `--since`/`--until` take
epoch milliseconds, an ISO date (`2024-01-31`: `--until` then means the end of that day) or an ISO
date-time (UTC unless it has an offset); they are resolved to epoch ms once, when the run starts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from batchgs.engine.export.entities import ExportEntity
from batchgs.errors import UsageError

DAY_MS = 86_400_000
DEFAULT_SLICES = 16
MAX_SLICES = 64
CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|!~|~|<|>)(.*)$", re.DOTALL)
_SORT_FIELD = re.compile(r"^[-+]?[A-Za-z_][\w.]*$")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ][\d:.]+([Zz]|[+-]\d{2}:?\d{2})?)?")


@dataclass
class ExportOptions:
    """What an export writes; JSON-serialisable for the journal (no secret in here)."""

    entity: str
    output: str
    force: bool = False
    filters: list[str] = field(default_factory=list)
    sort: str | None = None
    columns: list[str] | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    ids_file: str | None = None
    raw: bool = False
    bom: bool = False
    slices: int = DEFAULT_SLICES
    workers: int = 64  # per-user GETs in flight (preferences, denylist)
    page_size: int | None = None  # smaller pages than the API's largest (tests, debugging)
    base_url: str | None = None

    def to_journal(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_journal(cls, data: Mapping[str, Any]) -> ExportOptions:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def check_filters(filters: Iterable[str]) -> list[str]:
    """Each `--filter` is an AND of `field<op>value` clauses joined by `;` (repeat it for OR)."""
    out: list[str] = []
    for text in filters:
        clauses = [c for c in (part.strip() for part in str(text).split(";")) if c]
        if not clauses:
            continue
        checked = []
        for clause in clauses:
            match = CLAUSE.match(clause)
            if match is None:
                raise UsageError(
                    f"--filter {text!r}: {clause!r} is not field<op>value",
                    hint="operators == != < <= > >= ~ !~, e.g. --filter 'customAttributes.plan==pro;score>5'",
                )
            checked.append(_dates_as_epoch_ms(*match.groups()))
        out.append(";".join(checked))
    return out


def _dates_as_epoch_ms(name: str, op: str, value: str) -> str:
    """PX compares dates in filters as epoch ms: `lastSeenDate>=2026-01-01` would silently match
    nothing, so an ISO date or date-time on a `...Date` field becomes epoch ms (UTC unless it has an
    offset; a date alone is the start of that day, or its end for `<=` and `>`)."""
    text = value.strip()
    is_date_field = name.rsplit(".", 1)[-1].lower().endswith("date")
    if not is_date_field or op in ("~", "!~") or ISO_MOMENT.fullmatch(text) is None:
        return f"{name}{op}{value}"
    ms = parse_moment(text, end_of_day=op in ("<=", ">"), what=f"--filter {name}{op}")
    return f"{name}{op}{ms}"


def check_sort(text: str | None) -> str | None:
    """`field;-other` (a leading `-` sorts descending)."""
    if text is None or not text.strip():
        return None
    parts = [p.strip() for p in text.split(";") if p.strip()]
    for part in parts:
        if not _SORT_FIELD.match(part):
            raise UsageError(
                f"--sort {text!r}: {part!r} is not a field name", hint="e.g. --sort '-createDate'"
            )
    return ";".join(p.lstrip("+") for p in parts)


def sort_direction(sort: str | None, field_name: str) -> int | None:
    """+1 / -1 when the sort's first key is `field_name` (slices then keep the order), 0 for no sort,
    None for a sort on another field (a sliced export could not keep it)."""
    if not sort:
        return 0
    first = sort.split(";")[0]
    if first.lstrip("-") != field_name:
        return None
    return -1 if first.startswith("-") else 1


def parse_moment(text: str, *, end_of_day: bool = False, what: str = "--since") -> int:
    """Epoch ms from `1704067200000`, `2024-01-01`, `2024-01-01T10:00:00Z` or `...+02:00`."""
    value = text.strip()
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = dt.date.fromisoformat(value)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            ms = int(start.timestamp() * 1000)
            return ms + DAY_MS - 1 if end_of_day else ms
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a date",
            hint="use epoch milliseconds, 2024-01-31 or 2024-01-31T10:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def resolve_window(
    entity: ExportEntity, since: str | None, until: str | None, now_ms: int
) -> tuple[int | None, int | None]:
    """The history window in epoch ms (inclusive); the last day when neither is given (as the API)."""
    if not entity.windowed:
        if since or until:
            raise UsageError(
                f"--since/--until are for the event histories, not {entity.name}",
                hint=(
                    "filter on a date field instead, e.g. --filter 'createDate>=1704067200000'"
                    if entity.paging == "scroll"
                    else None
                ),
            )
        return None, None
    until_ms = parse_moment(until, end_of_day=True, what="--until") if until else now_ms
    since_ms = parse_moment(since, what="--since") if since else until_ms - DAY_MS
    if since_ms > until_ms:
        raise UsageError(f"--since is after --until ({since} > {until or 'now'})")
    return since_ms, until_ms


def check_slices(value: int | None) -> int:
    slices = DEFAULT_SLICES if value is None else int(value)
    if not 1 <= slices <= MAX_SLICES:
        raise UsageError(f"--slices must be between 1 and {MAX_SLICES}")
    return slices
