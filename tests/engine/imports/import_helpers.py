"""Test files and runners for import tests: seeded data, a fast client, the expected final state."""

from __future__ import annotations

import asyncio
import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs.config import Secret, Settings
from batchgs.engine.imports.importer import Importer, ImportOptions, RunControl
from batchgs.entities import registry
from batchgs.run.journal import Journal
from batchgs.sandbox.server import SandboxThread
from batchgs.transport.client import TransportStats, px_client
from batchgs.transport.limiter import px_limiter
from batchgs.transport.retry import RetryPolicy

USER_HEADERS = ["identifyId", "email", "firstName", "lastName", "signUpDate", "custom.plan", "custom.seats"]
EVENT_HEADERS = ["identifyId", "eventName", "date", "attributes.seq"]


@dataclass
class UserFile:
    path: Path
    valid: dict[str, dict[str, str]] = field(default_factory=dict)  # identifyId -> row cells
    invalid_rows: set[int] = field(default_factory=set)  # spreadsheet row numbers


def write_users(path: Path, n: int, *, seed: int = 7, invalid_every: int = 0, start: int = 0) -> UserFile:
    """`n` users U000000...; every `invalid_every`-th row has a bad date or no identifyId."""
    rng = random.Random(seed)
    result = UserFile(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(USER_HEADERS)
        for i in range(n):
            uid = f"U{start + i:06d}"
            cells = {
                "identifyId": uid,
                "email": f"user{start + i}@example.com",
                "firstName": rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara"]),
                "lastName": f"Name{rng.randrange(10_000)}",
                "signUpDate": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T10:00:00Z",
                "custom.plan": rng.choice(["free", "pro", "business"]),
                "custom.seats": str(rng.randrange(1, 500)),
            }
            row_number = i + 2
            if invalid_every and i % invalid_every == invalid_every - 1:
                if rng.random() < 0.5:
                    cells["signUpDate"] = "not a date"
                else:
                    cells["identifyId"] = ""
                result.invalid_rows.add(row_number)
            else:
                result.valid[uid] = cells
            writer.writerow([cells[h] for h in USER_HEADERS])
    return result


def write_events(path: Path, n: int, *, seed: int = 3) -> Path:
    """`n` custom events, each carrying its own sequence number so stored copies can be counted."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_HEADERS)
        for i in range(n):
            writer.writerow([f"U{rng.randrange(50):06d}", "Invoice Paid", "2026-10-01T10:00:00Z", str(i)])
    return path


def assert_users_match(store: Any, expected: dict[str, dict[str, str]]) -> None:
    """Every expected user is stored with exactly the file's values."""
    missing = sorted(set(expected) - set(store.users))
    assert not missing, f"{len(missing)} users missing, e.g. {missing[:5]}"
    for uid, cells in expected.items():
        record = store.users[uid]
        assert record["email"] == cells["email"], uid
        assert record["firstName"] == cells["firstName"], uid
        assert record["lastName"] == cells["lastName"], uid
        custom = record.get("customAttributes") or {}
        assert str(custom.get("plan")) == cells["custom.plan"], uid
        assert float(custom.get("seats")) == float(cells["custom.seats"]), uid


def stored_event_copies(store: Any) -> dict[int, int]:
    """Sequence number -> how many times the sandbox stored that event."""
    copies: dict[int, int] = {}
    for event in store.custom_events:
        seq = int(float((event.get("attributes") or {}).get("seq")))
        copies[seq] = copies.get(seq, 0) + 1
    return copies


def fast_settings(sandbox: SandboxThread, state_dir: Path, **changes: Any) -> Settings:
    return Settings(
        px_base_url=sandbox.url, px_api_key=Secret(sandbox.api_key), state_dir=state_dir, **changes
    )


def fast_client_factory(
    settings: Settings, *, rate: float = 3000.0, stats: TransportStats | None = None
) -> Any:
    """The real client with a high rate and short backoffs, so fault tests run in seconds."""

    def make() -> Any:
        return px_client(
            settings,
            stats=stats,
            limiter=px_limiter(rate, pause_base=0.01, pause_cap=0.05, recover_interval=0.02),
            policy=RetryPolicy(max_attempts=12, base=0.01, cap=0.05, rng=random.Random(11)),
        )

    return make


def run_library_import(
    run_dir: Path,
    path: Path,
    settings: Settings,
    options: ImportOptions,
    *,
    control: RunControl | None = None,
    rate: float = 3000.0,
    resume: bool = False,
) -> dict[str, Any]:
    """One import segment through the library (no CLI): new run, or resume of `run_dir`."""
    journal = (
        Journal.open(run_dir)
        if resume
        else Journal.create(
            run_dir, kind="import", entity=options.entity, input_path=path, options=options.to_journal()
        )
    )
    try:
        importer = Importer(
            spec=registry.get(options.entity),
            input_path=path,
            options=options,
            journal=journal,
            client_factory=fast_client_factory(settings, rate=rate),
            control=control or RunControl(progress=False, rate=rate),
        )
        return asyncio.run(importer.run())
    finally:
        journal.close()


def error_rows(run_dir: Path) -> dict[int, dict[str, str]]:
    with (run_dir / "errors.csv").open(encoding="utf-8") as handle:
        return {int(r["_row"]): r for r in csv.DictReader(handle)}


def success_rows(run_dir: Path) -> dict[int, dict[str, str]]:
    with (run_dir / "success.csv").open(encoding="utf-8") as handle:
        return {int(r["_row"]): r for r in csv.DictReader(handle)}


def max_in_sliding_second(arrivals: Iterable[float]) -> int:
    """The largest number of arrivals in any window [t, t + 1s) — computed exactly, not per bucket."""
    times = sorted(arrivals)
    best, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best
