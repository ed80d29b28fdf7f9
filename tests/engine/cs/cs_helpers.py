"""Helpers for the CS tests: files, settings, clients (fast, recording, or on a virtual clock)."""

from __future__ import annotations

import asyncio
import csv
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from batchgs.cli.main import cli
from batchgs.config import Secret, Settings
from batchgs.engine.imports.cs_import import CsImporter, CsImportOptions, CsRunControl
from batchgs.run.journal import Journal
from batchgs.sandbox.server import SandboxThread
from batchgs.transport.client import ApiClient, TransportStats, cs_client
from batchgs.transport.limiter import SlidingWindowLimiter, cs_limiter
from batchgs.transport.retry import RetryPolicy

CTA_HEADERS = ["Name", "Company", "Owner", "Type", "Reason", "Status", "Priority", "Due Date", "Comments"]
CTA_HEADERS_CUSTOM = [*CTA_HEADERS, "score__gc"]
TYPO_NAMES = {  # (column, wrong name, the right one the did-you-mean must offer)
    0: ("Type", "Riks", "Risk"),
    1: ("Status", "Opne", "Open"),
    2: ("Priority", "Hihg", "High"),
    3: ("Reason", "Chrun", "Churn"),
    4: ("Type", "Expansoin", "Expansion"),
}


# -- files -----------------------------------------------------------------------------------------
@dataclass
class CtaFile:
    path: Path
    valid: dict[int, dict[str, str]] = field(default_factory=dict)  # row number -> cells
    typos: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # row -> (column, bad, good)


def write_ctas(
    path: Path, sandbox: SandboxThread, n: int, *, typo_rows: Iterable[int] = (), seed: int = 5
) -> CtaFile:
    """`n` CTA rows naming seeded companies and owners; rows in `typo_rows` (0-based) misspell a name."""
    rng = random.Random(seed)
    companies, owners = sandbox.cs.company_gsids(), sandbox.cs.user_gsids()
    typos = set(typo_rows)
    result = CtaFile(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CTA_HEADERS_CUSTOM)
        for i in range(n):
            cells = {
                "Name": f"CTA {i:04d} {rng.choice(['renewal', 'usage dip', 'exec sponsor'])}",
                "Company": rng.choice(companies),
                "Owner": rng.choice(owners),
                "Type": rng.choice(["Risk", "Expansion", "Renewal"]),
                "Reason": rng.choice(["Churn", "Low Usage", "Upsell"]),
                "Status": rng.choice(["Open", "work in progress"]),  # case differs from the tenant's
                "Priority": rng.choice(["High", "Medium", "Low"]),
                "Due Date": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "Comments": rng.choice(["", "=1+1 is not a formula", "follow up"]),
                "score__gc": str(rng.randrange(100)),
            }
            row = i + 2
            if i in typos:
                column, bad, good = TYPO_NAMES[len(result.typos) % len(TYPO_NAMES)]
                cells[column] = bad
                result.typos[row] = (column, bad, good)
            else:
                result.valid[row] = cells
            writer.writerow([cells[h] for h in CTA_HEADERS_CUSTOM])
    return result


