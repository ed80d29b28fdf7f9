"""The CTA list query: `select`, `where` (conditions + an AND/OR expression over their aliases),
`orderBy`, `pageSize` (1..1000) and `pageNumber` (from 1) — parsed once, then run over flat records.

Anything malformed raises QueryError, which the route answers with 400 COCKPIT_5101 naming the part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


class QueryError(ValueError):
    """The list request cannot be understood; the message names the offending part."""


@dataclass(frozen=True)
class ListQuery:
    select: tuple[str, ...] | None  # None: every field
    predicate: Predicate
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    page_size: int
    page_number: int

    def page(self, records: Iterable[Record]) -> list[dict[str, Any]]:
        """The requested page of the matching records, each cut to the selected fields."""
        matching = [r for r in records if self.predicate(r)]
        for name, descending in reversed(self.order_by):
            present = [r for r in matching if r.get(name) is not None]
            missing = [r for r in matching if r.get(name) is None]
            present.sort(key=_field_key(name), reverse=descending)
            matching = present + missing  # nulls last either way
        start = (self.page_number - 1) * self.page_size
        chosen = matching[start : start + self.page_size]
        if self.select is None:
            return [dict(r) for r in chosen]
        return [{name: r.get(name) for name in self.select} for r in chosen]


def parse_list_query(body: Any, is_known_field: Callable[[str], bool]) -> ListQuery:
    if not isinstance(body, Mapping):
        raise QueryError("the request body must be a JSON object")
    select = _parse_select(body.get("select"), is_known_field)
    predicate = _parse_where(body.get("where"), is_known_field)
    order_by = _parse_order(body.get("orderBy"), is_known_field)
    page_size = _int_in_range(body.get("pageSize", DEFAULT_PAGE_SIZE), "pageSize", 1, MAX_PAGE_SIZE)
    page_number = _int_in_range(body.get("pageNumber", 1), "pageNumber", 1, None)
    return ListQuery(select, predicate, order_by, page_size, page_number)


def _int_in_range(value: Any, name: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise QueryError(f"{name} must be {bounds}, got {value}")
    return value


def _parse_select(value: Any, is_known_field: Callable[[str], bool]) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QueryError("select must be a list of field names")
    unknown = [v for v in value if not is_known_field(v)]
    if unknown:
        raise QueryError(f"unknown field(s) in select: {', '.join(unknown)}")
    return tuple(value)


def _parse_order(value: Any, is_known_field: Callable[[str], bool]) -> tuple[tuple[str, bool], ...]:
    """`{"Name": "ASC", "DueDate": "DESC"}` or `[{"fieldName": ..., "order": ...}]`; default: store order."""
    if value is None:
        return ()
    pairs: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        pairs = [(v.get("fieldName"), v.get("order", "ASC")) for v in value]
    else:
        raise QueryError("orderBy must map field names to ASC or DESC")
    order = []
    for name, direction in pairs:
        if not isinstance(name, str) or not is_known_field(name):
            raise QueryError(f"unknown field in orderBy: {name}")
        if not isinstance(direction, str) or direction.upper() not in ("ASC", "DESC"):
            raise QueryError(f"orderBy direction for {name} must be ASC or DESC")
        order.append((name, direction.upper() == "DESC"))
    return tuple(order)


def _parse_where(value: Any, is_known_field: Callable[[str], bool]) -> Predicate:
    if value is None:
        return lambda record: True
    if not isinstance(value, Mapping):
        raise QueryError("where must be an object with conditions and an expression")
    conditions = value.get("conditions") or []
    if not isinstance(conditions, list):
        raise QueryError("where.conditions must be a list")
    by_alias: dict[str, Predicate] = {}
    in_order: list[Predicate] = []
    for n, condition in enumerate(conditions, start=1):
        predicate = _parse_condition(condition, n, is_known_field)
        in_order.append(predicate)
        alias = condition.get("alias")
        if isinstance(alias, str) and alias:
            if alias.upper() in by_alias:
                raise QueryError(f"alias {alias} is used by more than one condition")
            by_alias[alias.upper()] = predicate
    expression = value.get("expression")
    if expression is None or (isinstance(expression, str) and not expression.strip()):
        return lambda record: all(p(record) for p in in_order)  # DECIDED: no expression = AND of all
    if not isinstance(expression, str):
        raise QueryError("where.expression must be text such as 'A AND B'")
    return _ExpressionParser(expression, by_alias).parse()


def _parse_condition(condition: Any, number: int, is_known_field: Callable[[str], bool]) -> Predicate:
    if not isinstance(condition, Mapping):
        raise QueryError(f"condition {number} must be an object")
    field = condition.get("fieldName")
    if not isinstance(field, str) or not is_known_field(field):
        raise QueryError(f"condition {number}: unknown fieldName {field!r}")
    operator = condition.get("operator")
    if not isinstance(operator, str) or operator.upper() not in _OPERATORS:
        raise QueryError(f"condition {number}: unknown operator {operator!r}")
    raw = condition.get("value")
    values = list(raw) if isinstance(raw, list) else ([] if raw is None else [raw])
    op = operator.upper()
    if op not in ("IS_NULL", "IS_NOT_NULL") and not values:
        raise QueryError(f"condition {number}: value must not be empty for {op}")
    test = _OPERATORS[op]
    return lambda record: test(record.get(field), values)


def _norm(value: Any) -> Any:
    """Comparable form: case-insensitive text, booleans as true/false, 5 and 5.0 alike."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return str(value).casefold()


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, _norm(value))


