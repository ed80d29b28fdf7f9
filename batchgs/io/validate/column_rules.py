"""How each target of a mapping is checked: its conversion rule, when it is required, what fills it.

Requirements depend on the mode: insert/upsert need the create-required fields (propertyKeys may come
from --product-key, event userType has a default); update/delete need only the key. For CTAs, whose
Gsid the API assigns, an upsert row without a Gsid is a create and needs the create fields, a row
with one is an update. Custom attributes are typed by the subscription's catalog when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from batchgs.entities.spec import ColumnType, EntitySpec
from batchgs.errors import InputFileError, UsageError
from batchgs.io.mapping import ColumnMapping, Target, TargetKind
from batchgs.io.validate.attributes import AttributeCatalog
from batchgs.io.validate.convert import AUTO, REJECT, Rule
from batchgs.io.validate.dates import DateContext
from batchgs.io.validate.messages import IssueContext

# the documentation's product key (gainsight-api.md, templates): never a real one
PLACEHOLDER_PRODUCT_KEY = r"(?i)\bAP-X{4,}-\d+\b"

_ATTRIBUTE_TYPES = {
    "STRING": ColumnType.STRING,
    "NUMBER": ColumnType.NUMBER,
    "BOOLEAN": ColumnType.BOOLEAN,
    "DATE_TIME": ColumnType.DATETIME,
}


def resolve_mode(spec: EntitySpec, mode: str | None) -> str:
    """The mode to use: the given one, or the entity's own when it has no upsert and upsert was asked."""
    if mode is None or (mode == "upsert" and mode not in spec.modes):
        return spec.default_mode
    if mode not in spec.modes:
        raise UsageError(
            f"--mode {mode} is not available for {spec.name}", hint=f"use {' or '.join(spec.modes)}"
        )
    return mode


@dataclass
class FieldPlan:
    """One target compiled for checking: where it comes from, how it converts, when it is required."""

    target: Target
    rule: Rule
    name: str | None  # the batch column it reads; None for constants and absent columns
    label: str  # RowIssue.column: the header, or the field for constants and absent columns
    required: str = "never"  # "always" | "create" (only rows without a key) | "never"
    fill: str | None = None  # value used when empty (default, --product-key)
    context: IssueContext | None = None

    @property
    def constant(self) -> str | None:
        return self.target.constant


@dataclass
class CompiledPlans:
    plans: list[FieldPlan]
    key_plan: FieldPlan | None
    notices: list[str] = field(default_factory=list)


def compile_plans(
    spec: EntitySpec,
    mapping: ColumnMapping,
    headers: Sequence[str],
    *,
    mode: str,
    product_key: str | None,
    catalog: AttributeCatalog | None,
    dates: DateContext,
    path: str | None = None,
) -> CompiledPlans:
    """One FieldPlan per target (plus defaults and per-row requirements); InputFileError when a
    column required in every row is absent from the file."""
    if product_key and re.search(PLACEHOLDER_PRODUCT_KEY, product_key):
        raise UsageError(
            f"product key {product_key!r} is the placeholder of the documentation, not a product key",
            hint="pass your own (Gainsight PX > Administration > Products) with --product-key or "
            "GAINSIGHT_PX_PRODUCT_KEY",
        )
    builder = _Builder(spec, mapping, list(headers), mode, product_key, catalog, dates, path)
    builder.build()
    return CompiledPlans(builder.plans, builder.key_plan, builder.notices)


