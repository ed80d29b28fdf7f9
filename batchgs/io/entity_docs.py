"""Column documentation derived from the entity specs: docs/entities.md and the templates' "Columns" sheet.

Both are rendered from the same `column_docs(spec)` so the Markdown reference, the .xlsx templates and
validation can never disagree. Run `python -m batchgs.io.entity_docs docs/entities.md` after changing a spec.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from batchgs.entities import registry
from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec
from batchgs.io.header_synonyms import AMBIGUOUS, synonyms_for

BOOLEAN_VALUES = ("true", "false")
BOOLEAN_HELP = "true, false (also yes/no, y/n, 1/0, any case)"

TYPE_HELP: dict[ColumnType, str] = {
    ColumnType.STRING: "text",
    ColumnType.ID: "text kept exactly as written (leading zeros, long digits); never a number",
    ColumnType.EMAIL: "a well-formed email address",
    ColumnType.INTEGER: "whole number",
    ColumnType.NUMBER: "number (decimal point `.`)",
    ColumnType.BOOLEAN: BOOLEAN_HELP,
    ColumnType.DATETIME: (
        "date-time: ISO 8601 with or without offset (without one: `--timezone`, default UTC), "
        "date only, epoch milliseconds, or an Excel date cell; sent as epoch milliseconds"
    ),
    ColumnType.DATE: "date: `YYYY-MM-DD` or an Excel date cell",
    ColumnType.STRING_LIST: "list of texts separated by commas (`AP-1,AP-2`) or a single value",
    ColumnType.ENUM: "one of the allowed values",
}

# Free-form entities (cs-events) have no fixed columns: the templates show these illustrative ones.
FREE_FORM_EXAMPLES: tuple[Column, ...] = (
    Column(
        "userEmail",
        ColumnType.EMAIL,
        description="Example field: replace these columns with the fields of your event's contract",
        example="ada@example.com",
    ),
    Column(
        "account.name",
        description='Example nested field: a dotted header becomes {"account": {"name": ...}}',
        example="Acme Corp",
    ),
    Column("usage.logins", ColumnType.NUMBER, description="Example number field", example="42"),
)


@dataclass(frozen=True)
class ColumnDoc:
    """One documented column as a person reads it (all text), plus the spec column it came from."""

    name: str
    type: str
    required: str  # "always", "on create", "on update", "no", "read-only", with a default when any
    allowed: str
    limits: str
    description: str
    example: str
    column: Column | None  # None for the custom-attribute placeholder


def custom_example_column(custom: CustomFields) -> Column:
    """The illustrative custom-field column a template shows (`custom.myAttribute`, `myField__gc`)."""
    if custom.suffix:
        name = f"myField{custom.suffix}"
        text = (
            f"A custom field of the object: its API name ends in {custom.suffix}. Rename this column to "
            "one of your fields, or delete it"
        )
    else:
        prefix = custom.header_prefixes[0] if custom.header_prefixes else ""
        name = f"{prefix}myAttribute"
        target = custom.payload_field or "the record"
        text = f"A value for {target}: rename `myAttribute` to the name of one of yours, or delete the column"
        if custom.metadata_model:
            text += (
                f" (it must exist in the PX {custom.metadata_model} attributes; "
                f"also accepted as {' or '.join(p + '<apiName>' for p in custom.header_prefixes)})"
            )
    return Column(name, ColumnType.STRING, description=text, example="example")


def template_columns(spec: EntitySpec) -> tuple[Column, ...]:
    """The columns of a template, in order: writable spec columns, then a custom-field example."""
    columns = spec.writable_columns or (FREE_FORM_EXAMPLES if spec.free_form else ())
    if spec.custom is not None:
        columns = (*columns, custom_example_column(spec.custom))
    return columns


def required_text(spec: EntitySpec, column: Column) -> str:
    """When a value is needed: the key always, required fields on create (always when create-only)."""
    if column.read_only:
        return "read-only"
    create_only = all(mode == "insert" for mode in spec.modes)
    if column.name == spec.key:
        if column.required:
            text = "always"
        elif "update" in spec.modes or "delete" in spec.modes:
            text = "on " + "/".join(m for m in spec.modes if m in ("update", "delete"))
        else:
            text = "no"
    elif column.required:
        text = "always" if create_only else "on create"
    else:
        text = "no"
    if column.default:
        text += f" ({column.default} when empty)"
    return text


def allowed_text(column: Column) -> str:
    if column.type is ColumnType.ENUM:
        return ", ".join(column.enum)
    if column.type is ColumnType.BOOLEAN:
        return BOOLEAN_HELP
    return ""


def limits_text(column: Column, custom: CustomFields | None = None) -> str:
    parts = []
    if column.max_length is not None:
        parts.append(f"at most {column.max_length:,} characters")
    if custom is not None:
        if custom.max_count is not None:
            parts.append(f"at most {custom.max_count} per row")
        if custom.max_name_length is not None:
            parts.append(f"names at most {custom.max_name_length:,} characters")
    return "; ".join(parts)


def column_docs(spec: EntitySpec, *, include_read_only: bool = False) -> list[ColumnDoc]:
    """Documentation rows for the template columns (and the read-only export columns when asked)."""
    columns = list(template_columns(spec))
    if include_read_only:
        columns += [c for c in spec.columns if c.read_only]
    custom_name = custom_example_column(spec.custom).name if spec.custom else None
    docs = []
    for col in columns:
        is_custom = col.name == custom_name
        docs.append(
            ColumnDoc(
                name=col.name,
                type="custom" if is_custom else col.type.value,
                required=required_text(spec, col),
                allowed=allowed_text(col),
                limits=limits_text(col, spec.custom if is_custom else None),
                description=col.description
                + (f" (also accepted as: {', '.join(col.aliases)})" if col.aliases else ""),
                example=col.example,
                column=None if is_custom else col,
            )
        )
    return docs


def _cell(text: str, *, code: bool = False) -> str:
    if not text:
        return ""
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if code else text


def render_entity(spec: EntitySpec) -> str:
    lines = [f"## {spec.name}", "", spec.description, ""]
    facts = [f"API: {spec.family.value.upper()}", f"modes: {', '.join(spec.modes)}"]
    facts.append(f"key: `{spec.key}`" if spec.key else "no key (every row creates a record)")
    if not spec.idempotent:
        facts.append("not idempotent: an unknown outcome is reported as `uncertain`, never re-sent")
    lines += ["; ".join(facts) + ".", ""]
    if spec.free_form:
        lines += [
            "Any columns are accepted. The template shows example columns only:",
            "",
        ]
    lines += [
        "| column | type | required | allowed values | limits | description | example |",
        "|---|---|---|---|---|---|---|",
    ]
    for doc in column_docs(spec, include_read_only=True):
        lines.append(
            "| "
            + " | ".join(
                (
                    _cell(doc.name, code=True),
                    _cell(doc.type),
                    _cell(doc.required),
                    _cell(doc.allowed),
                    _cell(doc.limits),
                    _cell(doc.description),
                    _cell(doc.example, code=True),
                )
            )
            + " |"
        )
    lines += _synonym_lines(spec)
    return "\n".join(lines) + "\n"


def _synonym_lines(spec: EntitySpec) -> list[str]:
    """The entity's header synonyms and ambiguous headers, from the one table in io/header_synonyms."""
    table = synonyms_for(spec.name)
    if not table:
        return []
    lines = ["", "Other headers taken for a field (when the header is no field name itself):", ""]
    lines += [f"- `{name}`: " + ", ".join(f"`{h}`" for h in headers) for name, headers in table.items()]
    ambiguous = AMBIGUOUS.get(spec.name, {})
    if ambiguous:
        refused = ", ".join(f"`{h}` ({' or '.join(fields)})" for h, fields in ambiguous.items())
        lines.append(f"- refused as ambiguous: {refused}; rename the column or map it with `--map`")
    return lines


