"""The headers real exports carry, per entity: the one table that maps them to API fields.

A header is first matched to an API field by name (case-insensitively, ignoring spaces, `_` and `-`,
so `Sign-Up Date` already is `signUpDate`); only a header that names no field is looked up here. The
table is data: io/mapping.py reads it, docs/entities.md is generated from it (a test keeps them equal),
and did-you-mean takes its words as the meaning of each field. A header listed in AMBIGUOUS could mean
several fields and is refused with those choices rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from batchgs.io.names import normalise

_USER_ID = ("User ID", "External ID", "External User ID", "Customer User ID", "Login ID")
_LOCATION: dict[str, tuple[str, ...]] = {
    "location.countryName": ("Country", "Country Name"),
    "location.countryCode": ("Country Code", "Country ISO Code", "ISO Country"),
    "location.stateName": ("State", "State Name", "Province", "State/Province"),
    "location.stateCode": ("State Code", "Province Code"),
    "location.city": ("City", "Town"),
    "location.street": ("Street", "Street Address", "Address"),
    "location.postalCode": ("Postal Code", "Postcode", "Post Code", "ZIP", "ZIP Code"),
    "location.continent": ("Continent",),
    "location.regionName": ("Region", "Region Name"),
    "location.timeZone": ("Time Zone", "TZ", "Time Zone Name"),
    "location.coordinates.latitude": ("Latitude", "Lat"),
    "location.coordinates.longitude": ("Longitude", "Lng", "Lon", "Long"),
}
_PRODUCT_KEYS = ("Product Key", "Product Keys", "Property Key")

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "users": {
        "identifyId": _USER_ID,
        "email": ("Email Address", "E-mail Address", "Mail", "Work Email"),
        "firstName": ("Given Name", "Forename"),
        "lastName": ("Surname", "Family Name"),
        "title": ("Job Title", "Position"),
        "signUpDate": ("Signup", "Sign Up", "Registration Date", "Registered", "Signed Up"),
        "firstVisitDate": ("First Visit", "First Seen", "First Seen Date"),
        "phone": ("Phone Number", "Telephone", "Tel", "Mobile", "Mobile Phone"),
        "role": ("User Role",),
        "type": ("User Type",),
        "subscriptionId": ("Subscription", "Subscription Number"),
        "accountId": ("Account ID", "Account", "Company ID", "Account Key"),
        "globalUnsubscribe": ("Unsubscribed", "Unsubscribe", "Email Opt Out", "Email Unsubscribed"),
        "sfdcContactId": ("Salesforce Contact ID", "SFDC Contact ID", "Contact ID"),
        "propertyKeys": _PRODUCT_KEYS,
        **_LOCATION,
    },
    "accounts": {
        "id": ("Account ID", "Account Key", "External ID", "Company ID"),
        "name": ("Account Name", "Company Name", "Company", "Organization", "Organisation"),
        "sfdcId": ("Salesforce ID", "SFDC ID", "Salesforce Account ID", "SFDC Account ID"),
        "trackedSubscriptionId": ("Subscription ID", "Subscription"),
        "dunsNumber": ("DUNS", "D-U-N-S"),
        "numberOfEmployees": ("Employees", "Employee Count", "Headcount", "Number of Employees"),
        "sicCode": ("SIC",),
        "naicsCode": ("NAICS",),
        "website": ("Web Site", "Website URL", "URL", "Homepage"),
        "plan": ("Plan Name", "Tier"),
        "parentGroupId": ("Parent Account ID", "Parent ID", "Parent Account"),
        "renewalDate": ("Renewal", "Contract Renewal Date"),
        "healthScore": ("Health",),
        "nps": ("NPS Score", "Net Promoter Score"),
        "csm": ("Customer Success Manager", "CSM Name"),
        "propertyKeys": _PRODUCT_KEYS,
        **_LOCATION,
    },
    "events": {
        "identifyId": _USER_ID,
        "accountId": ("Account ID", "Account", "Company ID"),
        "eventName": ("Event", "Name", "Action", "Event Type Name"),
        "date": ("Event Date", "Timestamp", "Time", "Event Time", "Event Timestamp", "Occurred At", "When"),
        "eventId": ("Event ID",),
        "userType": ("User Type",),
        "propertyKey": _PRODUCT_KEYS,
        "url": ("URL", "Page URL", "Current URL"),
        "referrer": ("Referer", "Referrer URL", "Referring URL"),
        "remoteHost": ("IP", "IP Address", "Remote IP", "Host"),
    },
    "preferences": {"identifyId": _USER_ID},
}

AMBIGUOUS: dict[str, dict[str, tuple[str, ...]]] = {
    "users": {
        "Name": ("firstName", "lastName"),
        "Full Name": ("firstName", "lastName"),
        "Date": ("signUpDate", "firstVisitDate"),
    },
    "accounts": {"Account": ("id", "name")},
    "events": {"ID": ("identifyId", "accountId", "eventId")},
}

DATE_WORDS = ("date", "time", "timestamp", "utc", "ms", "epoch", "at", "when", "day")
"""Words that say "a point in time": they count toward every date field in did-you-mean."""


def synonyms_for(entity: str) -> Mapping[str, tuple[str, ...]]:
    """API field → the headers that mean it, for `entity` ({} for entities without a table)."""
    return SYNONYMS.get(entity, {})


def synonym_field(entity: str, header: str) -> str | None:
    """The API field a header means by the table, or None."""
    return _lookup(entity).get(normalise(header))


def ambiguous_fields(entity: str, header: str) -> tuple[str, ...]:
    """The fields an ambiguous header could mean (empty when it is not ambiguous)."""
    wanted = normalise(header)
    for spelling, fields in AMBIGUOUS.get(entity, {}).items():
        if normalise(spelling) == wanted:
            return fields
    return ()


_LOOKUPS: dict[str, dict[str, str]] = {}


def _lookup(entity: str) -> dict[str, str]:
    found = _LOOKUPS.get(entity)
    if found is None:
        found = {normalise(h): name for name, headers in synonyms_for(entity).items() for h in headers}
        _LOOKUPS[entity] = found
    return found


def check_table() -> list[str]:
    """Problems in the table itself (a header listed for two fields, or both mapped and ambiguous)."""
    problems: list[str] = []
    for entity, table in SYNONYMS.items():
        seen: dict[str, str] = {}
        for name, headers in table.items():
            for header in headers:
                key = normalise(header)
                if key in seen and seen[key] != name:
                    problems.append(f"{entity}: {header!r} listed for {seen[key]} and {name}")
                seen[key] = name
        for header in AMBIGUOUS.get(entity, {}):
            if normalise(header) in seen:
                problems.append(f"{entity}: {header!r} is both a synonym and ambiguous")
    return problems
