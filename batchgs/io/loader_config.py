"""The `config.json` of Gainsight's own PX data loader (aptrinsic/px-data-loader), read as a `--map`.

Teams moving to batchgs keep their files and this config unchanged. What it means, as the loader uses
it: `fieldMapping.<TYPE>` maps an API field to a CSV header (columns not listed are ignored);
`timezone` is the zone of dates written without an offset; `productKey` the product key (one, or a
list for users/accounts); `dataCenter` the host (US, EU, US2, DEV). Those three become defaults that
options, environment and profile override. Its `apiKey` is never read into memory beyond "is it
filled?": batchgs takes keys only from the environment or a profile, and warns that a key in a file
leaks easily.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs.errors import InputFileError

ENTITY_TYPES = {
    "users": "USER",
    "accounts": "ACCOUNT",
    "events": "CUSTOM_EVENT",
    "preferences": "USER_PREFERENCES",
}
DATA_CENTERS = {"US": "us", "EU": "eu", "US2": "us2"}
DEV_BASE_URL = "https://api-dev.aptrinsic.com"  # the loader's DEV data center; batchgs has no region for it
API_KEY_WARNING = (
    "{path} holds an apiKey: batchgs never uses, sends or copies it. A key written in a file is easily "
    "shared or committed by mistake: remove it from the file (and rotate it if the file was shared). "
    "batchgs takes the key from GAINSIGHT_PX_API_KEY, or a batchgs.toml profile's api_key_env / "
    "api_key_command."
)


@dataclass(frozen=True)
class LoaderConfig:
    """The parts of a loader config.json batchgs uses (never the apiKey itself)."""

    path: str
    field_mapping: dict[str, dict[str, str]] = field(default_factory=dict)  # TYPE → {api field: header}
    timezone: str | None = None
    product_keys: tuple[str, ...] = ()
    region: str | None = None
    base_url: str | None = None  # DEV only
    has_api_key: bool = False

    def columns_for(self, entity: str) -> dict[str, str]:
        """header → API field for `entity`, as a TOML [columns] table would say it."""
        kind = ENTITY_TYPES.get(entity)
        section = self.field_mapping.get(kind) if kind else None
        if section is None:
            present = ", ".join(sorted(self.field_mapping)) or "none"
            raise InputFileError(
                f"loader config has no fieldMapping.{kind or entity.upper()} section for {entity} "
                f"(it has: {present})",
                path=self.path,
                hint="add the section, or use a TOML --map file",
            )
        return {header: api_field for api_field, header in section.items()}

    @property
    def product_key(self) -> str | None:
        """The product key(s) as batchgs takes them (a list is comma-separated, as in a cell)."""
        return ",".join(self.product_keys) or None

    def api_key_warning(self) -> str | None:
        return API_KEY_WARNING.format(path=self.path) if self.has_api_key else None


def sniff_loader_config(path: str | Path) -> LoaderConfig | None:
    """The loader config in `path`, or None when the file is not JSON (a TOML map). Recognised by
    content, whatever the file is called."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"cannot read mapping file: {exc.strerror or exc}", path=where) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"mapping file is not UTF-8 text: {exc.reason}", path=where) from None
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputFileError(f"not valid JSON: {exc}", path=where) from None
    if not isinstance(data, dict) or "fieldMapping" not in data:
        raise InputFileError(
            "a JSON mapping file must be a px-data-loader config with a fieldMapping object",
            path=where,
            hint='or write a TOML map: [columns] "Header" = "apiField"',
        )
    return _parse(data, where)


def _parse(data: dict[str, Any], where: str) -> LoaderConfig:
    mapping = data["fieldMapping"]
    if not isinstance(mapping, dict):
        raise InputFileError("fieldMapping must be an object", path=where)
    sections: dict[str, dict[str, str]] = {}
    for kind, section in mapping.items():
        if not isinstance(section, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in section.items()
        ):
            raise InputFileError(
                f"fieldMapping.{kind} must map API field names to CSV headers (text)", path=where
            )
        headers = list(section.values())
        repeated = sorted({h for h in headers if headers.count(h) > 1})
        if repeated:
            raise InputFileError(
                f"fieldMapping.{kind} maps header {repeated[0]!r} to several fields", path=where
            )
        sections[str(kind)] = dict(section)
    region, base_url = _data_center(data.get("dataCenter"), where)
    return LoaderConfig(
        path=where,
        field_mapping=sections,
        timezone=_text(data.get("timezone"), "timezone", where),
        product_keys=_product_keys(data.get("productKey"), where),
        region=region,
        base_url=base_url,
        has_api_key=bool(str(data.get("apiKey") or "").strip()),
    )


def _text(value: Any, name: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputFileError(f"{name} must be text", path=where)
    return value.strip() or None


def _product_keys(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    text = _text(value, "productKey", where)
    return (text,) if text else ()


def _data_center(value: Any, where: str) -> tuple[str | None, str | None]:
    """(batchgs region, base URL) for the loader's dataCenter."""
    text = _text(value, "dataCenter", where)
    if text is None:
        return None, None
    if text.upper() == "DEV":
        return None, DEV_BASE_URL
    region = DATA_CENTERS.get(text.upper())
    if region is None:
        raise InputFileError(
            f"unknown dataCenter {text!r}", path=where, hint=f"use one of {', '.join([*DATA_CENTERS, 'DEV'])}"
        )
    return region, None