def render_entities_markdown(specs: Sequence[EntitySpec] | None = None) -> str:
    """The whole of docs/entities.md, deterministic for a given set of specs."""
    specs = list(specs) if specs is not None else registry.all_specs()
    parts = [
        "# Entities and their columns",
        "",
        "<!-- Generated from batchgs/entities by `python -m batchgs.io.entity_docs docs/entities.md`"
        " (`make templates`). Do not edit by hand. -->",
        "",
        "Headers match API field names case-insensitively, ignoring spaces, `_` and `-`; a header that "
        "is no field name may be one of the other headers listed under its entity (`User ID`, `Job Title`, "
        "...), and one that could mean several fields is refused. `--map FILE` renames columns (a TOML map "
        "or the config.json of Gainsight's PX data loader; see the README). Columns whose "
        "header starts with `_` are never sent. Empty cells are left out of the request. Blank templates: "
        "`batchgs template ENTITY -o FILE.xlsx` or the files in `templates/`.",
        "",
        "Required: *always* = every row; *on create* = rows that create a record (insert, and upsert "
        "of a new key); update and delete rows only need the key. *read-only* columns come out of "
        "`batchgs export` and are skipped on import.",
        "",
        "| type | accepted values |",
        "|---|---|",
        *(f"| {t.value} | {TYPE_HELP[t]} |" for t in ColumnType),
        "| custom | a custom attribute or field; its type comes from the subscription |",
        "",
        "Entities: " + ", ".join(f"[{s.name}](#{s.name})" for s in specs) + ".",
        "",
    ]
    for spec in specs:
        parts.append(render_entity(spec))
    return "\n".join(parts)


def write_entities_markdown(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_entities_markdown(), encoding="utf-8", newline="\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m batchgs.io.entity_docs docs/entities.md", file=sys.stderr)
        return 2
    write_entities_markdown(Path(args[0]))
    print(f"wrote {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
