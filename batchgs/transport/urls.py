"""URLs of API requests: path segments and query strings percent-encoded completely, and which ids a
path would mangle even when encoded (they go to the endpoints that take the id in the body)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote

ParamValue = str | int | float | bool | None | Iterable[str | int | float | bool]
Params = Mapping[str, ParamValue] | Iterable[tuple[str, str | int | float | bool]]


def encode_segment(value: str) -> str:
    """One path segment, percent-encoded completely (`/`, `?`, `#`, `%` and spaces included)."""
    return quote(str(value), safe="")


def build_path(template: str, *segments: str) -> str:
    """`build_path("/v1/users/{}", "a b/c")` → `/v1/users/a%20b%2Fc`."""
    return template.format(*(encode_segment(s) for s in segments))


def needs_id_in_body(identifier: str) -> bool:
    """True for ids a URL path would mangle even when encoded (servers and proxies decode `%2F`,
    drop `#...`, normalise `.`/`..`): such ids go to the endpoints that carry the id in the body."""
    if identifier in ("", ".", ".."):
        return True
    return any(ch in "/?#%\\" or ch.isspace() or not ch.isprintable() for ch in identifier)


def _format_param(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(params: Params | None) -> str:
    """A query string with every key and value percent-encoded (`==`, `;`, `*`, `,` included);
    a list value repeats the key (`filter` twice means OR)."""
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, Mapping) else params
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, str | int | float | bool):
            pairs.append((key, _format_param(value)))
        else:
            pairs.extend((key, _format_param(v)) for v in value)
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
