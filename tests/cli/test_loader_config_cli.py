"""Coming from Gainsight's PX data loader: its files and config.json import unchanged, and Gainsight ends
up holding what the loader would have stored.

The expected records below are the loader's behaviour written down independently (read from
aptrinsic/px-data-loader v1.3.5 and checked by hand against the sandbox): `fieldMapping` maps API
field → CSV header, unlisted columns are ignored; an ISO date without offset is wall time in the
config's `timezone` (DST applies), epoch milliseconds are taken as they are; users and accounts carry
`propertyKeys: [productKey]`; a custom event carries `userType: USER`, `propertyKey` and its attributes
as the text written (an empty cell as ""). Its `apiKey` is never used: batchgs takes the key from the
environment only.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from batchgs.sandbox.server import SandboxThread
from batchgs.sandbox.settings import SandboxConfig
from tests.cli.cli_helpers import cli_env, run_cli

ZONE = "America/Los_Angeles"
PRODUCT_KEY = "AP-LOADER-7"
FILE_KEY = "px-loader-key-0f3c9a51-6b7e-4d2a-9c1e-8a7b6c5d4e3f"
USERS_CSV = (
    "User ID,Job Title,Email,First Name,Last Name,Sign-Up Date,Role,Phone,Score,Time Zone,City,Notes\n"
    "tinylion155,BigData Engineer,corey.thomas@example.com,Corey,Thomas,1559696309000,Admin,"
    "(814)-853-6602,87,GMT+7,Paris,not mapped\n"
    "tinyfrog185,Software Engineer,fred.jones@example.com,Fred,Jones,2020-11-29T17:05:23,Slappy,"
    "(917)-876-1234,12.5,GMT+7,Lyon,\n"
    "summer01,Analyst,summer@example.com,Sam,Mer,2024-07-01T09:30:00,User,555,3,America/Los_Angeles,Oakland,\n"
    "winter01,Analyst,winter@example.com,Win,Ter,2024-01-15 08:00:00,User,556,4,America/Los_Angeles,Fresno,\n"
    "dateonly01,Analyst,dateonly@example.com,Dat,Only,2024-06-15,User,557,5,UTC,Reno,\n"
    "repeated01,Analyst,repeated@example.com,Rep,Eated,2024-11-03T01:30:00,User,558,6,UTC,Napa,\n"
    "skipped01,Analyst,skipped@example.com,Ski,Pped,2024-03-10T02:30:00,User,559,7,UTC,Davis,\n"
)
# What the loader stored for the DST edge rows (pytz localize with is_dst=False, i.e. standard time):
# 01:30 on 2024-11-03 happens twice in Los Angeles and the loader took the second (PST) one; 02:30 on
# 2024-03-10 does not exist there and the loader read it as 02:30 PST. Both checked by hand.
PST_REPEATED = 1730626200000  # 2024-11-03T09:30:00Z
PST_SKIPPED = 1710066600000  # 2024-03-10T10:30:00Z
ACCOUNTS_CSV = "Account ID,Account Name,Plan\n3,Acme,gold\n4,Globex,silver\n"
EVENTS_CSV = (
    "Account ID,User ID,Event Name,Event Date UTC-MS,Source,Terms,Category\n"
    "3,tinylion155,Search,1560499354771,CSV,Example of search terms,Enterprise\n"
    "3,tinylion155,Search,1560499354771,CSV,Example of search terms,Enterprise\n"
    "4,tinyfrog185,Export,2024-07-01T09:30:00,API,,Pro\n"
    "4,summer01,Export,2024-01-15,UI,42,Pro\n"
)


def loader_config(
    *, api_key: str = FILE_KEY, data_center: str = "US", timezone: str = ZONE
) -> dict[str, Any]:
    return {
        "apiKey": api_key,
        "productKey": PRODUCT_KEY,
        "dataCenter": data_center,
        "timezone": timezone,
        "fieldMapping": {
            "USER": {
                "identifyId": "User ID",
                "title": "Job Title",
                "email": "Email",
                "firstName": "First Name",
                "lastName": "Last Name",
                "signUpDate": "Sign-Up Date",
                "role": "Role",
                "phone": "Phone",
                "score": "Score",
                "location.timeZone": "Time Zone",
                "location.city": "City",
            },
            "ACCOUNT": {"id": "Account ID", "name": "Account Name"},
            "CUSTOM_EVENT": {
                "identifyId": "User ID",
                "accountId": "Account ID",
                "eventName": "Event Name",
                "date": "Event Date UTC-MS",
                "attributes.Source": "Source",
                "attributes.Terms": "Terms",
                "attributes.Category": "Category",
            },
        },
    }


def wall_ms(text: str, zone: str = ZONE) -> int:
    """Epoch ms of a wall time in `zone` (the loader: pytz localize, then seconds * 1000)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()) * 1000


