"""Headers → API fields.

Without a map file, a header matches an API field case-insensitively, ignoring spaces, `_` and `-`
(`Identify ID` → identifyId), else the headers real exports carry (io/header_synonyms.py: `User ID`,
`Job Title`, `Time Zone`, ...); a header that could mean several fields is refused with the choices.
Prefixed headers fill nested objects: `custom.<apiName>` / `customAttributes.<apiName>` →
customAttributes, `attributes.<name>` → event attributes, `location.<field>` → location. A TOML map
file (`--map`) renames headers, adds constants and ignores columns; Gainsight's PX data loader
config.json works as a map too (io/loader_config.py: columns it does not list are ignored, as the
loader does). Headers starting with `_` are never sent, so an errors.csv (with `_row`, `_code`, ...)
can be fixed and fed back as is. Unknown headers are a file-level error listing them all with a
suggestion (io/suggest.py), except on events with `extra_columns="attributes"`, where they become
attributes; read-only fields (exported but not writable) are skipped with a notice.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from batchgs.entities.spec import Column, EntitySpec
from batchgs.errors import InputFileError, UsageError
from batchgs.io.header_synonyms import ambiguous_fields, synonym_field
from batchgs.io.loader_config import sniff_loader_config
from batchgs.io.names import normalise
from batchgs.io.suggest import FieldSuggester

__all__ = ["ColumnMapping", "MapFile", "Target", "TargetKind", "describe", "map_headers", "normalise"]
EXTRA_COLUMNS = ("refuse", "attributes")


class TargetKind(StrEnum):
    STANDARD = "standard"  # a column of the spec
    CUSTOM = "custom"  # customAttributes.<apiName> / attributes.<name> / CS *__gc
    FREE = "free"  # cs-events: any header, nested by dots


@dataclass(frozen=True)
class Target:
    """Where one file column (or one map-file constant) goes in the payload."""

    header: str  # the header as in the file; for a constant: "<field> (constant)"
    path: tuple[str, ...]  # payload path: ("location", "city"), ("customAttributes", "plan")
    kind: TargetKind
    column: Column | None = None  # the spec column for STANDARD targets
    constant: str | None = None  # value of a map-file constant (no file column behind it)
    as_text: bool = False  # a custom value sent as the text written (loader configs: event attributes)

    @property
    def field(self) -> str:
        """The API field as one dotted name (`location.city`, `customAttributes.plan`)."""
        return ".".join(self.path)

    @property
    def custom_name(self) -> str | None:
        return self.path[-1] if self.kind is TargetKind.CUSTOM else None


@dataclass(frozen=True)
class MapFile:
    """The content of a `--map` file: a TOML map, or a px-data-loader config.json (`from_loader`)."""

    columns: dict[str, str] = field(default_factory=dict)  # "Header" = "apiField" ("" = ignore)
    constants: dict[str, str] = field(default_factory=dict)  # field = value, for every row
    ignore: tuple[str, ...] = ()  # headers never sent
    path: str = ""
    from_loader: bool = False  # loader semantics: unlisted columns and read-only fields are ignored


@dataclass
class ColumnMapping:
    targets: list[Target]  # file columns first (in header order), then constants
    ignored: list[str]  # headers deliberately not sent (`_...`, map `ignore`, read-only)
    notices: list[str]  # warnings worth showing; never errors
    from_loader: bool = False  # mapped by a px-data-loader config.json: its date rules apply too

    def target(self, api_field: str) -> Target | None:
        for target in self.targets:
            if target.field == api_field:
                return target
        return None


def load_map_file(path: str | Path) -> MapFile:
    """Read and check a TOML mapping file; every problem is an InputFileError naming the file."""
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputFileError(f"cannot read mapping file: {exc.strerror or exc}", path=where) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"not a valid TOML mapping file: {exc}", path=where) from None
    ignore: list[str] = []
    allowed = {"columns", "constants", "ignore"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputFileError(
            f"unknown key(s) in mapping file: {', '.join(unknown)}",
            path=where,
            hint='use [columns] "Header" = "apiField", [constants] field = value, ignore = ["Header", ...]',
        )
    tables: dict[str, dict[str, Any]] = {}
    for name in ("columns", "constants"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise InputFileError(f"[{name}] must be a table", path=where)
        table = dict(table)
        # `ignore = [...]` written after a table header lands inside that table in TOML: accept it.
        if isinstance(table.get("ignore"), list):
            ignore.extend(_text_list(table.pop("ignore"), where))
        tables[name] = table
    if "ignore" in data:
        ignore.extend(_text_list(data["ignore"], where))
    columns: dict[str, str] = {}
    for header, target in tables["columns"].items():
        if target is False:
            target = ""
        if not isinstance(target, str):
            raise InputFileError(f"[columns] {header!r} must map to an API field name (text)", path=where)
        columns[header] = target
    constants = {name: _constant_text(name, value, where) for name, value in tables["constants"].items()}
    return MapFile(columns=columns, constants=constants, ignore=tuple(ignore), path=where)


def _text_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputFileError("ignore must be a list of header names", path=where)
    return list(value)


def _constant_text(name: str, value: Any, where: str) -> str:
    """Constants go through the same checks as cells, so they are kept as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise InputFileError(
        f"[constants] {name!r} must be text, a number, a boolean or a list of text", path=where
    )


