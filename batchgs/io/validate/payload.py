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
    """Nest `values` at `paths`; empty values (None, empty lists) are left out, never sent as null."""
    payload: dict[str, Any] = {}
    for path, value, tag in zip(paths, values, tags, strict=True):
        if value is None or value == []:
            continue
        value = decode_auto(value, tag) if tag is not None else json_value(value)
        node = payload
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return payload
