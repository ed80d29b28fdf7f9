"""Strict payload checks written straight from gainsight-api.md, never borrowed from the client.

Every problem becomes a subError naming the field, all of them in one 400 answer, so a client that
sends a malformed row learns exactly which column to fix.
"""

from __future__ import annotations

import math
from typing import Any

from batchgs.entities.email import is_valid_email
from batchgs.sandbox.errors import ApiError, SubError
from batchgs.sandbox.px.model import (
    ACCOUNT_FIELDS,
    ACCOUNT_READ_ONLY,
    COORDINATE_FIELDS,
    ENUMS,
    EVENT_USER_TYPES,
    LOCATION_FIELDS,
    USER_FIELDS,
    USER_READ_ONLY,
    Kind,
)
from batchgs.sandbox.store import PxStore

MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_EVENT_NAME = 2000
MAX_EVENT_ATTRIBUTES = 50
MAX_ATTRIBUTE_NAME = 1024
EVENT_FIELDS = frozenset(
    {
        "identifyId",
        "propertyKey",
        "userType",
        "eventName",
        "accountId",
        "date",
        "eventId",
        "attributes",
        "url",
        "referrer",
        "remoteHost",
    }
)
EVENT_READ_ONLY = frozenset({"eventType", "sessionId", "globalContext"})
DATE_MESSAGE = "must be epoch milliseconds (an integer); leave the field out when it is empty"


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Bad request: the body must be one JSON object")
    return body