class _Resolver:
    """Resolves one header (or map-file field name) against a spec."""

    def __init__(self, spec: EntitySpec, custom_suggestions: Iterable[str] = ()) -> None:
        self.spec = spec
        self.by_name: dict[str, Column] = {}
        for col in spec.columns:
            for spelling in (col.name, *col.aliases):
                self.by_name.setdefault(normalise(spelling), col)
        self.read_only_prefixes = tuple(c.name.lower() + "." for c in spec.columns if c.read_only)
        self.suggester = FieldSuggester(spec, custom_suggestions)

    def resolve(self, header: str) -> Target | Column | None:
        """A Target, the read-only Column it names, or None when unknown."""
        name = header.strip()
        spec = self.spec
        if spec.free_form:
            parts = tuple(part.strip() for part in name.split("."))
            return Target(header, parts, TargetKind.FREE) if all(parts) else None
        col = self.by_name.get(normalise(name))
        if col is None:
            synonym = synonym_field(spec.name, name)
            col = spec.find_column(synonym) if synonym is not None else None
        if col is not None:
            if col.read_only:
                return col
            return Target(header, tuple(col.name.split(".")), TargetKind.STANDARD, column=col)
        lowered = name.lower()
        custom = spec.custom
        if custom is not None:
            for prefix in (
                *custom.header_prefixes,
                *((custom.payload_field + ".",) if custom.payload_field else ()),
            ):
                if lowered.startswith(prefix.lower()) and len(name) > len(prefix):
                    custom_name = name[len(prefix) :].strip()
                    return Target(header, (custom.payload_field, custom_name), TargetKind.CUSTOM)
            if custom.suffix and lowered.endswith(custom.suffix.lower()) and len(name) > len(custom.suffix):
                return Target(header, (name,), TargetKind.CUSTOM)
        if lowered.startswith(self.read_only_prefixes) or "__gr." in lowered:
            prefix = name.split(".", 1)[0]
            return spec.find_column(prefix) or Column(prefix, read_only=True)
        return None

    def did_you_mean(self, header: str) -> str | None:
        return self.suggester.suggest(header)


def read_map_file(path: str | Path, spec: EntitySpec) -> MapFile:
    """A `--map` file for `spec`: a px-data-loader config.json (recognised by content) or a TOML map."""
    loader = sniff_loader_config(path)
    if loader is None:
        return load_map_file(path)
    return MapFile(columns=loader.columns_for(spec.name), path=loader.path, from_loader=True)


