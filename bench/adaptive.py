"""Scenario 7: adaptive rate. A second client spends 100 requests/s of the same key's 200/s budget
(paced evenly, as another integration would) while batchgs imports at its default `--rate 190`.
batchgs cannot know about the other client; it learns from 429s, slows down and climbs back. Measured:
batchgs's requests/s, the 429s each client received, and the busiest second at the server (both
clients together, which the server holds at 200 by refusing the excess).

    python -m bench adaptive [--quick]
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import harness as h

OTHER_RATE = 100.0


async def _other_client(url: str, stop: threading.Event, tally: dict[int, int]) -> None:
    """GET a user every 1/100 s on a schedule (not waiting for answers), until told to stop."""
    interval = 1.0 / OTHER_RATE
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(url, headers={"X-APTRINSIC-API-Key": h.KEY}) as session:

        async def one(i: int) -> None:
            async with session.get(f"/v1/users/user-{(i % 100) + 1:06d}") as response:
                await response.read()
                tally[response.status] = tally.get(response.status, 0) + 1

        start = time.monotonic()
        i = 0
        while not stop.is_set():
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            task = asyncio.create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)


def run(quick: bool = False) -> dict[str, Any]:
    rows = 2_000 if quick else 4_000
    tally: dict[int, int] = {}
    stop = threading.Event()
    with (
        tempfile.TemporaryDirectory(prefix="bench-adaptive-") as tmp,
        h.sandbox_process("--seed-users", "100") as sandbox,
    ):
        work = Path(tmp)
        users = h.write_users_csv(work / "users.csv", h.new_ids(rows))
        other = threading.Thread(target=lambda: asyncio.run(_other_client(sandbox.url, stop, tally)))
        other.start()
        try:
            run_dir = work / "run"
            measured = h.run_measured(
                h.batchgs_command("import", "users", str(users), "--yes", "-q", "--run-dir", str(run_dir)),
                env=h.batchgs_env(sandbox, work / "state"),
            )
        finally:
            stop.set()
            other.join(timeout=120)
        if measured.returncode != 0:
            raise RuntimeError(f"import failed ({measured.returncode}): {measured.stderr[-500:]}")
        summary = h.import_summary(run_dir)
        log = h.arrivals(sandbox.stats(), px_only=True)
    times = [t for t, _ in log]
    other_429 = tally.get(429, 0)
    results = {
        "rows": rows,
        "latency_ms": h.LATENCY_MS,
        "other_client_rate": OTHER_RATE,
        "batchgs": {
            "rows_succeeded": summary["rows_succeeded"],
            "rows_failed": summary["rows_failed"],
            "requests": summary["requests"],
            "responses_429": summary["responses_429"],
            "share_of_429s": round(
                summary["responses_429"] / max(1, summary["responses_429"] + other_429), 3
            ),
            "requests_per_second": round(summary["requests"] / summary["duration_seconds"], 1),
            "seconds": round(measured.seconds, 2),
        },
        "other_client": {"requests": sum(tally.values()), "responses_429": other_429},
        "server": {
            "max_in_any_sliding_second": h.max_in_sliding_second(times),
            "accepted_timeline": h.per_second([t for t, s in log if s != 429]),
        },
    }
    h.save("adaptive", results, quick=quick)
    return results


def print_table(results: dict[str, Any]) -> None:
    b, o = results["batchgs"], results["other_client"]
    print(f"Adaptive rate: another client spends {results['other_client_rate']:g} req/s of the 200/s budget")
    print(
        f"  batchgs: {b['requests_per_second']} req/s achieved (ideal ~100), "
        f"{b['rows_succeeded']:,} rows ok, "
        f"{b['rows_failed']} failed"
    )
    print(
        f"  429s: batchgs {b['responses_429']}, other client {o['responses_429']} "
        f"(batchgs's share {b['share_of_429s']:.0%})"
    )