def expected_users() -> dict[str, dict[str, Any]]:
    rows = [
        (
            "tinylion155",
            "BigData Engineer",
            "corey.thomas",
            "Corey",
            "Thomas",
            1559696309000,
            "Admin",
            "(814)-853-6602",
            87,
            "GMT+7",
            "Paris",
        ),
        (
            "tinyfrog185",
            "Software Engineer",
            "fred.jones",
            "Fred",
            "Jones",
            wall_ms("2020-11-29T17:05:23"),
            "Slappy",
            "(917)-876-1234",
            12.5,
            "GMT+7",
            "Lyon",
        ),
        (
            "summer01",
            "Analyst",
            "summer",
            "Sam",
            "Mer",
            wall_ms("2024-07-01T09:30:00"),
            "User",
            "555",
            3,
            ZONE,
            "Oakland",
        ),
        (
            "winter01",
            "Analyst",
            "winter",
            "Win",
            "Ter",
            wall_ms("2024-01-15T08:00:00"),
            "User",
            "556",
            4,
            ZONE,
            "Fresno",
        ),
        (
            "dateonly01",
            "Analyst",
            "dateonly",
            "Dat",
            "Only",
            wall_ms("2024-06-15T00:00:00"),
            "User",
            "557",
            5,
            "UTC",
            "Reno",
        ),
        ("repeated01", "Analyst", "repeated", "Rep", "Eated", PST_REPEATED, "User", "558", 6, "UTC", "Napa"),
        ("skipped01", "Analyst", "skipped", "Ski", "Pped", PST_SKIPPED, "User", "559", 7, "UTC", "Davis"),
    ]
    return {
        uid: {
            "identifyId": uid,
            "title": title,
            "email": f"{mail}@example.com",
            "firstName": first,
            "lastName": last,
            "signUpDate": signup,
            "role": role,
            "phone": phone,
            "score": score,
            "location": {"timeZone": tz, "city": city},
            "propertyKeys": [PRODUCT_KEY],
        }
        for uid, title, mail, first, last, signup, role, phone, score, tz, city in rows
    }


def expected_events() -> list[dict[str, Any]]:
    def event(
        account: str, user: str, name: str, date: int, source: str, terms: str, category: str
    ) -> dict[str, Any]:
        return {
            "identifyId": user,
            "accountId": account,
            "eventName": name,
            "date": date,
            "attributes": {"Source": source, "Terms": terms, "Category": category},
            "userType": "USER",
            "propertyKey": PRODUCT_KEY,
        }

    search = event(
        "3", "tinylion155", "Search", 1560499354771, "CSV", "Example of search terms", "Enterprise"
    )
    return [
        search,
        dict(search),
        event("4", "tinyfrog185", "Export", wall_ms("2024-07-01T09:30:00"), "API", "", "Pro"),
        event("4", "summer01", "Export", wall_ms("2024-01-15T00:00:00"), "UI", "42", "Pro"),
    ]


