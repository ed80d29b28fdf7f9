"""Opt-out test data and runners: a sandbox that records every write body (and can ignore chosen
writes), seeded users in known preference states, lists of people, and an independent model of the
receipt a list must produce."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from batchgs.config import Settings
from batchgs.engine.optout.actions import PREFERENCE_NAMES, OptOutOptions
from batchgs.engine.optout.run import OptOutControl, OptOutEngine
from batchgs.run.journal import Journal
from batchgs.sandbox.server import SandboxThread
from batchgs.sandbox.settings import SandboxConfig
from tests.engine.imports.import_helpers import fast_client_factory

SHARED_EMAIL = "shared@example.com"
WRITE_METHODS = ("PUT", "POST", "DELETE", "PATCH")
ALREADY = range(0, 10)  # users with all six preferences already off
PARTIAL = range(10, 20)  # users with trackUsage and surveys already off
DENIED = range(0, 5)  # users already on the denylist


@dataclass
class WriteLog:
    """Every write request the sandbox received: (method, decoded path, parsed JSON body)."""

    entries: list[tuple[str, str, Any]] = field(default_factory=list)
    ignore: dict[str, int] = field(default_factory=dict)  # PUT path -> how many to swallow (204, no-op)
    refuse_after_write: set[str] = field(default_factory=set)  # GET path -> 401 once its PUT was seen

    def preference_puts(self, identify_id: str | None = None) -> list[Any]:
        return [
            body
            for method, path, body in self.entries
            if method == "PUT"
            and "/user/preferences" in path
            and (
                identify_id is None
                or path.endswith(f"/{identify_id}")
                or (body or {}).get("identifyId") == identify_id
            )
        ]

    def puts_per_user(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for method, path, _body in self.entries:
            if method == "PUT" and path.startswith("/v2/user/preferences/"):
                uid = path.rsplit("/", 1)[1]
                counts[uid] = counts.get(uid, 0) + 1
        return counts


def assert_never_turned_on(log: WriteLog) -> None:
    """No request ever carried a preference other than false, a denylist flag other than true, or a
    user field other than globalUnsubscribe=true."""
    for method, path, body in log.entries:
        assert method in ("PUT", "POST"), (method, path)
        values = {k: v for k, v in (body or {}).items() if k != "identifyId"}
        if "/user/preferences" in path:
            if method == "POST":
                assert values == {}, (path, body)  # the id-in-body read
            else:
                assert values and all(v is False for v in values.values()), (path, body)
        elif path.startswith("/v1/users/denylist/"):
            assert body == {"denied": True}, (path, body)
        else:
            assert path.startswith("/v1/users/") and values == {"globalUnsubscribe": True}, (path, body)


def recording_middleware(log: WriteLog) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        written = any(m == "PUT" and p == request.path for m, p, _b in log.entries)
        if request.method == "GET" and request.path in log.refuse_after_write and written:
            log.refuse_after_write.discard(request.path)
            return web.json_response({"externalapierror": {"status": "UNAUTHORIZED"}}, status=401)
        if request.method in WRITE_METHODS and not request.path.startswith("/__sandbox"):
            raw = await request.read()  # cached: the handler reads the same body
            log.entries.append((request.method, request.path, json.loads(raw) if raw else None))
            if request.method == "PUT" and log.ignore.get(request.path, 0) > 0:
                log.ignore[request.path] -= 1
                return web.Response(status=204)  # the fault: answered as done, not applied
        return await handler(request)

    return record


def start_recording_sandbox(started: list[SandboxThread], **config: Any) -> tuple[SandboxThread, WriteLog]:
    """A sandbox (stopped by the caller's fixture) whose outermost middleware logs write bodies."""
    handle = SandboxThread(SandboxConfig().with_changes(**config) if config else SandboxConfig())
    log = WriteLog()
    handle.app.middlewares.insert(0, recording_middleware(log))
    started.append(handle)
    return handle.start(), log


def populate(store: Any, n: int) -> None:
    """Users U00000.. with person<i>@example.com; the last two share SHARED_EMAIL; ALREADY all off,
    PARTIAL trackUsage+surveys off, DENIED on the denylist."""
    for i in range(n):
        uid = f"U{i:05d}"
        email = SHARED_EMAIL if i >= n - 2 else f"person{i}@example.com"
        store.users[uid] = {
            "identifyId": uid,
            "email": email,
            "firstName": f"First{i}",
            "lastName": f"Last{i}",
            "globalUnsubscribe": False,
            "propertyKeys": ["AP-TEST-1"],
        }
    for i in ALREADY:
        store.preferences[f"U{i:05d}"] = dict.fromkeys(PREFERENCE_NAMES, False)
    for i in PARTIAL:
        store.preferences[f"U{i:05d}"] = {"trackUsage": False, "surveys": False}
    for i in DENIED:
        store.denylist.add(f"U{i:05d}")


def write_list(
    path: Path,
    rows: Iterable[tuple[str, str]],
    header: tuple[str, str, str] = ("Identify ID", "E-mail", "Name"),
) -> Path:
    """A list as a privacy team sends it: friendly headers and a name column batchgs does not use."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows((uid, email, f"Person {i}") for i, (uid, email) in enumerate(rows))
    return path


def mixed_entries(n_users: int, n_entries: int, *, seed: int = 5) -> list[tuple[str, str]]:
    """Ids, emails in mixed case, unknown people, duplicates, the shared email, invalid rows."""
    rng = random.Random(seed)
    known = list(range(n_users - 2))
    rng.shuffle(known)
    entries: list[tuple[str, str]] = []
    for i in [*ALREADY[:5], *PARTIAL[:5]]:
        entries.append((f"U{i:05d}", ""))
    for i in [*ALREADY[5:], *PARTIAL[5:]]:
        entries.append(("", f"PERSON{i}@Example.com"))
    picks = [i for i in known if i >= 20]
    ids, emails = picks[: n_entries * 2 // 5], picks[n_entries * 2 // 5 : n_entries * 3 // 4]
    entries += [(f"U{i:05d}", "") for i in ids]
    entries += [("", _mangle(f"person{i}@example.com", rng)) for i in emails]
    entries += [(f"X{i:05d}", "") for i in range(12)]  # unknown ids
    entries += [("", f"nobody{i}@example.org") for i in range(12)]  # unknown emails
    entries += [("", "Shared@Example.COM"), ("", SHARED_EMAIL), (f"U{n_users - 1:05d}", "")]
    entries += [("", "not-an-email"), ("", ""), ("", "two@@example.com"), ("", "=cmd@example.com")]
    entries += [(f"U{i:05d}", "") for i in emails[:6]] + [
        ("", _mangle(f"person{i}@example.com", rng)) for i in ids[:6]
    ]
    rng.shuffle(entries)
    while len(entries) < n_entries:
        entries.append(rng.choice([e for e in entries if e[0] or "@" in e[1]]))
    return entries[:n_entries]


def _mangle(email: str, rng: random.Random) -> str:
    return "".join(ch.upper() if rng.random() < 0.4 else ch for ch in email)


def expected_receipt(
    entries: list[tuple[str, str]],
    users: dict[str, dict[str, Any]],
    prefs: dict[str, dict[str, bool]],
    only: tuple[str, ...] = PREFERENCE_NAMES,
) -> list[tuple[int, str, str]]:
    """(row, identifyId, status) per receipt line, by an independent reading of the rules."""
    by_email: dict[str, list[str]] = {}
    for uid, user in users.items():
        by_email.setdefault(user["email"].lower(), []).append(uid)
    seen: dict[str, str] = {}
    lines: list[tuple[int, str, str]] = []
    for index, (uid, email) in enumerate(entries):
        row = index + 2
        if uid:
            ids = [uid]
        elif not email or email.count("@") != 1 or "." not in email.split("@")[-1]:
            lines.append((row, "", "invalid"))
            continue
        else:
            ids = sorted(by_email.get(email.lower(), []))
        if not ids:
            lines.append((row, uid, "not-found"))
            continue
        for one in ids:
            if one not in users:
                lines.append((row, one, "not-found"))
                continue
            if one not in seen:
                current = prefs.get(one, {})
                off = all(current.get(name) is False for name in only)
                seen[one] = "already-opted-out" if off else "opted-out"
            lines.append((row, one, seen[one]))
    return lines


def read_receipt(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "receipt.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def receipt_without_times(run_dir: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in line.items() if k != "time"} for line in read_receipt(run_dir)]


def people_per_status(receipt: list[dict[str, str]]) -> dict[str, int]:
    """From receipt.csv alone: each person once. A person is a row, joined with every row that shares
    an identifyId or asks for the same address nobody has (an email matching two users is one person);
    an invalid row is one by itself. Their status is the most pressing of their lines'."""
    order = ["pending", "failed", "opted-out", "already-opted-out", "not-found", "invalid"]
    groups: list[set[str]] = []  # sets of labels: "row:N", "id:X", "asked:e"
    for line in receipt:
        labels = {f"row:{line['row']}"}
        if line["status"] != "invalid":
            if line["identifyId"]:
                labels.add(f"id:{line['identifyId']}")
            else:
                labels.add(f"asked:{line['email'].strip().lower()}")
        touching = [g for g in groups if g & labels]
        merged = labels.union(*touching)
        groups = [g for g in groups if not g & labels] + [merged]
    counts: dict[str, int] = {}
    for group in groups:
        statuses = [line["status"] for line in receipt if f"row:{line['row']}" in group]
        status = min(statuses, key=order.index)
        counts[status] = counts.get(status, 0) + 1
    return counts


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_library_optout(
    run_dir: Path,
    path: Path,
    settings: Settings,
    options: OptOutOptions,
    *,
    resume: bool = False,
    control: OptOutControl | None = None,
) -> dict[str, Any]:
    """One opt-out segment through the engine (no CLI, no prompt): a new run, or a resume."""
    journal = (
        Journal.open(run_dir)
        if resume
        else Journal.create(
            run_dir, kind="optout", entity="optout", input_path=path, options=options.to_journal()
        )
    )
    try:
        engine = OptOutEngine(
            input_path=path,
            options=options,
            journal=journal,
            client_factory=fast_client_factory(settings),
            control=control or OptOutControl(progress=False),
        )
        plan = asyncio.run(engine.prepare())
        if plan.new:
            engine.commit_plan(plan)
        return asyncio.run(engine.execute(plan))
    finally:
        journal.close()


RecordingSandbox = Callable[..., tuple[SandboxThread, WriteLog]]
