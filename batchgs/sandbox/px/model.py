"""The PX data model of gainsight-api.md §1.3–1.5: writable fields, read-only fields, attribute metadata."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """How a payload field is checked."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    DATE = "date"  # epoch milliseconds, an integer
    BOOLEAN = "boolean"
    EMAIL = "email"
    STRING_LIST = "string_list"
    LOCATION = "location"
    CUSTOM = "custom"


USER_TYPES = ("LEAD", "USER", "VISITOR", "EMPTY_USER_TYPE")
GENDERS = ("MALE", "FEMALE", "OTHER", "EMPTY_GENDER")
EVENT_USER_TYPES = ("USER", "LEAD", "VISITOR")
ENUMS: dict[str, tuple[str, ...]] = {"type": USER_TYPES, "gender": GENDERS}

S, N, INT, D, B = Kind.STRING, Kind.NUMBER, Kind.INTEGER, Kind.DATE, Kind.BOOLEAN

USER_FIELDS: dict[str, Kind] = {
    "identifyId": S,
    "type": S,
    "gender": S,
    "email": Kind.EMAIL,
    "firstName": S,
    "lastName": S,
    "signUpDate": D,
    "firstVisitDate": D,
    "title": S,
    "phone": S,
    "score": N,
    "role": S,
    "subscriptionId": S,
    "accountId": S,
    "location": Kind.LOCATION,
    "propertyKeys": Kind.STRING_LIST,
    "customAttributes": Kind.CUSTOM,
    "globalUnsubscribe": B,
    "sfdcContactId": S,
}
USER_READ_ONLY = frozenset(
    {
        "aptrinsicId",
        "id",
        "lastSeenDate",
        "numberOfVisits",
        "createDate",
        "lastModifiedDate",
        "lastInferredLocation",
        "globalId",
    }
)

ACCOUNT_FIELDS: dict[str, Kind] = {
    "id": S,
    "name": S,
    "trackedSubscriptionId": S,
    "sfdcId": S,
    "dunsNumber": S,
    "industry": S,
    "numberOfEmployees": INT,
    "sicCode": S,
    "website": S,
    "naicsCode": S,
    "plan": S,
    "location": Kind.LOCATION,
    "propertyKeys": Kind.STRING_LIST,
    "customAttributes": Kind.CUSTOM,
    "parentGroupId": S,
    "renewalDate": D,
    "healthScore": N,
    "nps": N,
    "csm": S,
}
ACCOUNT_READ_ONLY = frozenset(
    {"aptrinsicId", "createDate", "lastModifiedDate", "lastSeenDate", "numberOfUsers"}
)

LOCATION_FIELDS: dict[str, Kind] = {
    name: S
    for name in (
        "countryName",
        "countryCode",
        "stateName",
        "stateCode",
        "city",
        "street",
        "postalCode",
        "continent",
        "regionName",
        "timeZone",
    )
}
COORDINATE_FIELDS = ("latitude", "longitude")

ATTRIBUTE_TYPES = ("STRING", "DATE_TIME", "BOOLEAN", "NUMBER")
ATTRIBUTE_STATES = ("ENABLED", "DISABLED", "DELETED")


@dataclass(frozen=True)
class AttributeDef:
    """One row of `GET /v1/admin/model/{user|account}/attributes`."""

    api_name: str
    name: str
    type: str  # STRING | DATE_TIME | BOOLEAN | NUMBER
    state: str = "ENABLED"
    origin: str = "CUSTOM"

    def __post_init__(self) -> None:
        if self.type not in ATTRIBUTE_TYPES:
            raise ValueError(f"attribute {self.api_name}: type must be one of {ATTRIBUTE_TYPES}")
        if self.state not in ATTRIBUTE_STATES:
            raise ValueError(f"attribute {self.api_name}: state must be one of {ATTRIBUTE_STATES}")

    def as_json(self, model: str) -> dict[str, Any]:
        return {
            "apiName": self.api_name,
            "name": self.name,
            "type": self.type,
            "state": self.state,
            "origin": self.origin,
            "modelType": model.upper(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttributeDef:
        return cls(
            api_name=data["apiName"],
            name=data.get("name") or data["apiName"],
            type=data["type"],
            state=data.get("state", "ENABLED"),
            origin=data.get("origin", "CUSTOM"),
        )


def _defaults(spec: str) -> list[AttributeDef]:
    """Parse `apiName:TYPE` words into DEFAULT-origin attributes (the display name is spelled out)."""
    out = []
    for word in spec.split():
        api_name, _, typ = word.partition(":")
        label = "".join(" " + c.lower() if c.isupper() else c for c in api_name).strip().capitalize()
        out.append(AttributeDef(api_name, label, typ or "STRING", origin="DEFAULT"))
    return out


_LOCATION_ATTRS = (
    "city countryCode countryName stateName stateCode postalCode street continent regionName timeZone"
)

DEFAULT_USER_ATTRIBUTES: tuple[AttributeDef, ...] = tuple(
    _defaults(
        "id email firstName lastName title phone role accountId type gender score:NUMBER "
        "signUpDate:DATE_TIME firstVisitDate:DATE_TIME lastSeenDate:DATE_TIME createDate:DATE_TIME "
        "lastModifiedDate:DATE_TIME numberOfVisits:NUMBER globalUnsubscribe:BOOLEAN subscriptionId "
        "sfdcContactId " + _LOCATION_ATTRS
    )
)
DEFAULT_ACCOUNT_ATTRIBUTES: tuple[AttributeDef, ...] = tuple(
    _defaults(
        "id name plan industry numberOfEmployees:NUMBER renewalDate:DATE_TIME trackedSubscriptionId "
        "sfdcId dunsNumber sicCode naicsCode website parentGroupId healthScore:NUMBER nps:NUMBER csm "
        "createDate:DATE_TIME lastModifiedDate:DATE_TIME lastSeenDate:DATE_TIME numberOfUsers:NUMBER "
        + _LOCATION_ATTRS
    )
)

CUSTOM_USER_ATTRIBUTES: tuple[AttributeDef, ...] = (
    AttributeDef("plan", "Plan", "STRING"),
    AttributeDef("seats", "Seats", "NUMBER"),
    AttributeDef("trialEndDate", "Trial end date", "DATE_TIME"),
    AttributeDef("isBeta", "Is beta", "BOOLEAN"),
)
CUSTOM_ACCOUNT_ATTRIBUTES: tuple[AttributeDef, ...] = (
    AttributeDef("tier", "Tier", "STRING"),
    AttributeDef("arr", "ARR", "NUMBER"),
    AttributeDef("contractEnd", "Contract end", "DATE_TIME"),
    AttributeDef("isPartner", "Is partner", "BOOLEAN"),
)
