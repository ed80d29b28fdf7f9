"""Regenerate the small, realistic files in samples/ (deterministic: seeded).

Run: python scripts/make_samples.py. The demo, README and docs use these files.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parent.parent / "samples"
PRODUCT_KEY = "AP-SANDBOX-1"
FIRST = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Alan",
    "Barbara",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Tim",
    "Hedy",
    "Edsger",
    "Katherine",
    "John",
    "Sophie",
    "Guido",
    "Anita",
    "Niklaus",
    "Lynn",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Turing",
    "Liskov",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Dijkstra",
    "Johnson",
    "Backus",
    "Wilson",
    "van Rossum",
    "Borg",
    "Wirth",
    "Conway",
]
COUNTRIES = [
    ("France", "FR", "Paris"),
    ("Germany", "DE", "Berlin"),
    ("United States", "US", "Boston"),
    ("United Kingdom", "GB", "London"),
    ("Japan", "JP", "Tokyo"),
    ("Brazil", "BR", "São Paulo"),
]
PLANS = ["free", "team", "business", "enterprise"]


def accounts(rng: random.Random) -> list[dict[str, str]]:
    names = [
        "Acme Corp",
        "Globex",
        "Initech",
        "Umbrella",
        "Hooli",
        "Stark Industries",
        "Wayne Enterprises",
        "Cyberdyne",
        "Soylent",
        "Tyrell",
    ]
    rows = []
    for i, name in enumerate(names):
        country, _code, city = COUNTRIES[i % len(COUNTRIES)]
        rows.append(
            {
                "id": f"ACC-{1000 + i}",
                "name": name,
                "industry": rng.choice(["Software", "Retail", "Finance"]),
                "numberOfEmployees": str(rng.choice([12, 80, 450, 2300, 12000])),
                "plan": rng.choice(PLANS),
                "website": f"https://www.{name.lower().replace(' ', '')}.example",
                "location.countryName": country,
                "location.city": city,
                "renewalDate": f"2027-{1 + i % 12:02d}-15",
                "custom.tier": rng.choice(["gold", "silver", "bronze"]),
                "custom.arr": str(rng.randrange(5, 900) * 1000),
                "custom.isPartner": rng.choice(["yes", "no"]),
                "propertyKeys": PRODUCT_KEY,
            }
        )
    return rows


def users(rng: random.Random, account_ids: list[str]) -> list[dict[str, str]]:
    rows = []
    start = datetime(2021, 1, 4, 9, 30, tzinfo=UTC)
    for i in range(40):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        country, code, city = COUNTRIES[i % len(COUNTRIES)]
        signup = start + timedelta(days=rng.randrange(0, 1400), minutes=rng.randrange(0, 1440))
        rows.append(
            {
                "Identify ID": f"U{10000 + i:06d}",
                "Email": f"{first}.{last}".lower().replace(" ", "") + "@example.com",
                "First Name": first,
                "Last Name": last,
                "Type": "USER",
                "Title": rng.choice(["Engineer", "CTO", "Analyst"]),
                "Account ID": account_ids[i % len(account_ids)],
                "Sign Up Date": signup.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "location.countryName": country,
                "location.countryCode": code,
                "location.city": city,
                "custom.plan": rng.choice(PLANS),
                "custom.seats": str(rng.randrange(1, 250)),
                "custom.trialEndDate": (signup + timedelta(days=30)).strftime("%Y-%m-%d"),
                "custom.isBeta": rng.choice(["true", "false"]),
                "propertyKeys": PRODUCT_KEY,
            }
        )
    return rows


def events(rng: random.Random, user_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    rows = []
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    for i in range(60):
        user = user_rows[rng.randrange(len(user_rows))]
        when = now - timedelta(days=rng.randrange(0, 150), seconds=rng.randrange(0, 86400))
        rows.append(
            {
                "identifyId": user["Identify ID"],
                "accountId": user["Account ID"],
                "eventName": rng.choice(["Report Exported", "Invoice Paid", "Seat Added", "Workflow Run"]),
                "date": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventId": f"EVT-{i:05d}",
                "attributes.amount": str(rng.randrange(1, 500)),
                "attributes.source": rng.choice(["web", "api", "mobile"]),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_users_xlsx(path: Path, rows: list[dict[str, str]]) -> None:
    """Typed cells, as a person's Excel file would have them: real dates, numbers, booleans, text ids."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    headers = list(rows[0])
    ws.append(headers)
    for row in rows:
        values: list[object] = []
        for h in headers:
            v = row[h]
            if h == "Sign Up Date":
                values.append(datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ"))
            elif h == "custom.trialEndDate":
                values.append(datetime.strptime(v, "%Y-%m-%d").date())
            elif h == "custom.seats":
                values.append(int(v))
            elif h == "custom.isBeta":
                values.append(v == "true")
            else:
                values.append(v)
        ws.append(values)
    for cell in ws["A"][1:]:
        cell.number_format = "@"
    for cell in ws["H"][1:]:
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    wb.properties.created = datetime(2026, 1, 1)
    wb.properties.modified = datetime(2026, 1, 1)
    wb.save(path)


def main() -> None:
    rng = random.Random(20261122)
    OUT.mkdir(exist_ok=True)
    acc = accounts(rng)
    usr = users(rng, [a["id"] for a in acc])
    write_csv(OUT / "accounts.csv", acc)
    write_csv(OUT / "users.csv", usr)
    write_users_xlsx(OUT / "users.xlsx", usr)
    write_csv(OUT / "events.csv", events(rng, usr))
    prefs = [
        {
            "identifyId": u["Identify ID"],
            "trackUsage": rng.choice(["true", "false", ""]),
            "productUpdates": rng.choice(["yes", "no", ""]),
            "guidedTours": "",
            "surveys": rng.choice(["1", "0"]),
            "onboardingBot": "",
            "trackEmailAnalytics": rng.choice(["true", ""]),
        }
        for u in usr[:20]
    ]
    write_csv(OUT / "preferences.csv", prefs)
    optout = [
        {"email": u["Email"].upper() if i % 3 == 0 else u["Email"], "identifyId": ""}
        for i, u in enumerate(usr[25:35])
    ]
    optout += [
        {"email": "", "identifyId": usr[36]["Identify ID"]},
        {"email": "nobody@example.com", "identifyId": ""},
    ]
    write_csv(OUT / "optout.csv", optout)


if __name__ == "__main__":
    main()
