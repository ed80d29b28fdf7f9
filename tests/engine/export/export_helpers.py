"""Export tests: seeded stores, a fast client that records every request, library and CLI runners,
and readers that give back what a file holds."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs.config import Secret, Settings
from batchgs.engine.export.entities import get_export_entity
from batchgs.engine.export.exporter import Exporter, ExportProgress, ExportResult
from batchgs.engine.export.options import ExportOptions
from batchgs.run.journal import Journal
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.server import SandboxThread
from batchgs.sandbox.settings import DEFAULT_SEED_ANCHOR_MS
from batchgs.sandbox.store import PxStore
from batchgs.transport.client import ApiClient, px_client
from batchgs.transport.limiter import px_limiter
from batchgs.transport.retry import RetryPolicy

ANCHOR = DEFAULT_SEED_ANCHOR_MS
DAY_MS = 86_400_000
FORMULAS = ('=HYPERLINK("http://x")', "+1-2", "-cmd|' /C calc'!A0", "@SUM(A1)")


def seeded_store(users: int = 0, accounts: int = 0, events: int = 0, seed: int = 1) -> PxStore:
    return seed_store(PxStore(), seed=seed, users=users, accounts=accounts, events=events, anchor_ms=ANCHOR)


def add_formula_users(store: PxStore, every: int = 97) -> dict[str, str]:
    """Give some users a formula-like first name; returns identifyId -> that name."""
    changed: dict[str, str] = {}
    for i, key in enumerate(sorted(store.users)):
        if i % every == 0:
            name = FORMULAS[(i // every) % len(FORMULAS)]
            store.users[key]["firstName"] = name
            changed[key] = name
    return changed


def clumped_users(store: PxStore, n: int, *, clumps: int, base_ms: int, start: int = 0) -> list[str]:
    """`n` users whose createDate takes only `clumps` values (as an API bulk import makes them)."""
    rng = random.Random(5)
    keys = []
    for i in range(start, start + n):
        key = f"clump-{i:06d}"
        created = base_ms + (i % clumps) * 1000
        store.users[key] = {
            "identifyId": key,
            "email": f"c{i}@example.com",
            "firstName": rng.choice(["Ada", "Alan"]),
            "propertyKeys": ["AP-1"],
            "customAttributes": {"plan": rng.choice(["free", "pro"])},
            "location": {},
            "createDate": created,
            "lastModifiedDate": created,
            "id": key,
        }
        keys.append(key)
    return keys


class Recording:
    """The real client, with every request's method, path and query pairs recorded."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.calls: list[tuple[str, str, list[tuple[str, Any]]]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = kwargs.get("params") or []
        pairs = list(params.items()) if isinstance(params, dict) else list(params)
        self.calls.append((method, path, pairs))
        return await self.client.request(method, path, **kwargs)

    def list_calls(self, path: str) -> list[list[tuple[str, Any]]]:
        return [pairs for method, p, pairs in self.calls if p == path and method == "GET"]


def settings_for(sandbox: SandboxThread, state_dir: Path, **changes: Any) -> Settings:
    return Settings(
        px_base_url=sandbox.url, px_api_key=Secret(sandbox.api_key), state_dir=state_dir, **changes
    )


def fast_client(settings: Settings, rate: float = 3000.0) -> ApiClient:
    return px_client(
        settings,
        limiter=px_limiter(rate, pause_base=0.01, pause_cap=0.05, recover_interval=0.02),
        policy=RetryPolicy(max_attempts=12, base=0.01, cap=0.05, rng=random.Random(11)),
    )


@dataclass
class LibraryRun:
    result: ExportResult | None
    error: BaseException | None
    calls: list[tuple[str, str, list[tuple[str, Any]]]] = field(default_factory=list)
    progress: list[ExportProgress] = field(default_factory=list)


def options_for(entity: str, output: Path, **changes: Any) -> ExportOptions:
    data: dict[str, Any] = {"entity": entity, "output": str(output.resolve()), "slices": 4}
    data.update(changes)
    return ExportOptions(**data)


def run_library(
    sandbox: SandboxThread,
    state_dir: Path,
    run_dir: Path,
    options: ExportOptions | None = None,
    *,
    stop_when: Callable[[ExportProgress], bool] | None = None,
    client: Callable[[Settings], Any] | None = None,
) -> LibraryRun:
    """One export segment through the library: a new run (`options`) or a resume (None)."""
    if options is None:
        journal = Journal.open(run_dir)
        options = ExportOptions.from_journal(journal.meta.options)
    else:
        journal = Journal.create(
            run_dir,
            kind="export",
            entity=options.entity,
            input_path=options.ids_file,
            options=options.to_journal(),
        )
    settings = settings_for(sandbox, state_dir)
    progress: list[ExportProgress] = []

    async def go() -> tuple[ExportResult | None, BaseException | None, Recording]:
        stop = asyncio.Event()
        async with (client or fast_client)(settings) as real:
            recording = Recording(real)

            def on_progress(p: ExportProgress) -> None:
                progress.append(p)
                if stop_when is not None and stop_when(p):
                    stop.set()

            exporter = Exporter(
                recording,  # type: ignore[arg-type]
                get_export_entity(options.entity),
                options,
                journal,
                stop_event=stop,
                on_progress=on_progress,
            )
            try:
                result = await exporter.run()
            except Exception as exc:  # the test looks at it
                return None, exc, recording
            journal.set_progress("committed", True)
            exporter.discard_spools()
            return result, None, recording

    try:
        result, error, recording = asyncio.run(go())
    finally:
        journal.close()
    return LibraryRun(result, error, recording.calls, progress)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def query_values(pairs: Iterable[tuple[str, Any]], name: str) -> list[str]:
    return [str(v) for k, v in pairs if k == name]


def summary_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return data


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


# -- comparing a file's cells with the sandbox's records ---------------------------------------------
def flat_record(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The record as dotted keys (written here, independently of batchgs.io.flatten)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_record(value, name + "."))
        elif value is not None and value != []:
            out[name] = value
    return out


def formula_like(text: str) -> bool:
    import re

    return text[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[+-]?\d+(\.\d+)?", text)


def to_ms(value: Any) -> int:
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return round(value.timestamp() * 1000)
    raise AssertionError(f"not a date: {value!r}")


def cell_matches(expected: Any, actual: Any, *, is_date: bool, neutralised: bool) -> bool:
    """Whether a cell read back (CSV text, or a typed XLSX/Parquet/JSONL value) means `expected`."""
    if expected is None:
        return actual in (None, "")
    if isinstance(expected, bool):
        return actual in ((True, "true") if expected else (False, "false"))
    if is_date and isinstance(expected, int):
        return to_ms(actual) == expected
    if isinstance(expected, int | float):
        return float(actual) == float(expected)
    if isinstance(expected, list):
        return actual == ",".join(str(v) for v in expected)
    text = "'" + expected if neutralised and formula_like(expected) else expected
    return bool(actual == text)


def assert_rows_match(
    rows: list[dict[str, Any]],
    store_records: dict[str, dict[str, Any]],
    key: str,
    *,
    date_columns: set[str],
    neutralised: bool,
) -> None:
    """Every row is a stored record, exactly once, and every stored field is in its cell."""
    keys = [str(r[key]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate rows"
    assert set(keys) == set(store_records), "rows missing or extra"
    for row in rows:
        expected = flat_record(store_records[str(row[key])])
        for name, value in expected.items():
            assert name in row, f"no column {name}"
            ok = cell_matches(value, row[name], is_date=name in date_columns, neutralised=neutralised)
            assert ok, f"{row[key]} {name}: expected {value!r}, file has {row[name]!r}"