def write_csv(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_events(path: Path, n: int) -> Path:
    """`n` events; `seq` numbers them so stored copies can be counted."""
    return write_csv(
        path,
        ["seq", "account.name", "account.id", "usage.logins", "active"],
        ([i, f"Account {i % 7}", f"A-{i % 7:03d}", i % 13, "true" if i % 2 else "false"] for i in range(n)),
    )


def read_rows(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {int(r["_row"]): r for r in csv.DictReader(handle)}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- settings and clients --------------------------------------------------------------------------
def cs_settings(sandbox: SandboxThread, state_dir: Path, **changes: Any) -> Settings:
    return Settings(
        cs_base_url=sandbox.url,
        cs_access_key=Secret(sandbox.cs.access_key),
        cs_shared_secret=Secret(sandbox.cs.shared_secret),
        state_dir=state_dir,
        **changes,
    )


def cli_env(sandbox: SandboxThread, state_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "GAINSIGHT_CS_BASE_URL": sandbox.url,
        "GAINSIGHT_CS_ACCESS_KEY": sandbox.cs.access_key,
        "GAINSIGHT_CS_SHARED_SECRET": sandbox.cs.shared_secret,
        "BATCHGS_STATE_DIR": str(state_dir),
    }
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: dict[str, str]) -> Result:
    import os

    clean = {name: None for name in os.environ if name.startswith(("GAINSIGHT_", "BATCHGS_"))}
    return CliRunner().invoke(cli, list(args), env={**clean, **env}, catch_exceptions=False)


class VirtualTime:
    """A clock for the CS limiter whose sleeps move time (the sandbox's clock too) instead of waiting,
    so minute windows can be tested in milliseconds. Time still also flows for real."""

    def __init__(self, sandbox: SandboxThread) -> None:
        self.sandbox = sandbox
        self.offset = 0.0

    def clock(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.offset += seconds
            self.sandbox.advance_clock(seconds)
        await asyncio.sleep(0)


def fast_policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=12, base=0.01, cap=0.05, rng=random.Random(11))


def fast_limiter() -> SlidingWindowLimiter:
    """Where the CS limit is not under test: thousands per second instead of 100 a minute."""
    return SlidingWindowLimiter(5_000, window=1.0, pause_base=0.01, pause_cap=0.05)


class Recorder:
    """Every request the engine made through the client: (method, path, json body, headers)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, Any]]] = []
        self.before: Callable[[str, str, Any], None] | None = None  # run as each request is written

    def bodies(self, method: str, path: str) -> list[Any]:
        return [body for m, p, body, _ in self.calls if m == method and p == path]


class RecordingClient:
    """The real ApiClient, with each request written down first (a spy, not a mock)."""

    def __init__(self, client: ApiClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder
        self.stats = client.stats

    async def __aenter__(self) -> RecordingClient:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        self.recorder.calls.append(
            (method, path, json.loads(json.dumps(body)), dict(kwargs.get("headers") or {}))
        )
        mark = kwargs.get("before_send")
        before = self.recorder.before

        async def before_send() -> None:  # after the engine's write-ahead mark, right before the write
            if mark is not None:
                await mark()
            if before is not None:
                before(method, path, body)

        return await self.client.request(method, path, **{**kwargs, "before_send": before_send})


def client_factory(
    settings: Settings,
    *,
    events: bool = False,
    limiter: Callable[[], SlidingWindowLimiter] = fast_limiter,
    recorder: Recorder | None = None,
    stats: TransportStats | None = None,
) -> Callable[[], Any]:
    def make() -> Any:
        client = cs_client(settings, events=events, limiter=limiter(), policy=fast_policy(), stats=stats)
        return RecordingClient(client, recorder) if recorder is not None else client

    return make


def virtual_limiter(vt: VirtualTime, per_minute: int) -> Callable[[], SlidingWindowLimiter]:
    """The real CS limiter (`cs_limiter`, 60-second window) on the virtual clock."""
    return lambda: cs_limiter(per_minute, clock=vt.clock, sleep=vt.sleep)


def run_cs_import(
    run_dir: Path,
    path: Path,
    options: CsImportOptions,
    factory: Callable[[], Any],
    *,
    control: CsRunControl | None = None,
    resume: bool = False,
    make_stop: Callable[[asyncio.Event], None] | None = None,
) -> dict[str, Any]:
    """One CS import segment through the library: a new run in `run_dir`, or its resume."""
    journal = (
        Journal.open(run_dir)
        if resume
        else Journal.create(
            run_dir, kind="import", entity=options.entity, input_path=path, options=options.to_journal()
        )
    )

    async def go() -> dict[str, Any]:
        event = asyncio.Event()
        if make_stop is not None:
            make_stop(event)
        importer = CsImporter(
            input_path=path,
            options=options,
            journal=journal,
            client_factory=factory,
            control=control or CsRunControl(progress=False),
            stop_event=event,
        )
        return await importer.run()

    try:
        return asyncio.run(go())
    finally:
        journal.close()


def max_in_window(times_ms: Iterable[int], window_ms: int) -> int:
    """The most arrivals in any window [t, t + window) — exact, not per bucket."""
    times = sorted(times_ms)
    best, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - window_ms:
            left += 1
        best = max(best, right - left + 1)
    return best


# the options `batchgs import cs-events` needs besides the file (the sandbox's tenant)
CLI_EVENT_FLAGS = [
    "--topic",
    "Usage",
    "--event-name",
    "Login",
    "--event-version",
    "v01",
    "--tenant-id",
    "sandbox-tenant",
]