def as_sent(record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The stored record restricted to the fields the loader would have written."""
    return {name: record.get(name) for name in fields}


def canonical(items: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in items)


class RequestLog:
    """Every request the sandbox received, as text: method, URL with query, headers, body."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def middleware(self) -> Any:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            body = (await request.read()).decode("utf-8", "replace")
            headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
            self.entries.append(f"{request.method} {request.path_qs}\n{headers}\n\n{body}")
            return await handler(request)

        return record


@pytest.fixture
def logged_sandbox() -> Any:
    handle = SandboxThread(SandboxConfig())
    log = RequestLog()
    handle.app.middlewares.insert(0, log.middleware())
    handle.start()
    try:
        yield handle, log
    finally:
        handle.stop()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def env_without_product_key(sandbox: SandboxThread, tmp_path: Path) -> dict[str, str]:
    env = cli_env(sandbox, tmp_path / "state")
    del env["GAINSIGHT_PX_PRODUCT_KEY"]  # the product key must come from the config
    return env


def test_loader_files_and_config_store_what_the_loader_stores(logged_sandbox: Any, tmp_path: Path) -> None:
    sandbox, log = logged_sandbox
    config = write(tmp_path, "loader-settings.txt", json.dumps(loader_config(), indent=2))  # any name
    env = env_without_product_key(sandbox, tmp_path)
    results = {}
    for entity, text in (("accounts", ACCOUNTS_CSV), ("users", USERS_CSV), ("events", EVENTS_CSV)):
        data = write(tmp_path, f"{entity}.csv", text)
        run_dir = tmp_path / f"run-{entity}"
        result = run_cli(["import", entity, str(data), "--map", str(config), "--run-dir", str(run_dir)], env)
        assert result.exit_code == 0, result.output
        results[entity] = result

    users = expected_users()
    stored_users = sandbox.store.users
    assert sorted(stored_users) == sorted(users)
    for uid, fields in users.items():
        assert as_sent(stored_users[uid], fields) == fields, uid
    assert sorted(sandbox.store.accounts) == ["3", "4"]
    assert [sandbox.store.accounts[i]["name"] for i in ("3", "4")] == ["Acme", "Globex"]
    assert all(a["propertyKeys"] == [PRODUCT_KEY] for a in sandbox.store.accounts.values())

    wanted = expected_events()
    stored = [as_sent(e, wanted[0]) for e in sandbox.store.custom_events]
    assert canonical(stored) == canonical(wanted)  # the same multiset: the repeated row is sent twice

    assert "not in the loader config's fieldMapping, ignored: Notes" in results["users"].stderr
    for result in results.values():  # one warning per command, naming where keys come from
        assert result.stderr.count("holds an apiKey") == 1
        assert "GAINSIGHT_PX_API_KEY" in result.stderr
        assert FILE_KEY not in result.output + result.stderr

    assert log.entries, "the sandbox saw the requests"
    assert not [entry for entry in log.entries if FILE_KEY in entry]
    assert all(f"X-Aptrinsic-Api-Key: {sandbox.api_key}".lower() in e.lower() for e in log.entries)
    for path in tmp_path.glob("run-*/**/*"):
        if path.is_file():
            assert FILE_KEY.encode() not in path.read_bytes(), path


def test_an_empty_api_key_gives_no_warning_and_the_timezone_option_wins(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    config = write(tmp_path, "config.json", json.dumps(loader_config(api_key="")))
    data = write(tmp_path, "users.csv", USERS_CSV)
    env = env_without_product_key(sandbox, tmp_path)
    args = ["import", "users", str(data), "--map", str(config), "--timezone", "Europe/Paris"]
    result = run_cli([*args, "--run-dir", str(tmp_path / "run")], env)
    assert result.exit_code == 0, result.output
    assert "apiKey" not in result.stderr
    paris = int(datetime(2024, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()) * 1000
    assert sandbox.store.users["summer01"]["signUpDate"] == paris


def test_without_a_loader_config_the_dst_edges_follow_batchgs_rules(tmp_path: Path) -> None:
    """A TOML map keeps batchgs's own rule: the first occurrence; a skipped wall time is bad-date."""
    toml = write(tmp_path, "map.toml", '[columns]\n"Sign-Up Date" = "signUpDate"\n')
    data = write(tmp_path, "users.csv", "User ID,Sign-Up Date\nrepeated01,2024-11-03T01:30:00\n")
    args = [
        "validate",
        "users",
        str(data),
        "--map",
        str(toml),
        "--offline",
        "--show-payload",
        "1",
        "--mode",
        "update",
    ]
    result = run_cli([*args, "--timezone", ZONE, "--run-dir", str(tmp_path / "v")], {})
    assert result.exit_code == 0, result.output
    assert f'"signUpDate":{PST_REPEATED - 3_600_000}' in "".join(result.output.split())  # PDT
    write(tmp_path, "users.csv", "User ID,Sign-Up Date\nskipped01,2024-03-10T02:30:00\n")
    result = run_cli([*args, "--timezone", ZONE, "--run-dir", str(tmp_path / "w")], {})
    assert result.exit_code == 1
    assert "bad-date" in result.output


def test_options_and_environment_win_over_the_config_defaults(sandbox: SandboxThread, tmp_path: Path) -> None:
    """dataCenter EU and the config's product key are defaults: GAINSIGHT_PX_BASE_URL (the sandbox) and
    --product-key are used instead."""
    config = write(tmp_path, "config.json", json.dumps(loader_config(data_center="EU")))
    data = write(tmp_path, "accounts.csv", ACCOUNTS_CSV)
    env = env_without_product_key(sandbox, tmp_path)
    args = ["import", "accounts", str(data), "--map", str(config), "--product-key", "AP-OPTION-1"]
    result = run_cli([*args, "--run-dir", str(tmp_path / "run")], env)
    assert result.exit_code == 0, result.output
    assert sandbox.store.accounts["3"]["propertyKeys"] == ["AP-OPTION-1"]


def test_a_config_without_the_entity_section_is_refused(sandbox: SandboxThread, tmp_path: Path) -> None:
    settings = loader_config()
    del settings["fieldMapping"]["CUSTOM_EVENT"]
    config = write(tmp_path, "config.json", json.dumps(settings))
    data = write(tmp_path, "events.csv", EVENTS_CSV)
    result = run_cli(["import", "events", str(data), "--map", str(config)], cli_env(sandbox, tmp_path / "s"))
    assert result.exit_code == 2
    assert (
        f"Error: {config}: loader config has no fieldMapping.CUSTOM_EVENT section for events "
        "(it has: ACCOUNT, USER)\n"
    ) in result.stderr
    assert sandbox.store.custom_events == []


def test_validate_reads_the_config_timezone(tmp_path: Path) -> None:
    config = write(tmp_path, "config.json", json.dumps(loader_config(api_key="")))
    data = write(tmp_path, "users.csv", USERS_CSV)
    args = ["validate", "users", str(data), "--map", str(config), "--offline", "--show-payload", "3"]
    result = run_cli([*args, "--run-dir", str(tmp_path / "v")], {"BATCHGS_STATE_DIR": str(tmp_path / "s")})
    assert result.exit_code == 0, result.output
    compact = "".join(result.output.split())
    assert f'"signUpDate":{wall_ms("2024-07-01T09:30:00")}' in compact
    assert f'"propertyKeys":["{PRODUCT_KEY}"]' in compact
