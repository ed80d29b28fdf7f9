"""Rows of converted values → the JSON bodies the API receives. Built lazily, only for valid rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from batchgs.io.validate.convert import decode_auto

SAFE_INTEGER = 2**53


def json_value(value: Any) -> Any:
    """Floats that are whole numbers are sent as integers (83, not 83.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < SAFE_INTEGER:
        return int(value)
    return value


def build_payload(
    paths: Sequence[tuple[str, ...]],
    values: Sequence[Any],
    tags: Sequence[str | None],
) -> dict[str, Any]:
    """Nest `values` at `paths`; empty values (None, empty lists) are left out, never sent as null.

    Runs once per valid row (a 100,000-row re-import: 2,000,000 values), hence `json_value` inlined and
    the one- and two-part paths of nearly every column handled without a loop."""
    payload: dict[str, Any] = {}
    for path, value, tag in zip(paths, values, tags, strict=True):
        if value is None:
            continue
        if tag is not None:
            if value == []:
                continue
            value = decode_auto(value, tag)
        elif isinstance(value, float):
            if value.is_integer() and abs(value) < SAFE_INTEGER:
                value = int(value)
        elif isinstance(value, list) and not value:
            continue
        depth = len(path)
        if depth == 1:
            payload[path[0]] = value
        elif depth == 2:
            inner = payload.get(path[0])
            if inner is None:
                inner = payload[path[0]] = {}
            inner[path[1]] = value
        else:
            node = payload
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    return payload
