"""The subscription's attribute catalog (GET /v1/admin/model/{user|account}/attributes).

Custom attributes must exist before the API accepts a value; their type decides the conversion. The
catalog is fetched by the CLI/engine, cached in the run folder as attributes.json, and handed to
validation as an `AttributeCatalog`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchgs.errors import InputFileError

ATTRIBUTE_TYPES = ("STRING", "DATE_TIME", "BOOLEAN", "NUMBER")
CACHE_FILE = "attributes.json"


@dataclass(frozen=True)
class Attribute:
    api_name: str
    type: str  # STRING | DATE_TIME | BOOLEAN | NUMBER
    state: str = "ENABLED"  # ENABLED | DISABLED | DELETED
    origin: str = "CUSTOM"  # CUSTOM | DEFAULT
    name: str = ""


@dataclass(frozen=True)
class Lookup:
    """What a custom column name resolves to: an usable attribute, or why not."""

    attribute: Attribute | None
    problem: str | None = None  # message when it cannot be sent


class AttributeCatalog:
    """Custom attributes by apiName; lookups are exact first, then case-insensitive."""

    def __init__(self, attributes: Iterable[Attribute], raw: list[dict[str, Any]] | None = None) -> None:
        self.attributes = [a for a in attributes if a.origin != "DEFAULT"]
        self.raw = raw if raw is not None else []
        self._exact = {a.api_name: a for a in self.attributes}
        self._folded: dict[str, list[Attribute]] = {}
        for attribute in self.attributes:
            self._folded.setdefault(attribute.api_name.lower(), []).append(attribute)

    @classmethod
    def from_api(cls, items: Iterable[Mapping[str, Any]]) -> AttributeCatalog:
        """Build from the JSON array the API returns (standard attributes are kept out)."""
        raw = [dict(item) for item in items]
        attributes = []
        for item in raw:
            api_name = item.get("apiName")
            if not isinstance(api_name, str) or not api_name:
                continue
            kind = str(item.get("type") or "STRING").upper()
            attributes.append(
                Attribute(
                    api_name=api_name,
                    type=kind if kind in ATTRIBUTE_TYPES else "STRING",
                    state=str(item.get("state") or "ENABLED").upper(),
                    origin=str(item.get("origin") or "CUSTOM").upper(),
                    name=str(item.get("name") or ""),
                )
            )
        return cls(attributes, raw)

    @classmethod
    def load(cls, path: str | Path) -> AttributeCatalog:
        """Read a cached attributes.json (the API's array, as fetched)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputFileError(f"cannot read attribute catalog: {exc}", path=str(path)) from None
        if not isinstance(data, list):
            raise InputFileError("attribute catalog must be a JSON array", path=str(path))
        return cls.from_api(item for item in data if isinstance(item, dict))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.raw, ensure_ascii=False, indent=1), encoding="utf-8")

    def names(self) -> list[str]:
        return [a.api_name for a in self.attributes if a.state != "DELETED"]

    def lookup(self, name: str) -> Lookup:
        attribute = self._exact.get(name)
        if attribute is None:
            folded = self._folded.get(name.lower(), [])
            attribute = folded[0] if len(folded) == 1 else None
        if attribute is None:
            close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
            if not close:
                lowered = {n.lower(): n for n in self.names()}
                close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=1)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return Lookup(None, f"unknown custom attribute {name!r}{hint}")
        if attribute.state == "DELETED":
            return Lookup(None, f"custom attribute {attribute.api_name!r} is deleted")
        if attribute.state == "DISABLED":
            return Lookup(None, f"custom attribute {attribute.api_name!r} is disabled")
        return Lookup(attribute)

    def __len__(self) -> int:
        return len(self.attributes)
