"""Cell → payload value conversion as Polars expressions, one (value, code) pair per column.

Every function here works on whole columns: a batch of 100,000 rows is converted and checked by Polars
in Rust, never row by row in Python. `code` is null when the cell is fine (or empty) and otherwise a
kebab-case slug; the human message is only built later, for the few rows that are invalid
(batchgs.io.validate.messages). Input columns are text (CSV) or typed (XLSX: Int64/Float64, Boolean,
Datetime, Date); both give the same payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

from batchgs.entities.email import EMAIL_SHAPE, MAX_ADDRESS, MAX_DOMAIN, MAX_LOCAL, is_valid_email
from batchgs.entities.spec import ColumnType
from batchgs.io.validate.checks import PLAIN_NUMBER_PATTERN
from batchgs.io.validate.dates import (
    FAST_FORMATS,
    DateContext,
    FastFormat,
    SlashEvidence,
    fast_dates,
    typed_dates,
)
from batchgs.io.write.safe_cells import FORMULA_TRIGGERS

AUTO = "auto"  # custom attribute without a catalog / event attribute: number, boolean or text
REJECT = "reject"  # a column that cannot be sent (unknown attribute, name too long): any value is an issue

# How a number id comes out of a tool that read it as a float: one leading digit, then a fraction
# and/or a signed exponent (Excel `1.23457E+19`, `1E+19`; Python `1.2345678901234567e+19`; Java
# `1.2345678901234567E19`). An id such as `12E4` or `3E5` has neither: it may be a real code, so it is sent.
SCIENTIFIC_PATTERN = r"^[+-]?\d(?:[.,]\d+[eE][+-]?|[eE][+-])\d+$"
FORMULA_START = "^[" + "".join(re.escape(c) for c in FORMULA_TRIGGERS) + "]"  # as safe_cells decides
SIGNED_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"  # never neutralised: plain numbers
EXCEL_DIGITS_LIMIT = 1e15  # Excel keeps 15 significant digits: a longer number id is already damaged
# numbers written with separators or a decimal comma: text to the API, a number to the person
FORMATTED_NUMBER = r"^[+-]?(?:\d{1,3}(?:[,.' \x{a0}\x{202f}]\d{3})+(?:[.,]\d+)?|\d+,\d+)$"
DECIMAL_TEXT_ID = r"^\d+\.0+$"  # 123.0: how a tool writes a number id it read as a float
ROUNDED_ID = r"^[1-9]\d{14}0+$"  # 16+ digits ending in zeros after the 15th: what Excel's rounding leaves
TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")


@dataclass(frozen=True)
class Rule:
    """How one target is converted. `kind` is a ColumnType value, AUTO or REJECT."""

    kind: str
    enum: tuple[str, ...] = ()
    max_length: int | None = None
    reject_code: str = "unknown-attribute"
    auto_dates: Literal["epoch", "iso"] = "epoch"  # AUTO: Excel date cells as epoch ms or ISO text
    varying_width: bool = False  # ID: widths legitimately differ (postal codes): never judged by length
    placeholder: str | None = None  # a pattern of documentation placeholders refused (AP-XXXXXXXXXX-2)


@dataclass(frozen=True)
class ColumnFacts:
    """What the pre-pass learned about one column of the whole file."""

    slash: SlashEvidence | None = None
    id_width: int | None = None  # the zero-padded width of an id column, when it has one
    number_row: int | None = None  # AUTO: the first row (0-based) whose cell is sent as a number


@dataclass(frozen=True)
class Hints:
    """What a cheap look at one batch showed, to pick the cheapest expression that is still exact."""

    date_formats: tuple[FastFormat, ...] = FAST_FORMATS  # date text: the shapes the first values show
    epoch: bool = True  # date text: some cell looks like epoch ms
    list_separators: bool = True  # string list: some cell holds `,` or `;`
    canonical_enum: bool = False  # enum: every cell is already exactly a canonical value
    quoted: bool = False  # text: some cell starts with ' (maybe neutralised by batchgs: undo it)


@dataclass(frozen=True)
class Converted:
    value: pl.Expr  # the payload value (typed), null when empty or invalid
    code: pl.Expr  # null or a problem code
    tag: pl.Expr | None = None  # AUTO: "n" number, "b" boolean, "s" text (value is text)
    warning: pl.Expr | None = None  # null or a warning code: a suspicion, the value is sent as is


def as_instance(dtype: pl.DataType | type[pl.DataType]) -> pl.DataType:
    """`pl.String` and `pl.String()` alike (schemas give instances, people write classes)."""
    return dtype() if isinstance(dtype, type) else dtype


def _none() -> pl.Expr:
    return pl.lit(None, pl.String)


def text_of(source: pl.Expr, dtype: pl.DataType, *, unquote: bool = False) -> pl.Expr:
    """The cell as stripped text, null when empty. Typed cells are rendered as a person would type them.

    `unquote`: undo batchgs.io.write.safe_cells.neutralise (`'=x` → `=x`), so that a template or an
    errors.csv that batchgs wrote sends what the cell meant, not the protective quote.
    """
    dtype = as_instance(dtype)
    if isinstance(dtype, pl.String):
        text = source.str.strip_chars().replace("", None)  # faster than a when/then
        if unquote:
            rest = text.str.slice(1)
            protected = (
                text.str.starts_with("'")
                & rest.str.contains(FORMULA_START)
                & ~rest.str.contains(SIGNED_NUMBER)
            )
            text = pl.when(protected).then(rest).otherwise(text)
        return text
    if isinstance(dtype, pl.Null):
        return pl.lit(None, pl.String)
    if dtype.is_float():
        whole = (source == source.round(0)) & (source.abs() < EXCEL_DIGITS_LIMIT * 1000)
        return (
            pl.when(whole)
            .then(source.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(source.cast(pl.String))
        )
    if isinstance(dtype, pl.Boolean):
        return pl.when(source).then(pl.lit("true")).when(~source).then(pl.lit("false"))
    if isinstance(dtype, pl.Datetime):
        return source.dt.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(dtype, pl.Date):
        return source.dt.strftime("%Y-%m-%d")
    return source.cast(pl.String, strict=False)


def _too_long(text: pl.Expr, max_length: int | None) -> pl.Expr:
    if max_length is None:
        return _none()
    return pl.when(text.str.len_chars() > max_length).then(pl.lit("too-long"))


def _placeholder(text: pl.Expr, pattern: str | None) -> pl.Expr:
    if pattern is None:
        return _none()
    return pl.when(text.str.contains(pattern)).then(pl.lit("placeholder-value"))


def _first_code(*codes: pl.Expr) -> pl.Expr:
    return pl.coalesce(codes) if len(codes) > 1 else codes[0]


def convert(
    rule: Rule,
    source: pl.Expr,
    dtype: pl.DataType,
    dates: DateContext,
    facts: ColumnFacts | None = None,
    hints: Hints | None = None,
    text: pl.Expr | None = None,
) -> Converted:
    """The value and code expressions of one column.

    `text`: `text_of(source, dtype)` already computed as a column (it is used several times).
    Date text is parsed with the `hints` formats (default: all fast formats) plus --date-format and
    epoch ms; cells they reject come out as `bad-date` and must be re-checked with
    `dates.general_dates` (see `is_fast_date`).
    """
    facts = facts or ColumnFacts()
    hints = hints or Hints()
    dtype = as_instance(dtype)
    text = text if text is not None else text_of(source, dtype)
    kind = rule.kind
    if kind == REJECT:
        return Converted(_none(), pl.when(text.is_not_null()).then(pl.lit(rule.reject_code)))
    if kind in (ColumnType.STRING, ColumnType.EMAIL):
        code = _first_code(_placeholder(text, rule.placeholder), _too_long(text, rule.max_length))
        if kind == ColumnType.EMAIL:
            code = _first_code(pl.when(~email_ok(text)).then(pl.lit("bad-email")), code)
        return Converted(text, code)
    if kind == ColumnType.ID:
        width = None if rule.varying_width else facts.id_width
        code, warning = _id_checks(source, dtype, text, width, rule.max_length)
        return Converted(text, code, warning=warning)
    if kind == ColumnType.ENUM:
        if hints.canonical_enum:
            return Converted(text, _none())
        if all(value == value.upper() for value in rule.enum):  # the usual case, and twice as fast
            upper = text.str.to_uppercase()
            canonical: pl.Expr = pl.when(upper.is_in(rule.enum)).then(upper)
        else:
            canonical = text.str.to_lowercase().replace_strict(
                {value.lower(): value for value in rule.enum}, default=None, return_dtype=pl.String
            )
        return Converted(
            canonical, pl.when(text.is_not_null() & canonical.is_null()).then(pl.lit("bad-enum"))
        )
    if kind in (ColumnType.NUMBER, ColumnType.INTEGER):
        return _number(source, dtype, text, whole=kind == ColumnType.INTEGER)
    if kind == ColumnType.BOOLEAN:
        value = _boolean(source, dtype, text)
        return Converted(value, pl.when(text.is_not_null() & value.is_null()).then(pl.lit("bad-boolean")))
    if kind in (ColumnType.DATETIME, ColumnType.DATE):
        parsed = typed_dates(source, dtype, dates)
        if parsed is None:  # text: the fast formats; the rest must be re-checked with general_dates
            parsed = fast_dates(text, hints.date_formats, dates, epoch=hints.epoch)
        value = parsed.epoch_ms if kind == ColumnType.DATETIME else parsed.local_date
        return Converted(value, parsed.code(value))
    if kind == ColumnType.STRING_LIST:
        if hints.list_separators:
            items = (
                text.str.replace_all(";", ",", literal=True)
                .str.split(",")
                .list.eval(pl.element().str.strip_chars())
                .list.eval(pl.element().filter(pl.element() != ""))
            )
            value = pl.when(items.list.len() > 0).then(items)
        else:
            value = pl.when(text.is_not_null()).then(pl.concat_list(text))
        return Converted(
            value, _first_code(_placeholder(text, rule.placeholder), _too_long(text, rule.max_length))
        )
    if kind == AUTO:
        return _auto(source, dtype, text, dates, rule.auto_dates, facts.number_row)
    raise ValueError(f"no conversion for kind {kind!r}")


def is_fast_date(rule: Rule, dtype: pl.DataType) -> bool:
    """Whether `convert` takes the fast date path for this column (text dates only)."""
    kind = rule.kind
    return kind in (ColumnType.DATETIME, ColumnType.DATE) and isinstance(as_instance(dtype), pl.String)


def email_ok(text: pl.Expr) -> pl.Expr:
    """batchgs.entities.email's definition on a whole column (null text counts as fine).

    The shape and the lengths run in Polars; only addresses with non-ASCII characters (their domain
    must encode with IDNA) go through the Python definition itself, one by one.
    """
    domain = text.str.extract(r"@([^@]*)$", 1)
    local = text.str.slice(0, text.str.len_chars() - domain.str.len_chars() - 1)
    shaped = (
        text.str.contains(EMAIL_SHAPE)
        & (text.str.len_chars() <= MAX_ADDRESS)
        & (local.str.len_chars() <= MAX_LOCAL)
        & (domain.str.len_chars() <= MAX_DOMAIN)
    )
    unusual = pl.when(shaped & text.str.contains(r"[^\x00-\x7F]")).then(text)
    checked = unusual.map_elements(is_valid_email, return_dtype=pl.Boolean, skip_nulls=True)
    return text.is_null() | (shaped & checked.fill_null(True))


def _id_checks(
    source: pl.Expr, dtype: pl.DataType, text: pl.Expr, width: int | None, max_length: int | None
) -> tuple[pl.Expr, pl.Expr | None]:
    """(error code, warning code) of an id cell.

    Errors are certain damage only: scientific notation (`1.23457E+19`: the digits are gone), numbers
    past Excel's 15 significant digits that reached us as numbers (the .xlsx reader turns those it can
    read exactly into text), and an id written as text `123.0` (a tool read the column as floats, as
    pandas does when a cell is empty: the id was `123`). Guesses are warnings: a value shorter than the
    column's zero-padded width, a non-whole number cell in an id column, 16+ digits ending in zeros
    after the 15th.
    """
    if dtype.is_numeric():
        damaged = source.abs() >= EXCEL_DIGITS_LIMIT
        decimal = (source != source.round(0)) if dtype.is_float() else pl.lit(False)
        float_id = pl.lit(False)
    else:
        damaged = text.str.contains(SCIENTIFIC_PATTERN)
        decimal = pl.lit(False)
        float_id = text.str.contains(DECIMAL_TEXT_ID)
    code = _first_code(
        pl.when(damaged).then(pl.lit("excel-damaged-id")),
        pl.when(float_id).then(pl.lit("float-id")),
        _too_long(text, max_length),
    )
    warnings: list[pl.Expr] = [
        pl.when(decimal).then(pl.lit("id-looks-like-a-number")),
        pl.when(text.str.contains(ROUNDED_ID)).then(pl.lit("id-may-be-rounded")),
    ]
    if width is not None:
        lost = text.str.contains(r"^\d+$") & (text.str.len_chars() < width)
        warnings.append(pl.when(lost).then(pl.lit("excel-lost-leading-zeros")))
    return code, _first_code(*warnings)


def _number(source: pl.Expr, dtype: pl.DataType, text: pl.Expr, *, whole: bool) -> Converted:
    if dtype.is_numeric():
        number = source.cast(pl.Float64)
        exact_int = source.cast(pl.Int64, strict=False) if dtype.is_integer() else None
    elif isinstance(dtype, pl.String):
        number = text.cast(pl.Float64, strict=False)
        exact_int = text.cast(pl.Int64, strict=False)
    else:
        number = pl.lit(None, pl.Float64)
        exact_int = None
    finite = number.is_finite().fill_null(False)
    if not whole:
        ok = finite
        value: pl.Expr = pl.when(ok).then(number)
    else:
        integral = finite & (number == number.round(0))
        rounded = pl.when(integral).then(number.cast(pl.Int64, strict=False))
        value = pl.coalesce(exact_int, rounded) if exact_int is not None else rounded
        ok = value.is_not_null()
    return Converted(value, pl.when(text.is_not_null() & ~ok).then(pl.lit("bad-number")))


def _boolean(source: pl.Expr, dtype: pl.DataType, text: pl.Expr) -> pl.Expr:
    if isinstance(dtype, pl.Boolean):
        return source
    if dtype.is_numeric():
        return pl.when(source == 1).then(pl.lit(True)).when(source == 0).then(pl.lit(False))
    lowered = text.str.to_lowercase()
    return (
        pl.when(lowered.is_in(TRUE_WORDS))
        .then(pl.lit(True))
        .when(lowered.is_in(FALSE_WORDS))
        .then(pl.lit(False))
    )


def _auto(
    source: pl.Expr,
    dtype: pl.DataType,
    text: pl.Expr,
    dates: DateContext,
    date_style: str,
    number_row: int | None = None,
) -> Converted:
    """Offline custom attributes and event attributes: plain numbers and true/false keep their type.

    `number_row`: a row of this column that sends a number; then a cell such as `1,000` (sent as
    text, since the API takes JSON numbers without separators) is warned about: the column's type
    drifts from row to row.
    """
    parsed = typed_dates(source, dtype, dates) if isinstance(dtype, pl.Datetime | pl.Date) else None
    if parsed is not None:
        if date_style == "iso":
            iso = pl.from_epoch(parsed.epoch_ms, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            return Converted(iso, parsed.code(parsed.epoch_ms), pl.lit("s"))
        return Converted(parsed.epoch_ms.cast(pl.String), parsed.code(parsed.epoch_ms), pl.lit("n"))
    if dtype.is_numeric():
        return Converted(text, _none(), pl.lit("n"))
    if isinstance(dtype, pl.Boolean):
        return Converted(text, _none(), pl.lit("b"))
    lowered = text.str.to_lowercase()
    tag = (
        pl.when(text.str.contains(PLAIN_NUMBER_PATTERN))
        .then(pl.lit("n"))
        .when(lowered.is_in(("true", "false")))
        .then(pl.lit("b"))
        .otherwise(pl.lit("s"))
    )
    drift = None
    if number_row is not None:
        drift = pl.when((tag == "s") & text.str.contains(FORMATTED_NUMBER)).then(
            pl.lit("mixed-number-format")
        )
    return Converted(text, _none(), tag, drift)


def decode_auto(value: str, tag: str) -> object:
    """The JSON value of an AUTO cell, from its text and tag."""
    if tag == "n":
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**53 and "." not in value else number
    if tag == "b":
        return value.lower() == "true"
    return value