class _Builder:
    def __init__(
        self,
        spec: EntitySpec,
        mapping: ColumnMapping,
        headers: list[str],
        mode: str,
        product_key: str | None,
        catalog: AttributeCatalog | None,
        dates: DateContext,
        path: str | None,
    ) -> None:
        self.spec, self.mapping, self.headers, self.mode = spec, mapping, headers, mode
        self.product_key, self.catalog, self.dates, self.path = product_key, catalog, dates, path
        self.plans: list[FieldPlan] = []
        self.key_plan: FieldPlan | None = None
        self.notices: list[str] = []

    def build(self) -> None:
        spec, mode = self.spec, self.mode
        targets = list(self.mapping.targets)
        if mode == "delete":
            kept = [t for t in targets if t.path == (spec.key,)]
            dropped = [t.header for t in targets if t not in kept]
            if dropped:
                self.notices.append(f"--mode delete sends only {spec.key}; ignored: {', '.join(dropped)}")
            targets = kept
        present = {t.path for t in targets}
        has_key_column = spec.key is not None and (spec.key,) in present
        missing: list[str] = []
        for col in spec.writable_columns:
            path = tuple(col.name.split("."))
            if path in present:
                continue
            fill = self._fill(col.name, col.default)
            required = self._requirement(col.name, col.required)
            if fill is not None and mode != "delete":
                targets.append(Target(f"{col.name} (default)", path, TargetKind.STANDARD, col, constant=fill))
            elif required == "always" or (required == "create" and not has_key_column):
                hint = " (or --product-key)" if col.name == spec.product_key_field else ""
                missing.append(col.name + hint)
            elif required == "create":  # checked row by row: only rows without a key create
                targets.append(Target(col.name, path, TargetKind.STANDARD, col))
        if missing:
            what = "column" if len(missing) == 1 else "columns"
            raise InputFileError(
                f"missing required {what} for {spec.name} --mode {mode}: {', '.join(missing)}",
                path=self.path,
                hint="use --mode update to change existing records only" if mode == "upsert" else None,
            )
        rejected: list[str] = []
        for target in targets:
            plan = self._plan(target)
            if plan.rule.kind == REJECT:
                rejected.append(target.header)
            self.plans.append(plan)
            if spec.key is not None and target.path == (spec.key,):
                self.key_plan = plan
        if rejected:
            self.notices.append(
                f"column(s) that cannot be sent, reported on every filled row: {', '.join(rejected)}"
            )

    def _fill(self, name: str, default: str | None) -> str | None:
        """The value an empty cell of field `name` takes (--product-key, the column default) in a
        create (insert/upsert): an update must not overwrite what it was not given."""
        if self.mode not in ("insert", "upsert"):
            return None
        if name == self.spec.product_key_field and self.product_key:
            return self.product_key
        return default

    def _requirement(self, name: str, create_required: bool) -> str:
        """ "always", "create" (only rows without a key, CTAs in upsert) or "never"."""
        spec, mode = self.spec, self.mode
        key_column = spec.find_column(spec.key) if spec.key is not None else None
        server_key = key_column is not None and not key_column.required  # CTAs: the API assigns Gsid
        if name == spec.key:
            return "always" if mode in ("update", "delete") or not server_key else "never"
        if create_required and mode in ("insert", "upsert"):
            return "create" if server_key and mode == "upsert" else "always"
        return "never"

    def _plan(self, target: Target) -> FieldPlan:
        col = target.column
        rule, problem, canonical = self._rule(target)
        if canonical is not None and canonical != target.path[-1]:
            target = replace(target, path=(*target.path[:-1], canonical))
        from_file = target.constant is None and target.header in self.headers
        required, fill, hint = "never", None, None
        if col is not None:
            fill = self._fill(col.name, col.default)
            required = self._requirement(col.name, col.required)
            if col.name == self.spec.product_key_field:
                hint = "or pass --product-key"
        elif target.as_text:
            fill = ""  # the loader sends an empty attribute cell as "", so a loader config does too
        context = IssueContext(
            field=target.field, rule=rule, dates=self.dates, problem=problem, fill_hint=hint
        )
        return FieldPlan(
            target,
            rule,
            name=target.header if from_file else None,
            label=target.header if from_file else target.field,
            required=required,
            fill=fill,
            context=context,
        )

    def _rule(self, target: Target) -> tuple[Rule, str | None, str | None]:
        """(conversion rule, why it cannot be sent, the catalog's spelling of a custom name)."""
        spec = self.spec
        if target.kind is TargetKind.STANDARD and target.column is not None:
            col = target.column
            placeholder = PLACEHOLDER_PRODUCT_KEY if col.name == spec.product_key_field else None
            rule = Rule(
                col.type.value,
                enum=col.enum,
                max_length=col.max_length,
                varying_width=col.varying_width,
                placeholder=placeholder,
            )
            return rule, None, None
        custom = spec.custom
        name = target.custom_name or target.field
        if target.as_text:  # a loader config's event attribute: sent as written, like the loader does
            return Rule(ColumnType.STRING.value), None, None
        if custom is not None and custom.max_name_length is not None and len(name) > custom.max_name_length:
            problem = f"attribute name is {len(name)} characters, at most {custom.max_name_length}"
            return Rule(REJECT, reject_code="too-long"), problem, None
        catalog = self.catalog
        if (
            catalog is not None
            and custom is not None
            and custom.metadata_model
            and target.kind is TargetKind.CUSTOM
        ):
            found = catalog.lookup(name)
            if found.attribute is None:
                return Rule(REJECT, reject_code="unknown-attribute"), found.problem, None
            kind = _ATTRIBUTE_TYPES.get(found.attribute.type, ColumnType.STRING)
            return Rule(kind.value), None, found.attribute.api_name
        iso = spec.family.value == "cs" or (custom is not None and custom.metadata_model is None)
        return Rule(AUTO, auto_dates="iso" if iso else "epoch"), None, None
