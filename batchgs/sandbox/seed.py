"""Deterministic seeded data: the same seed gives the same users, accounts, events and lists, byte for byte.

Dates are spread before `seed_anchor_ms` (a fixed instant by default, so the data does not shift with
the day the tests run): sign-ups over five years, events over the 400 days before the anchor (more than
two 190-day windows, so exporters must slice).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from batchgs.sandbox.store import HISTORY_KINDS, PxStore

Record = dict[str, Any]
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
YEAR_MS = 365 * DAY_MS
EVENT_SPAN_MS = 400 * DAY_MS
PRODUCT_KEY = "AP-SANDBOX-1"
ENGAGEMENTS, FEATURES, SEGMENTS = 40, 60, 30

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Barbara",
    "Dennis",
    "Edsger",
    "Frances",
    "Guido",
    "Hedy",
    "Ivan",
    "John",
    "Katherine",
    "Linus",
    "Margaret",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Liskov",
    "Ritchie",
    "Dijkstra",
    "Allen",
    "Rossum",
    "Lamarr",
    "Sutherland",
    "Backus",
    "Johnson",
]
COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
]
SUFFIX = ("Corp", "Inc", "Labs", "GmbH", "SA", "Group", "Systems")
INDUSTRIES = ("Software", "Finance", "Retail", "Healthcare", "Manufacturing", "Education")
PLANS = ("free", "team", "business", "enterprise")
TIERS = ("bronze", "silver", "gold", "platinum")
TITLES = ("Engineer", "Analyst", "CTO", "Product Manager", "Designer", "Support Lead")
PLACES = (
    ("France", "FR", "Paris", "Europe", "Europe/Paris", 48.8566, 2.3522),
    ("Germany", "DE", "Berlin", "Europe", "Europe/Berlin", 52.52, 13.405),
    ("United States", "US", "New York", "North America", "America/New_York", 40.7128, -74.006),
    ("Japan", "JP", "Tokyo", "Asia", "Asia/Tokyo", 35.6762, 139.6503),
    ("Brazil", "BR", "São Paulo", "South America", "America/Sao_Paulo", -23.5505, -46.6333),
    ("India", "IN", "Bengaluru", "Asia", "Asia/Kolkata", 12.9716, 77.5946),
)
EVENT_NAMES = (
    "Report Exported",
    "Invoice Paid",
    "Seat Added",
    "Dashboard Viewed",
    "Plan Upgraded",
    "Integration Connected",
    "File Uploaded",
    "Search Performed",
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _location(rng: random.Random) -> Record:
    country, code, city, continent, tz, lat, lon = rng.choice(PLACES)
    return {
        "countryName": country,
        "countryCode": code,
        "city": city,
        "continent": continent,
        "timeZone": tz,
        "coordinates": {"latitude": lat, "longitude": lon},
    }


def seed_store(
    store: PxStore,
    *,
    seed: int,
    users: int,
    accounts: int,
    events: int,
    anchor_ms: int,
    cluster: float = 0.0,
) -> PxStore:
    """Fill `store` in place (and return it). Lists of engagements/features/segments are always made.

    `cluster`: the share of users and accounts whose createDate falls in one hour a year before the
    anchor, as after a bulk load. It draws from its own random stream, so the rest of the data is
    the same with or without it."""
    rng = random.Random(seed)
    account_ids = [_add_account(store, rng, i, anchor_ms) for i in range(1, accounts + 1)]
    user_ids = [_add_user(store, rng, i, account_ids, anchor_ms) for i in range(1, users + 1)]
    if cluster > 0:
        _cluster_create_dates(store, random.Random(f"cluster-{seed}"), cluster, anchor_ms)
    _add_lists(store, rng, anchor_ms)
    if events and user_ids:
        _add_custom_events(store, rng, events, user_ids, anchor_ms)
        for kind in HISTORY_KINDS:
            _add_history(store, rng, kind, max(1, events // 4), user_ids, anchor_ms)
    return store


def _cluster_create_dates(store: PxStore, rng: random.Random, share: float, anchor: int) -> None:
    start = anchor - YEAR_MS
    for table in (store.users, store.accounts):
        for record in table.values():
            if rng.random() < share:
                created = start + rng.randrange(HOUR_MS)
                record["createDate"] = created
                record["lastModifiedDate"] = max(record["lastModifiedDate"], created)


def _add_account(store: PxStore, rng: random.Random, i: int, anchor: int) -> str:
    key = f"acct-{i:05d}"
    created = anchor - rng.randrange(30 * DAY_MS, 6 * YEAR_MS)
    store.accounts[key] = {
        "id": key,
        "name": f"{rng.choice(COMPANY)} {rng.choice(SUFFIX)} {i}",
        "trackedSubscriptionId": f"SUB-{i:05d}",
        "sfdcId": None,
        "dunsNumber": f"{rng.randrange(10**8, 10**9)}",
        "industry": rng.choice(INDUSTRIES),
        "numberOfEmployees": rng.choice((5, 20, 120, 800, 2300, 12000)),
        "sicCode": f"{rng.randrange(1000, 9999)}",
        "website": f"https://www.company{i}.example",
        "naicsCode": None,
        "plan": rng.choice(PLANS),
        "location": _location(rng),
        "propertyKeys": [PRODUCT_KEY],
        "customAttributes": {
            "tier": rng.choice(TIERS),
            "arr": rng.randrange(1, 500) * 1000,
            "contractEnd": anchor + rng.randrange(-YEAR_MS, 2 * YEAR_MS),
            "isPartner": rng.random() < 0.2,
        },
        "parentGroupId": None,
        "renewalDate": anchor + rng.randrange(0, YEAR_MS),
        "healthScore": rng.randrange(0, 101),
        "nps": rng.randrange(-100, 101),
        "csm": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "aptrinsicId": _uuid(rng),
        "createDate": created,
        "lastModifiedDate": created + rng.randrange(0, anchor - created + 1),
        "lastSeenDate": anchor - rng.randrange(0, 60 * DAY_MS),
    }
    return key


def _add_user(store: PxStore, rng: random.Random, i: int, account_ids: list[str], anchor: int) -> str:
    key = f"user-{i:06d}"
    first, last = rng.choice(FIRST), rng.choice(LAST)
    signed_up = anchor - rng.randrange(DAY_MS, 5 * YEAR_MS)
    store.users[key] = {
        "identifyId": key,
        "type": rng.choices(("USER", "LEAD", "VISITOR"), (8, 1, 1))[0],
        "gender": rng.choice(("MALE", "FEMALE", "OTHER", "EMPTY_GENDER")),
        "email": f"{first.lower()}.{last.lower()}{i}@example.com",
        "firstName": first,
        "lastName": last,
        "signUpDate": signed_up,
        "firstVisitDate": signed_up + rng.randrange(0, 7 * DAY_MS),
        "title": rng.choice(TITLES),
        "phone": None,
        "score": round(rng.uniform(0, 100), 1),
        "role": rng.choice(("Admin", "Member", "Viewer")),
        "subscriptionId": None,
        "accountId": rng.choice(account_ids) if account_ids else None,
        "location": _location(rng),
        "propertyKeys": [PRODUCT_KEY],
        "customAttributes": {
            "plan": rng.choice(PLANS),
            "seats": rng.randrange(1, 500),
            "trialEndDate": signed_up + 30 * DAY_MS,
            "isBeta": rng.random() < 0.3,
        },
        "globalUnsubscribe": rng.random() < 0.05,
        "sfdcContactId": None,
        "aptrinsicId": _uuid(rng),
        "id": key,
        "lastSeenDate": anchor - rng.randrange(0, 90 * DAY_MS),
        "numberOfVisits": rng.randrange(0, 2000),
        "createDate": signed_up,
        "lastModifiedDate": signed_up + rng.randrange(0, anchor - signed_up + 1),
        "lastInferredLocation": None,
        "globalId": None,
    }
    return key


def _base_event(
    rng: random.Random, store: PxStore, user_ids: list[str], anchor: int, event_type: str
) -> Record:
    identify_id = rng.choice(user_ids)
    return {
        "eventId": _uuid(rng),
        "identifyId": identify_id,
        "accountId": store.users[identify_id]["accountId"],
        "propertyKey": PRODUCT_KEY,
        "date": anchor - rng.randrange(0, EVENT_SPAN_MS),
        "eventType": event_type,
        "sessionId": _uuid(rng),
        "userType": "USER",
        "globalContext": {},
    }


def _add_custom_events(
    store: PxStore, rng: random.Random, count: int, user_ids: list[str], anchor: int
) -> None:
    for _ in range(count):
        event = _base_event(rng, store, user_ids, anchor, "CUSTOM")
        name = rng.choice(EVENT_NAMES)
        event.update(
            eventName=name,
            attributes={"amount": rng.randrange(1, 500), "source": rng.choice(("web", "api", "mobile"))},
            url=None,
            referrer=None,
            remoteHost=None,
        )
        store.event_names.add(name)
        store.custom_events.append(event)


def _history_extra(kind: str, rng: random.Random, store: PxStore) -> Record:
    if kind in ("pageView", "lead", "formSubmit"):
        page = rng.choice(("/home", "/reports", "/settings", "/billing"))
        return {"url": f"https://app.example.com{page}", "path": page, "title": page.strip("/").title()}
    if kind == "email":
        return {
            "emailType": rng.choice(("OPEN", "CLICK", "SENT")),
            "engagementId": _pick(rng, store.engagements),
        }
    if kind == "engagementView":
        return {
            "engagementId": _pick(rng, store.engagements),
            "viewType": rng.choice(("VIEWED", "COMPLETED")),
        }
    if kind == "feature_match":
        return {"featureId": _pick(rng, store.features), "matchType": "FEATURE"}
    if kind == "segment_match":
        return {"segmentId": _pick(rng, store.segments), "matchType": "SEGMENT"}
    if kind == "survey":
        return {"engagementId": _pick(rng, store.engagements), "score": rng.randrange(0, 11), "comment": None}
    if kind == "session":
        return {
            "browser": rng.choice(("Chrome", "Firefox", "Safari")),
            "os": rng.choice(("macOS", "Windows")),
        }
    return {"email": None}  # identify


def _pick(rng: random.Random, records: list[Record]) -> str | None:
    return rng.choice(records)["id"] if records else None


def _add_history(
    store: PxStore, rng: random.Random, kind: str, count: int, user_ids: list[str], anchor: int
) -> None:
    event_type = {"feature_match": "FEATURE_MATCH", "segment_match": "SEGMENT_MATCH"}.get(kind, kind.upper())
    out = store.history[kind]
    for _ in range(count):
        event = _base_event(rng, store, user_ids, anchor, event_type)
        event.update(_history_extra(kind, rng, store))
        out.append(event)


def _add_lists(store: PxStore, rng: random.Random, anchor: int) -> None:
    for i in range(1, ENGAGEMENTS + 1):
        store.engagements.append(
            {
                "id": f"eng-{i:04d}",
                "name": f"Engagement {i}",
                "type": rng.choice(("DIALOG", "SLIDER", "SURVEY", "GUIDE", "EMAIL")),
                "state": rng.choice(("ACTIVE", "PAUSED", "DRAFT")),
                "propertyKey": PRODUCT_KEY,
                "createDate": anchor - rng.randrange(0, 2 * YEAR_MS),
            }
        )
    for i in range(1, FEATURES + 1):
        store.features.append(
            {
                "id": f"feat-{i:04d}",
                "name": f"Feature {i}",
                "type": rng.choice(("PAGE", "CLICK", "CUSTOM_EVENT")),
                "parentFeatureId": None,
                "propertyKey": PRODUCT_KEY,
            }
        )
    for i in range(1, SEGMENTS + 1):
        store.segments.append(
            {
                "id": f"seg-{i:04d}",
                "name": f"Segment {i}",
                "type": rng.choice(("USER", "ACCOUNT")),
                "propertyKey": PRODUCT_KEY,
            }
        )
