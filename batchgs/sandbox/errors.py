"""PX error answers: the `externalapierror` body of gainsight-api.md §1.2, raised as `ApiError`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

HTTP_STATUS_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


@dataclass(frozen=True)
class SubError:
    """One field-level complaint; `field` names the offending payload field (dotted for nested ones)."""

    field: str
    message: str
    rejected_value: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "request",
            "field": self.field,
            "rejectedValue": self.rejected_value,
            "message": self.message,
        }


class ApiError(Exception):
    """Raised by handlers; the app turns it into the JSON error body with the HTTP status."""

    def __init__(self, http_status: int, message: str, sub_errors: list[SubError] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.sub_errors = sub_errors or []

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return px_error(self.http_status, self.message, self.sub_errors, headers=headers)


def invalid_field(field: str, message: str, rejected: Any = None) -> ApiError:
    """The usual validation failure: 400 "Bad request" with one subError naming the field."""
    return ApiError(400, "Bad request", [SubError(field, message, _printable(rejected))])


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def px_error(
    http_status: int,
    message: str,
    sub_errors: list[SubError] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {
        "externalapierror": {
            "status": HTTP_STATUS_NAMES.get(http_status, str(http_status)),
            "message": message,
            "debugMessage": None,
            "subErrors": [s.as_json() for s in sub_errors] if sub_errors else None,
        }
    }
    return web.Response(
        status=http_status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def _printable(value: Any) -> Any:
    """Echo a rejected value only when it is small JSON (a huge string would bloat every error)."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    if isinstance(value, dict | list):
        return None
    return value