def _field_key(name: str) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _sort_key(record[name])


def _compare(actual: Any, values: list[Any], keep: Callable[[int], bool]) -> bool:
    if actual is None:
        return False
    wanted = values[0]
    try:
        if isinstance(actual, int | float) and not isinstance(actual, bool):
            difference = float(actual) - float(wanted)
            return keep(0 if difference == 0 else (1 if difference > 0 else -1))
    except (TypeError, ValueError):
        pass
    a, b = _norm(actual), _norm(wanted)
    return keep((a > b) - (a < b))


def _text_test(check: Callable[[str, str], bool]) -> Callable[[Any, list[Any]], bool]:
    return lambda actual, values: (
        actual is not None and any(check(_norm(actual), _norm(v)) for v in values if v is not None)
    )


def _equals_any(actual: Any, values: list[Any]) -> bool:
    return any(_norm(actual) == _norm(v) for v in values)


_OPERATORS: dict[str, Callable[[Any, list[Any]], bool]] = {
    "EQ": _equals_any,
    "IN": _equals_any,
    "NE": lambda a, v: not _equals_any(a, v),
    "NOT_IN": lambda a, v: not _equals_any(a, v),
    "CONTAINS": _text_test(lambda a, v: v in a),
    "STARTS_WITH": _text_test(lambda a, v: a.startswith(v)),
    "ENDS_WITH": _text_test(lambda a, v: a.endswith(v)),
    "GT": lambda a, v: _compare(a, v, lambda c: c > 0),
    "GTE": lambda a, v: _compare(a, v, lambda c: c >= 0),
    "LT": lambda a, v: _compare(a, v, lambda c: c < 0),
    "LTE": lambda a, v: _compare(a, v, lambda c: c <= 0),
    "IS_NULL": lambda a, v: a is None or a == "",
    "IS_NOT_NULL": lambda a, v: a is not None and a != "",
}

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_]+)")


class _ExpressionParser:
    """`A AND (B OR C)`: AND binds tighter than OR; NOT negates; aliases are case-insensitive."""

    def __init__(self, text: str, by_alias: Mapping[str, Predicate]) -> None:
        self.text = text
        self.by_alias = by_alias
        self.tokens = self._tokenize(text)
        self.position = 0

    def _tokenize(self, text: str) -> list[str]:
        tokens, index = [], 0
        while index < len(text):
            if text[index:].strip() == "":
                break
            match = _TOKEN.match(text, index)
            if not match:
                raise QueryError(f"cannot read the expression {text!r} at {text[index:].strip()!r}")
            tokens.append(match.group(1).upper())
            index = match.end()
        return tokens

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.position != len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.position]!r} in expression {self.text!r}")
        return predicate

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise QueryError(f"the expression {self.text!r} ends too early")
        self.position += 1
        return token

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == "OR":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._peek() == "AND":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _not(self) -> Predicate:
        if self._peek() == "NOT":
            self._take()
            inner = self._not()
            return lambda r: not inner(r)
        return self._atom()

    def _atom(self) -> Predicate:
        token = self._take()
        if token == "(":
            inner = self._or()
            if self._take() != ")":
                raise QueryError(f"missing ')' in expression {self.text!r}")
            return inner
        if token in ("AND", "OR", ")"):
            raise QueryError(f"unexpected {token!r} in expression {self.text!r}")
        if token not in self.by_alias:
            raise QueryError(f"the expression {self.text!r} names alias {token} that no condition has")
        return self.by_alias[token]