def is_epoch_ms(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_EPOCH_MS <= value <= MAX_EPOCH_MS


def is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not (isinstance(value, float) and not math.isfinite(value))


def check_record(
    body: Any, model: str, store: PxStore, *, creating: bool, path_key: str | None = None
) -> dict[str, Any]:
    """Validate a user (`model="user"`) or account payload; return it without read-only fields.

    `creating` adds the required-field rules of a create. `path_key` is the id taken from the URL,
    which a body key, when present, must repeat.
    """
    data = require_object(body)
    fields, read_only = (
        (USER_FIELDS, USER_READ_ONLY) if model == "user" else (ACCOUNT_FIELDS, ACCOUNT_READ_ONLY)
    )
    key = "identifyId" if model == "user" else "id"
    problems: list[SubError] = []
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name in read_only and name != key:
            continue
        kind = fields.get(name)
        if kind is None:
            problems.append(SubError(name, "unknown field", None))
            continue
        problems.extend(_check_value(name, kind, value, model, store))
        clean[name] = value
    if key in clean:
        value = clean[key]
        if not isinstance(value, str) or not value.strip():
            problems.append(SubError(key, "must be a non-empty string", value))
        elif path_key is not None and value != path_key:
            problems.append(SubError(key, "does not match the id in the path", value))
    if creating:
        required = (key, "propertyKeys") if model == "user" else (key, "name", "propertyKeys")
        for name in required:
            if clean.get(name) in (None, "", []):
                problems.append(SubError(name, "is required", None))
    elif "propertyKeys" in clean and not clean["propertyKeys"]:
        problems.append(SubError("propertyKeys", "must hold at least one product key", None))
    if problems:
        raise ApiError(400, "Bad request", _dedupe(problems))
    return clean


def _check_value(name: str, kind: Kind, value: Any, model: str, store: PxStore) -> list[SubError]:
    if kind is Kind.DATE:
        return [] if is_epoch_ms(value) else [SubError(name, DATE_MESSAGE, value)]
    if kind is Kind.STRING_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
        return [] if ok else [SubError(name, "must be a list of non-empty strings", None)]
    if kind is Kind.CUSTOM:
        return check_custom_attributes(value, model, store)
    if kind is Kind.LOCATION:
        return _check_location(value)
    if value is None:
        return []
    if kind is Kind.STRING:
        if not isinstance(value, str):
            return [SubError(name, "must be a string", value)]
        allowed = ENUMS.get(name)
        if allowed and value not in allowed:
            return [SubError(name, f"must be one of {', '.join(allowed)}", value)]
        return []
    if kind is Kind.EMAIL:
        if not isinstance(value, str) or (value and not is_valid_email(value)):
            return [SubError(name, "must be a well-formed email address", value)]
        return []
    if kind is Kind.NUMBER:
        return [] if is_number(value) else [SubError(name, "must be a number", value)]
    if kind is Kind.INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [SubError(name, "must be an integer", value)]
    if kind is Kind.BOOLEAN:
        return [] if isinstance(value, bool) else [SubError(name, "must be true or false", value)]
    raise AssertionError(kind)


def _check_location(value: Any) -> list[SubError]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [SubError("location", "must be an object", None)]
    problems = []
    for name, item in value.items():
        field = f"location.{name}"
        if name == "coordinates":
            if item is None:
                continue
            if not isinstance(item, dict):
                problems.append(SubError(field, "must be an object", None))
                continue
            for coord, number in item.items():
                if coord not in COORDINATE_FIELDS:
                    problems.append(SubError(f"{field}.{coord}", "unknown field", None))
                elif number is not None and not is_number(number):
                    problems.append(SubError(f"{field}.{coord}", "must be a number", number))
        elif name not in LOCATION_FIELDS:
            problems.append(SubError(field, "unknown field", None))
        elif item is not None and not isinstance(item, str):
            problems.append(SubError(field, "must be a string", item))
    return problems


def check_custom_attributes(value: Any, model: str, store: PxStore) -> list[SubError]:
    """Each key must be an existing, ENABLED custom attribute and its value must match the type."""
    if not isinstance(value, dict):
        return [SubError("customAttributes", "must be an object", None)]
    problems = []
    for name, item in value.items():
        field = f"customAttributes.{name}"
        attr = store.custom_attribute(model, name)
        if attr is None or attr.state == "DELETED":
            problems.append(SubError(field, f"unknown custom attribute '{name}' for {model}s", None))
            continue
        if attr.state != "ENABLED":
            problems.append(SubError(field, f"custom attribute '{name}' is {attr.state.lower()}", None))
            continue
        if item is None:
            continue
        ok = {
            "STRING": isinstance(item, str),
            "NUMBER": is_number(item),
            "BOOLEAN": isinstance(item, bool),
            "DATE_TIME": is_epoch_ms(item),
        }[attr.type]
        if not ok:
            expected = DATE_MESSAGE if attr.type == "DATE_TIME" else f"must be a {attr.type} value"
            problems.append(SubError(field, expected, item))
    return problems


def check_custom_event(body: Any) -> dict[str, Any]:
    """Validate one custom event of gainsight-api.md §1.6; read-only fields are dropped."""
    data = require_object(body)
    problems: list[SubError] = []
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name in EVENT_READ_ONLY:
            continue
        if name not in EVENT_FIELDS:
            problems.append(SubError(name, "unknown field", None))
            continue
        clean[name] = value
    for name in ("identifyId", "propertyKey", "eventName"):
        value = clean.get(name)
        if value is None:
            problems.append(SubError(name, "is required", None))
        elif not isinstance(value, str) or not value.strip():
            problems.append(SubError(name, "must be a non-empty string", value))
    name_value = clean.get("eventName")
    if isinstance(name_value, str) and len(name_value) > MAX_EVENT_NAME:
        problems.append(SubError("eventName", f"must be at most {MAX_EVENT_NAME} characters", None))
    user_type = clean.get("userType")
    if user_type is None:
        problems.append(SubError("userType", "is required", None))
    elif user_type not in EVENT_USER_TYPES:
        problems.append(SubError("userType", f"must be one of {', '.join(EVENT_USER_TYPES)}", user_type))
    if "date" in clean and not is_epoch_ms(clean["date"]):
        problems.append(SubError("date", DATE_MESSAGE, clean["date"]))
    for name in ("accountId", "eventId", "url", "referrer", "remoteHost"):
        value = clean.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(SubError(name, "must be a string", value))
    problems.extend(_check_event_attributes(clean.get("attributes")))
    if problems:
        raise ApiError(400, "Bad request", _dedupe(problems))
    return clean


def _check_event_attributes(value: Any) -> list[SubError]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [SubError("attributes", "must be a flat object", None)]
    problems = []
    if len(value) > MAX_EVENT_ATTRIBUTES:
        problems.append(SubError("attributes", f"at most {MAX_EVENT_ATTRIBUTES} attributes per event", None))
    for name, item in value.items():
        if not name or len(name) > MAX_ATTRIBUTE_NAME:
            shown = name[:40] + "..." if len(name) > 40 else name
            message = f"attribute names must be 1 to {MAX_ATTRIBUTE_NAME} characters"
            problems.append(SubError(f"attributes.{shown}", message, None))
        elif item is not None and not isinstance(item, str | int | float | bool):
            problems.append(SubError(f"attributes.{name}", "must be a string, number or boolean", None))
    return problems


def check_preferences(
    body: Any, names: tuple[str, ...], *, id_in_body: bool
) -> tuple[str | None, dict[str, bool]]:
    """Return (identifyId from the body or None, the preferences to change). `null` = unchanged."""
    data = require_object(body)
    problems: list[SubError] = []
    changes: dict[str, bool] = {}
    identify_id = None
    for name, value in data.items():
        if name == "identifyId" and id_in_body:
            if not isinstance(value, str) or not value:
                problems.append(SubError(name, "must be a non-empty string", value))
            else:
                identify_id = value
        elif name not in names:
            problems.append(SubError(name, "unknown field", None))
        elif value is not None and not isinstance(value, bool):
            problems.append(SubError(name, "must be true, false or null", value))
        elif value is not None:
            changes[name] = value
    if id_in_body and identify_id is None and "identifyId" not in data:
        problems.append(SubError("identifyId", "is required", None))
    if problems:
        raise ApiError(400, "Bad request", _dedupe(problems))
    return identify_id, changes


def _dedupe(problems: list[SubError]) -> list[SubError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.field, p.message) not in seen:
            seen.add((p.field, p.message))
            out.append(p)
    return out
