"""Human messages for row issue codes, built only for the rows that are invalid.

Messages do not repeat the column name (RowIssue.column carries it; reports print `column: message`).
They say what is wrong with the value and how to fix it, in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from batchgs.entities.email import email_problem
from batchgs.entities.spec import ColumnType
from batchgs.io.validate.convert import REJECT, TRUE_WORDS, Rule
from batchgs.io.validate.dates import ISO_PATTERN, DateContext, SlashEvidence

MAX_SHOWN = 60  # a value longer than this is cut in messages
_FORMAT_HINT = "use ISO 8601 (2024-03-31 or 2024-03-31T09:30:00+02:00), epoch milliseconds, or --date-format"


@dataclass(frozen=True)
class IssueContext:
    """What a message may need to know about its column."""

    field: str
    rule: Rule
    dates: DateContext
    slash: SlashEvidence | None = None
    id_width: int | None = None
    number_row: int | None = None  # AUTO: first row (0-based) of the column sent as a number
    problem: str | None = None  # why a REJECT column cannot be sent
    fill_hint: str | None = None  # e.g. "or pass --product-key"


def shown(raw: str | None) -> str:
    text = raw or ""
    return repr(text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…")


def spreadsheet_row(index: int) -> int:
    """0-based data row index → the row number a person sees (header is row 1)."""
    return index + 2


def message(code: str, raw: str | None, ctx: IssueContext) -> str:
    rule = ctx.rule
    value = shown(raw)
    if code == "missing-required":
        return f"required {ctx.field} is empty" + (f" ({ctx.fill_hint})" if ctx.fill_hint else "")
    if code == "bad-date":
        return _bad_date(raw or "", ctx.dates)
    if code == "ambiguous-date":
        return _ambiguous(value, ctx.slash)
    if code == "bad-boolean":
        return f"{value} is not a boolean (use {'/'.join(TRUE_WORDS)} or false/no/n/0)"
    if code == "bad-number":
        whole = rule.kind == ColumnType.INTEGER
        return f"{value} is not a {'whole number' if whole else 'number'}" + (
            " (write numbers without thousands separators, with a . for decimals)"
            if raw and "," in raw
            else ""
        )
    if code == "bad-email":
        problem = email_problem(raw or "")
        return f"{value} is not an email address" + (
            f" ({problem})" if problem and not problem.startswith("must be") else ""
        )
    if code == "bad-enum":
        return f"{value} is not one of {', '.join(rule.enum)}"
    if code == "too-long":
        if rule.kind == REJECT:
            return ctx.problem or "name too long"
        return f"{len(raw or '')} characters, at most {rule.max_length}"
    if code == "excel-damaged-id":
        return (
            f"{value} looks like an id Excel turned into a number (scientific notation or over 15 digits); "
            "its digits are lost: re-export with the column formatted as text"
        )
    if code == "excel-lost-leading-zeros":
        width = ctx.id_width or 0
        return (
            f"{value} is shorter than the other {width}-digit values of this column: if Excel dropped "
            f"leading zeros it was {(raw or '').zfill(width)!r} (fix the cell); if {value} is right, "
            "nothing to do: it is sent as written"
        )
    if code == "float-id":
        integer_part = (raw or "").split(".")[0]
        return (
            f"{value} is an id written as a decimal number: a tool read the id column as numbers (pandas "
            f"does when a cell is empty), so the id was {integer_part!r}: fix the cell, or export the "
            "column as text"
        )
    if code == "id-looks-like-a-number":
        integer_part = (raw or "").split(".")[0]
        return (
            f"{value} is a decimal number in an id column: if a tool turned the id into a number, "
            f"it was probably {integer_part!r} (fix the cell); otherwise nothing to do: it is sent as written"
        )
    if code == "placeholder-value":
        return (
            f"{value} is the placeholder of the documentation and templates, not a product key: write "
            "your product key (Gainsight PX > Administration > Products), or leave the cell empty and "
            "pass --product-key"
        )
    if code == "id-may-be-rounded":
        return (
            f"{value} has more than 15 digits and ends in zeros: Excel keeps only 15 digits, so if this id "
            "went through Excel as a number its last digits may be lost (check it against the source); "
            "otherwise nothing to do: it is sent as written"
        )
    if code == "mixed-number-format":
        row = spreadsheet_row(ctx.number_row or 0)
        plain = re.sub(r"[^\d.,+-]", "", raw or "")
        return (
            f"{value} is sent as text while row {row} of this column sends a number: "
            f"write it without thousands separators and with a . for decimals (e.g. "
            f"{_plain_number(plain)!r}) to send a number"
        )
    if code == "unknown-attribute":
        return ctx.problem or f"unknown custom attribute {ctx.field!r}"
    return f"{value} is not valid ({code})"


def _plain_number(text: str) -> str:
    """`1,000` → `1000`, `1.234,5` → `1234.5`, `3,5` → `3.5`: a guess for the message only."""
    last = max(text.rfind(","), text.rfind("."))
    tail = text[last + 1 :] if last >= 0 else ""
    if last >= 0 and len(tail) != 3:
        return text[:last].replace(",", "").replace(".", "") + "." + tail
    return text.replace(",", "").replace(".", "")


def _ambiguous(value: str, slash: SlashEvidence | None) -> str:
    text = f"{value} could be day/month or month/day"
    if slash is not None and slash.conflicting:
        text = (
            f"{value}: this column mixes day-first (row {spreadsheet_row(slash.day_first_row or 0)}) and "
            f"month-first (row {spreadsheet_row(slash.month_first_row or 0)}) dates"
        )
    elif slash is not None and slash.day_first:
        text += f" (row {spreadsheet_row(slash.day_first_row or 0)} of this column is day-first)"
    elif slash is not None and slash.month_first:
        text += f" (row {spreadsheet_row(slash.month_first_row or 0)} of this column is month-first)"
    return text + ": pass --date-format '%d/%m/%Y' or '%m/%d/%Y' (add ' %H:%M' for times)"


def _bad_date(raw: str, dates: DateContext) -> str:
    value = shown(raw)
    if dates.date_format:
        return f"{value} does not match --date-format {dates.date_format!r} and is not ISO 8601 or epoch ms"
    if re.fullmatch(r"\d{9,10}", raw):
        return f"{value} looks like epoch seconds; epoch milliseconds have 13 digits (multiply by 1000)"
    if re.fullmatch(r"\d{4,5}(\.\d+)?", raw):
        return f"{value} looks like an Excel day number: format the cells as dates, or {_FORMAT_HINT}"
    match = re.match(ISO_PATTERN, raw)
    if match and not match.group(8):
        parts = [int(p) if p else 0 for p in match.groups()[:6]]
        try:
            naive = datetime(*parts)  # type: ignore[arg-type]
        except ValueError:
            return f"{value} is not a real date"
        zone = ZoneInfo(dates.timezone)
        roundtrip = datetime.fromtimestamp(naive.replace(tzinfo=zone).timestamp(), zone).replace(tzinfo=None)
        if roundtrip != naive:
            return (
                f"{value} does not exist in {dates.timezone} (the clocks skip that hour for daylight saving)"
            )
    if match:
        return f"{value} is not a real date"
    return f"{value} is not a date: {_FORMAT_HINT}"
