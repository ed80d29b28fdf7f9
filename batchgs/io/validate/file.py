"""Validation of a whole file against an entity spec: the offline half of every import.

    validation = prepare(path, spec, ValidateOptions(mode="upsert", timezone="Europe/Paris"))
    for batch in validation.batches(10_000):      # bounded memory, rows in file order
        for row in batch:                          # ValidatedRow: .row .original .payload .issues
            ...                                    #   .warnings .key
    issues = list(validation.issues_only())        # fast path: no payload dicts are built
    for row in validation.flagged_rows():          # invalid rows and rows with warnings only
        ...

`prepare` opens the file and maps its headers (file-level problems such as unknown columns raise
InputFileError at once); no row is read yet. Rows are checked batch by batch with Polars expressions
(batchgs.io.validate.convert); a pre-pass over the key, id and date columns finds what only the whole file
shows (repeated keys, dropped leading zeros, mixed day/month orders, a column of numbers with one
`1,000`, template example rows). Every problem of a row is reported, each naming its column.

Issues make a row invalid: only what the API would refuse or what is provably damaged. Warnings are
suspicions: the row is sent as written (ValidateOptions.strict_warnings turns them into issues).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from batchgs.entities.spec import ColumnType, EntitySpec
from batchgs.errors import UsageError
from batchgs.io.mapping import ColumnMapping, TargetKind, mapping_from
from batchgs.io.rows import EXAMPLE_COLUMN, RowIssue, ValidatedRow
from batchgs.io.validate.checks import Duplicates, FactCollector
from batchgs.io.validate.column_rules import FieldPlan, compile_plans, resolve_mode
from batchgs.io.validate.convert import (
    AUTO,
    ColumnFacts,
    Hints,
    as_instance,
    convert,
    is_fast_date,
    text_of,
)
from batchgs.io.validate.dates import (
    EPOCH_SHAPE,
    DateContext,
    SlashEvidence,
    choose_formats,
    date_codes,
    general_dates,
)
from batchgs.io.validate.messages import message, spreadsheet_row
from batchgs.io.validate.payload import build_payload
from batchgs.io.validate.sources import FrameSource, TableLike, ValidateOptions

__all__ = ["FrameSource", "TableLike", "ValidateOptions", "Validation", "prepare", "prepare_source"]

PREPASS_BATCH = 200_000
FAST_BATCH = 200_000
SAMPLE_SIZE = 64  # values looked at to choose the fast date formats of a batch
_ROW = "__row"


@dataclass
class _Facts:
    rows: int = 0
    duplicates: Duplicates = field(default_factory=Duplicates)
    later_sorted: list[int] = field(default_factory=list)
    first_sorted: list[int] = field(default_factory=list)
    widths: dict[str, int | None] = field(default_factory=dict)
    slash: dict[str, SlashEvidence] = field(default_factory=dict)
    number_rows: dict[str, int | None] = field(default_factory=dict)
    examples: list[int] = field(default_factory=list)  # 0-based rows marked in EXAMPLE_COLUMN: skipped


def prepare(path: str | Path, spec: EntitySpec, options: ValidateOptions) -> Validation:
    """Open `path`, map its headers and compile the checks. No row is read yet."""
    from batchgs.io.read.tables import open_table

    source = open_table(Path(path), sheet=options.sheet)
    return prepare_source(source, spec, options, path=str(path))


def prepare_source(
    source: TableLike, spec: EntitySpec, options: ValidateOptions, *, path: str | None = None
) -> Validation:
    """`prepare` for an already opened table (any object with `.headers` and `.batches(size)`)."""
    try:
        ZoneInfo(options.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {options.timezone!r}", hint="use an IANA name such as Europe/Paris or UTC"
        ) from None
    mode = resolve_mode(spec, options.mode)
    catalog = options.attributes
    mapping = mapping_from(
        source.headers,
        spec,
        options.mapping_file,
        path=path,
        custom_names=catalog.names() if catalog is not None else (),
        extra_columns=options.extra_columns,
    )
    return Validation(source, spec, replace(options, mode=mode), mapping, path=path)


class Validation:
    """A prepared file: `.headers`, `.notices`, `.source`, then `batches()` or `issues_only()`."""

    def __init__(
        self,
        source: TableLike,
        spec: EntitySpec,
        options: ValidateOptions,
        mapping: ColumnMapping,
        *,
        path: str | None = None,
    ) -> None:
        self.source = source
        self.spec = spec
        self.options = options
        self.mode = options.mode
        self.mapping = mapping
        self.path = path
        self.headers: list[str] = list(source.headers)
        self.notices: list[str] = [*getattr(source, "warnings", []), *mapping.notices]
        dst_rule: Literal["first", "standard"] = "standard" if mapping.from_loader else "first"
        self.dates = DateContext(options.timezone, options.date_format, dst_rule)
        compiled = compile_plans(
            spec,
            mapping,
            self.headers,
            mode=self.mode,
            product_key=options.product_key,
            catalog=options.attributes,
            dates=self.dates,
            path=path,
        )
        self.plans: list[FieldPlan] = compiled.plans
        self.key_plan: FieldPlan | None = compiled.key_plan
        self.notices += compiled.notices
        if EXAMPLE_COLUMN in self.headers:
            self.notices.append(
                f"rows with a value in column {EXAMPLE_COLUMN} are a template's example rows: "
                "skipped, never sent"
            )
        self._facts: _Facts | None = None
        self._compiled: dict[tuple[Any, ...], tuple[list[pl.Expr], list[pl.Expr]]] = {}

    def close(self) -> None:
        """Release the reader's temporary files (a transcoded copy of a UTF-16 file, ...)."""
        closer = getattr(self.source, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> Validation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- facts
    def _collect_facts(self) -> _Facts:
        if self._facts is not None:
            return self._facts
        key = self.key_plan if self.spec.unique_key_in_file else None
        slash = [p for p in self.plans if self._wants_slash(p)]
        ids = [
            p
            for p in self.plans
            if p.rule.kind == ColumnType.ID and p.name is not None and not p.rule.varying_width
        ]
        autos = [p for p in self.plans if p.rule.kind == AUTO and p.name is not None]
        wanted = {p.name for p in (*slash, *ids, *autos, *([key] if key else [])) if p.name is not None}
        marked = EXAMPLE_COLUMN in self.headers
        if marked:
            wanted.add(EXAMPLE_COLUMN)
        examples: list[int] = []
        collector = FactCollector(
            self._alias(key) if key is not None and key.name is not None else None,
            [self._alias(p) for p in slash],
            [self._alias(p) for p in ids],
            [self._alias(p) for p in autos],
        )
        rows = 0
        for batch in self._read(PREPASS_BATCH, sorted(wanted)):
            columns = [
                text_of(pl.col(str(p.name)), batch.schema[str(p.name)]).alias(self._alias(p))
                for p in self.plans
                if p.name in wanted and p.name in batch.columns
            ]
            if columns:
                collector.add(batch.select(columns), rows)
            if marked:
                marks = batch.get_column(EXAMPLE_COLUMN).cast(pl.String)
                hits = marks.str.strip_chars().replace("", None).is_not_null()
                examples += [rows + int(i) for i in hits.arg_true()]
            rows += batch.height
        duplicates = collector.duplicates()
        widths = collector.id_widths()
        facts = _Facts(
            rows=rows,
            duplicates=duplicates,
            later_sorted=sorted(duplicates.later),
            first_sorted=sorted(duplicates.first_rows),
            widths={p.label: widths.get(self._alias(p)) for p in ids},
            slash={p.label: collector.slash[self._alias(p)] for p in slash},
            number_rows={p.label: collector.number_rows[self._alias(p)] for p in autos},
            examples=examples,
        )
        for plan in self.plans:
            if plan.context is not None:
                plan.context = replace(
                    plan.context,
                    slash=facts.slash.get(plan.label),
                    id_width=facts.widths.get(plan.label),
                    number_row=facts.number_rows.get(plan.label),
                )
        self._facts = facts
        return facts

    def _wants_slash(self, plan: FieldPlan) -> bool:
        return (
            plan.name is not None
            and not self.dates.date_format
            and plan.rule.kind in (ColumnType.DATETIME.value, ColumnType.DATE.value)
        )

    def _alias(self, plan: FieldPlan) -> str:
        return f"p{self.plans.index(plan)}"

    def _read(self, size: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        yield from self.source.batches(size, columns)

    def row_count(self) -> int:
        """Data rows in the file, without template example rows (the pre-pass counts them)."""
        facts = self._collect_facts()
        return facts.rows - len(facts.examples)

    # ----------------------------------------------------------------- checking
    def _source(self, plan: FieldPlan, batch: pl.DataFrame) -> tuple[pl.Expr, pl.DataType]:
        if plan.name is not None and plan.name in batch.columns:
            return pl.col(plan.name), as_instance(batch.schema[plan.name])
        if plan.constant is not None:
            return pl.lit(plan.constant, pl.String), pl.String()
        return pl.lit(None, pl.String), pl.String()

    def _hints(self, batch: pl.DataFrame) -> dict[int, Hints]:
        """A cheap look at the batch: date shapes of its first values, lists, enums, quoted cells."""
        found: dict[int, dict[str, Any]] = {}
        checks: list[tuple[int, str, pl.Expr]] = []
        for index, plan in enumerate(self.plans):
            if plan.name is None or plan.name not in batch.columns:
                continue
            if not isinstance(as_instance(batch.schema[plan.name]), pl.String):
                continue
            column, kind = pl.col(plan.name), plan.rule.kind
            checks.append((index, "quoted", column.str.starts_with("'").any()))
            if kind in (ColumnType.DATETIME, ColumnType.DATE):
                values = (
                    batch.get_column(plan.name).drop_nulls().head(SAMPLE_SIZE).str.strip_chars().to_list()
                )
                found.setdefault(index, {}).update(
                    date_formats=choose_formats(values), epoch=any(EPOCH_SHAPE.fullmatch(v) for v in values)
                )
            elif kind == ColumnType.STRING_LIST:
                checks.append((index, "list_separators", column.str.contains("[,;]").any()))
            elif kind == ColumnType.ENUM:
                checks.append(
                    (index, "canonical_enum", (column.is_in(plan.rule.enum) | column.is_null()).all())
                )
        if checks:
            results = batch.select(expr.alias(str(i)) for i, (_, _, expr) in enumerate(checks)).row(0)
            for (index, what, _), seen in zip(checks, results, strict=True):
                found.setdefault(index, {})[what] = bool(seen)
        return {index: Hints(**fields) for index, fields in found.items()}

    def _expressions(
        self, batch: pl.DataFrame, hints: dict[int, Hints]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        """Two stages: the cells as stripped text (x*), then values, codes, tags, key (from x*)."""
        schema = tuple((name, as_instance(dtype)) for name, dtype in batch.schema.items())
        signature = (schema, tuple(sorted(hints.items())))
        cached = self._compiled.get(signature)
        if cached is not None:
            return cached
        facts = self._collect_facts()
        texts: list[pl.Expr] = []
        exprs: list[pl.Expr] = []
        custom_texts: list[pl.Expr] = []
        key_text: pl.Expr | None = None
        for index, plan in enumerate(self.plans):
            source, dtype = self._source(plan, batch)
            text = text_of(source, dtype, unquote=index in hints and hints[index].quoted)
            if plan.name is not None and plan.name in batch.columns:
                texts.append(text.alias(f"__batchgs_x{index}"))
                text = pl.col(f"__batchgs_x{index}")
            if plan is self.key_plan:
                key_text = text
        for index, plan in enumerate(self.plans):
            source, dtype = self._source(plan, batch)
            text = (
                pl.col(f"__batchgs_x{index}")
                if plan.name is not None and plan.name in batch.columns
                else text_of(source, dtype)
            )
            column_facts = ColumnFacts(
                slash=facts.slash.get(plan.label),
                id_width=facts.widths.get(plan.label),
                number_row=facts.number_rows.get(plan.label),
            )
            converted = convert(plan.rule, source, dtype, self.dates, column_facts, hints.get(index), text)
            value, code = converted.value, converted.code
            if converted.warning is not None:
                if self.options.strict_warnings:  # --strict-warnings: a suspicion blocks the row
                    code = pl.coalesce(code, converted.warning)
                else:
                    exprs.append(converted.warning.cast(pl.String).alias(f"w{index}"))
            if plan.fill is not None:
                if plan.rule.kind == ColumnType.STRING_LIST:
                    fill = pl.lit(pl.Series([[plan.fill]], dtype=pl.List(pl.String))).first()
                    value = pl.coalesce(value, fill)
                else:
                    value = pl.coalesce(value, pl.lit(plan.fill))
            elif plan.required != "never":
                needed = pl.lit(True) if plan.required == "always" or key_text is None else key_text.is_null()
                code = pl.when(text.is_null() & needed).then(pl.lit("missing-required")).otherwise(code)
            exprs += [value.alias(f"v{index}"), code.cast(pl.String).alias(f"c{index}")]
            if converted.tag is not None:
                exprs.append(converted.tag.alias(f"t{index}"))
            if plan.target.kind is not TargetKind.STANDARD and plan.name is not None:
                custom_texts.append(text.is_not_null())
        exprs.append((key_text if key_text is not None else pl.lit(None, pl.String)).alias("k"))
        custom = self.spec.custom
        limit = custom.max_count if custom is not None else None
        too_many = pl.lit(None, pl.String)
        if limit is not None and len(custom_texts) > limit:
            too_many = pl.when(pl.sum_horizontal(custom_texts) > limit).then(pl.lit("too-many-attributes"))
        exprs.append(too_many.alias("c_rows"))
        self._compiled[signature] = (texts, exprs)
        return texts, exprs

    def _check(self, batch: pl.DataFrame, offset: int) -> pl.DataFrame:
        """The batch's values (v*), codes (c*), tags (t*), key text (k) and an `invalid` flag."""
        facts = self._collect_facts()
        texts, exprs = self._expressions(batch, self._hints(batch))
        frame = batch.with_columns(texts).select(exprs)
        for index, plan in enumerate(self.plans):
            if is_fast_date(plan.rule, self._source(plan, batch)[1]):
                frame = self._recheck_dates(batch, frame, index)
        frame = frame.with_row_index(_ROW, offset=offset)
        lo = bisect.bisect_left(facts.later_sorted, offset)
        hi = bisect.bisect_left(facts.later_sorted, offset + batch.height)
        duplicated = facts.later_sorted[lo:hi]
        dup = pl.when(pl.col(_ROW).is_in(duplicated)).then(pl.lit("duplicate-key")) if duplicated else None
        frame = frame.with_columns((dup if dup is not None else pl.lit(None, pl.String)).alias("c_dup"))
        codes = [c for c in frame.columns if c.startswith("c")]
        warnings = [c for c in frame.columns if c.startswith("w")]
        return frame.with_columns(
            invalid=pl.any_horizontal(pl.col(codes).is_not_null()),
            warned=pl.any_horizontal(pl.col(warnings).is_not_null()) if warnings else pl.lit(False),
        )

    def _recheck_dates(self, batch: pl.DataFrame, frame: pl.DataFrame, index: int) -> pl.DataFrame:
        """Cells the fast date formats rejected go through the general parser (usually none)."""
        code_name, value_name = f"c{index}", f"v{index}"
        mask = frame.get_column(code_name).eq("bad-date").fill_null(False)
        if not mask.any():
            return frame
        plan = self.plans[index]
        source, dtype = self._source(plan, batch)
        texts = (
            batch.filter(mask)
            .with_columns(text_of(source, dtype, unquote=True).alias("__batchgs_t"))
            .get_column("__batchgs_t")
        )
        slash = self._collect_facts().slash.get(plan.label)
        parsed = general_dates(texts, self.dates, slash)
        field = "epoch_ms" if plan.rule.kind == ColumnType.DATETIME else "local_date"
        rows = mask.arg_true()
        values = frame.get_column(value_name).clone()
        codes = frame.get_column(code_name).clone()
        values.scatter(rows, parsed.get_column(field).cast(values.dtype))
        codes.scatter(rows, date_codes(parsed, field))
        return frame.with_columns(values.alias(value_name), codes.alias(code_name))

    def _first_keys(self, frame: pl.DataFrame, seen: dict[int, str]) -> None:
        """Remember the key text of first occurrences, to tell real duplicates from hash collisions."""
        firsts = self._collect_facts().first_sorted
        if not firsts or not frame.height:
            return
        start = frame[_ROW][0]
        wanted = firsts[bisect.bisect_left(firsts, start) : bisect.bisect_left(firsts, start + frame.height)]
        if wanted:
            for row, key in frame.filter(pl.col(_ROW).is_in(wanted)).select(_ROW, "k").iter_rows():
                seen[row] = key

    def _issues(
        self, row: dict[str, Any], original: dict[str, str], first_keys: dict[int, str]
    ) -> list[RowIssue]:
        index = row[_ROW]
        number = spreadsheet_row(index)
        issues: list[RowIssue] = []
        for i, plan in enumerate(self.plans):
            code = row[f"c{i}"]
            if code is not None:
                raw = plan.constant if plan.name is None else original.get(plan.label, "").strip()
                assert plan.context is not None
                issues.append(RowIssue(number, plan.label, code, message(code, raw, plan.context)))
            if plan is self.key_plan and row["c_dup"] is not None:
                first = self._collect_facts().duplicates.later[index]
                if first_keys.get(first, row["k"]) == row["k"]:  # a hash collision is not a duplicate
                    text = f"{row['k']!r} already appears in row {spreadsheet_row(first)}"
                    issues.append(RowIssue(number, plan.label, "duplicate-key", text))
        if row["c_rows"] is not None and self.spec.custom is not None:
            count = sum(
                1 for p in self.plans if p.target.kind is not TargetKind.STANDARD and original.get(p.label)
            )
            issues.append(
                RowIssue(
                    number,
                    self.spec.custom.payload_field or None,
                    "too-many-attributes",
                    f"{count} attributes, at most {self.spec.custom.max_count} per event",
                )
            )
        return issues

    def _warnings(self, row: dict[str, Any], original: dict[str, str]) -> list[RowIssue]:
        number = spreadsheet_row(row[_ROW])
        found: list[RowIssue] = []
        for i, plan in enumerate(self.plans):
            code = row.get(f"w{i}")
            if code is not None:
                raw = plan.constant if plan.name is None else original.get(plan.label, "").strip()
                assert plan.context is not None
                found.append(RowIssue(number, plan.label, code, message(code, raw, plan.context)))
        return found

    def _originals(self, batch: pl.DataFrame) -> list[dict[str, str]]:
        texts = batch.select(
            _original_text(pl.col(name), batch.schema[name]).fill_null("").alias(name)
            for name in batch.columns
        )
        names = self.headers if len(self.headers) == batch.width else list(batch.columns)
        return [dict(zip(names, values, strict=True)) for values in texts.iter_rows()]

    def _walk(self, size: int) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """(checked frame, original batch) pairs in file order."""
        self._collect_facts()
        offset = 0
        for batch in self._read(size):
            frame = self._check(batch, offset)
            examples = self._collect_facts().examples
            first = offset
            offset += batch.height
            if examples and first <= examples[-1]:  # template example rows are never sent
                keep = ~frame[_ROW].is_in(examples)
                frame, batch = frame.filter(keep), batch.filter(keep)
            yield frame, batch

    def batches(self, size: int = 10_000) -> Iterator[list[ValidatedRow]]:
        """Every row, checked, with its payload built when valid. Memory is bounded by `size`."""
        first_keys: dict[int, str] = {}
        paths = [p.target.path for p in self.plans]
        for frame, batch in self._walk(size):
            self._first_keys(frame, first_keys)
            originals = self._originals(batch)
            value_cols = [f"v{i}" for i in range(len(self.plans))]
            tag_cols = [f"t{i}" if f"t{i}" in frame.columns else None for i in range(len(self.plans))]
            out: list[ValidatedRow] = []
            for row, original in zip(frame.iter_rows(named=True), originals, strict=True):
                issues = self._issues(row, original, first_keys) if row["invalid"] else []
                warnings = self._warnings(row, original) if row["warned"] else []
                payload = None
                if not issues:
                    values = [row[c] for c in value_cols]
                    tags = [row[c] if c is not None else None for c in tag_cols]
                    payload = build_payload(paths, values, tags)
                number = spreadsheet_row(row[_ROW])
                out.append(ValidatedRow(number, original, payload, row["k"], issues, warnings))
            yield out

    def valid_keys(self, size: int = FAST_BATCH) -> Iterator[tuple[int, str]]:
        """(spreadsheet row, key) of the rows that pass the checks, without building payloads: what a
        run that reads the current records first needs (a rare row flagged only by a hash collision
        is left out; the engine reads such a key when it meets the row)."""
        for frame, _batch in self._walk(size):
            ok = frame.filter(~pl.col("invalid") & pl.col("k").is_not_null())
            yield from zip(
                (ok[_ROW] + spreadsheet_row(0)).to_list(), ok["k"].cast(pl.String).to_list(), strict=True
            )

    def invalid_rows(self, size: int = FAST_BATCH) -> Iterator[ValidatedRow]:
        """Only the invalid rows (payload None), with their originals: what errors.csv needs."""
        for row in self.flagged_rows(size):
            if row.issues:
                yield row

    def flagged_rows(self, size: int = FAST_BATCH) -> Iterator[ValidatedRow]:
        """The rows with issues (invalid: payload None) or only warnings (payload not built), in order.

        One pass for errors.csv and warnings.csv alike: `row.issues` non-empty means invalid.
        """
        first_keys: dict[int, str] = {}
        for frame, batch in self._walk(size):
            self._first_keys(frame, first_keys)
            mask = frame["invalid"] | frame["warned"]
            if not mask.any():
                continue
            bad, batch = frame.filter(mask), batch.filter(mask)
            for row, original in zip(bad.iter_rows(named=True), self._originals(batch), strict=True):
                issues = self._issues(row, original, first_keys) if row["invalid"] else []
                warnings = self._warnings(row, original) if row["warned"] else []
                if issues or warnings:
                    number = spreadsheet_row(row[_ROW])
                    yield ValidatedRow(number, original, None, row["k"], issues, warnings)

    def issues_only(self, size: int = FAST_BATCH) -> Iterator[RowIssue]:
        """Every issue of every row, in file order, without building payloads."""
        for row in self.invalid_rows(size):
            yield from row.issues


def _original_text(source: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The cell as read: text unchanged for CSV, typed cells rendered as text."""
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.String):
        return source
    return text_of(source, dtype)