def map_headers(
    headers: Sequence[str],
    spec: EntitySpec,
    map_file: MapFile | None = None,
    *,
    path: str | None = None,
    custom_names: Iterable[str] = (),
    extra_columns: str = "refuse",
) -> ColumnMapping:
    """Decide where every header goes. Raises InputFileError for unknown, ambiguous or clashing columns.

    `custom_names` (known custom attribute apiNames) only improves the did-you-mean of unknown headers.
    `extra_columns="attributes"` (events only) sends unknown headers as event attributes.
    """
    map_file = map_file or MapFile()
    if extra_columns not in EXTRA_COLUMNS:
        raise UsageError(f"--extra-columns must be one of {', '.join(EXTRA_COLUMNS)}")
    if extra_columns == "attributes" and (spec.custom is None or spec.custom.payload_field != "attributes"):
        raise UsageError(f"--extra-columns attributes is for events, not {spec.name}")
    custom_names = list(custom_names)
    prefix = spec.custom.header_prefixes[0] if spec.custom and spec.custom.header_prefixes else ""
    resolver = _Resolver(spec, [prefix + name for name in custom_names] if prefix else [])
    renames = {normalise(k): v for k, v in map_file.columns.items()}
    exact_renames = dict(map_file.columns)
    ignore = {normalise(h) for h in map_file.ignore}
    targets: list[Target] = []
    ignored: list[str] = []
    notices: list[str] = []
    unknown: list[str] = []
    unlisted: list[str] = []
    ambiguous: list[str] = []
    read_only: list[str] = []
    used_renames: set[str] = set()
    for position, header in enumerate(headers, start=1):
        if not header.strip():
            ignored.append(header)
            notices.append(f"column {position} has no header and is ignored")
            continue
        if header.startswith("_"):
            ignored.append(header)
            continue
        key = normalise(header)
        if key in ignore:
            ignored.append(header)
            continue
        rename = exact_renames.get(header, renames.get(key))
        if rename is not None:
            used_renames.add(normalise(header))
            if not rename.strip():
                ignored.append(header)
                continue
            resolved = resolver.resolve(rename)
            if isinstance(resolved, Column) and map_file.from_loader:
                ignored.append(header)  # the loader sends read-only fields; the API ignores them
                read_only.append(header)
                continue
            if resolved is None or not isinstance(resolved, Target):
                why = "a read-only field" if resolved is not None else "not a field of " + spec.name
                section = "fieldMapping" if map_file.from_loader else "[columns]"
                raise InputFileError(
                    f"mapping file: {section} {header!r} = {rename!r}: {rename!r} is {why}",
                    path=map_file.path or None,
                    hint=_did_you_mean_hint(resolver.did_you_mean(rename)),
                )
            as_text = map_file.from_loader and resolved.path[0] == "attributes"
            targets.append(Target(header, resolved.path, resolved.kind, resolved.column, as_text=as_text))
            continue
        if map_file.from_loader:
            ignored.append(header)  # the loader ignores columns its fieldMapping does not list
            unlisted.append(header)
            continue
        resolved = resolver.resolve(header)
        if resolved is None and ambiguous_fields(spec.name, header):
            ambiguous.append(header)
        elif resolved is None and extra_columns == "attributes" and spec.custom is not None:
            targets.append(Target(header, (spec.custom.payload_field, header.strip()), TargetKind.CUSTOM))
        elif resolved is None:
            unknown.append(header)
        elif isinstance(resolved, Column):
            ignored.append(header)
            read_only.append(header)
        else:
            targets.append(resolved)
    if ambiguous:
        raise InputFileError(
            "ambiguous "
            + ("column" if len(ambiguous) == 1 else "columns")
            + f" for {spec.name}: "
            + ", ".join(f"{h!r} could be {' or '.join(ambiguous_fields(spec.name, h))}" for h in ambiguous),
            path=path,
            hint="rename the column to the API field it holds, or map it with --map",
        )
    if unknown:
        described = []
        for header in unknown:
            guess = resolver.did_you_mean(header)
            described.append(f"{header!r} (did you mean {guess!r}?)" if guess else repr(header))
        what = "column" if len(unknown) == 1 else "columns"
        raise InputFileError(
            f"unknown {what} for {spec.name}: {', '.join(described)}",
            path=path,
            hint=_unknown_hint(spec),
        )
    if unlisted:
        notices.append(f"column(s) not in the loader config's fieldMapping, ignored: {', '.join(unlisted)}")
    if read_only:
        notices.append(f"read-only column(s) skipped, never sent: {', '.join(read_only)}")
    for header in map_file.columns:
        if normalise(header) not in used_renames:
            notices.append(f"mapping file: column {header!r} is not in the file")
    for name, value in map_file.constants.items():
        resolved = resolver.resolve(name)
        if resolved is None or not isinstance(resolved, Target):
            why = "a read-only field" if resolved is not None else "not a field of " + spec.name
            raise InputFileError(
                f"mapping file: [constants] {name!r}: {name!r} is {why}",
                path=map_file.path or None,
                hint=_did_you_mean_hint(resolver.did_you_mean(name)),
            )
        targets.append(
            Target(f"{name} (constant)", resolved.path, resolved.kind, resolved.column, constant=value)
        )
    _refuse_clashes(targets, path)
    return ColumnMapping(targets=targets, ignored=ignored, notices=notices, from_loader=map_file.from_loader)


def _refuse_clashes(targets: list[Target], path: str | None) -> None:
    """Two columns filling the same field, or a field that would be both a value and an object."""
    seen: dict[tuple[str, ...], str] = {}
    for target in targets:
        if target.path in seen:
            raise InputFileError(
                f"columns {seen[target.path]!r} and {target.header!r} both fill {target.field}",
                path=path,
                hint="keep one, rename the other with --map, or start its header with _ to ignore it",
            )
        seen[target.path] = target.header
    for target in targets:
        for other_path, other_header in seen.items():
            if len(other_path) > len(target.path) and other_path[: len(target.path)] == target.path:
                raise InputFileError(
                    f"columns {target.header!r} and {other_header!r} clash "
                    f"({target.field} cannot be both a value and an object)",
                    path=path,
                )


def _did_you_mean_hint(guess: str | None) -> str | None:
    return f"did you mean {guess!r}?" if guess else None


def _unknown_hint(spec: EntitySpec) -> str:
    parts = ["rename the column to an API field", 'map it with --map (TOML [columns] "Header" = "field")']
    if spec.custom is not None and spec.custom.header_prefixes:
        parts.append(f"use {spec.custom.header_prefixes[0]}<name> for a custom field")
    if spec.custom is not None and spec.custom.payload_field == "attributes":
        parts.append("pass --extra-columns attributes to send unknown columns as event attributes")
    parts.append("or start its header with _ to ignore it")
    return ", ".join(parts)


def mapping_from(
    headers: Sequence[str],
    spec: EntitySpec,
    map_path: str | Path | None,
    *,
    path: str | None = None,
    custom_names: Iterable[str] = (),
    extra_columns: str = "refuse",
) -> ColumnMapping:
    """`map_headers` with the map file read from `map_path` (None: no map file)."""
    map_file = read_map_file(map_path, spec) if map_path is not None else None
    return map_headers(
        headers, spec, map_file, path=path, custom_names=custom_names, extra_columns=extra_columns
    )


def describe(mapping: ColumnMapping) -> Mapping[str, str]:
    """header → API field, for `--verbose` output and tests."""
    return {t.header: t.field for t in mapping.targets}
