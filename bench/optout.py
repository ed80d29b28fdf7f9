"""Compliance opt-out throughput: people opted out per second at --rate 190 against the sandbox.

The sandbox runs in its own process with the suite's network latency (50 ms ± 20 ms) and seeded
users; the list names most people by identifyId and a fifth by email (resolved through the users
filter). Each person costs three requests (read, write, read back), so the ceiling is about
190 / 3 ≈ 63 people per second. Measured: wall time of the `batchgs optout` process, people/s
(whole process, and while running), requests per person, the busiest sliding second the sandbox
saw, and the 429s.

    python -m bench.optout [--quick]      (results: bench/results/optout.json)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import (
    KEY,
    Sandbox,
    arrivals,
    batchgs_command,
    batchgs_env,
    max_in_sliding_second,
    run_measured,
    sandbox_process,
    save,
    seeded_ids,
)

RATE = 190


async def _emails(url: str, count: int) -> dict[str, str]:
    """identifyId -> email of the first `count` seeded users (one list page)."""
    headers = {"X-APTRINSIC-API-KEY": KEY}
    params = {"pageSize": str(count)}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/v1/users", params=params, headers=headers) as resp,
    ):
        resp.raise_for_status()
        body = await resp.json()
    return {u["identifyId"]: u["email"] for u in body["users"]}


def _write_list(path: Path, ids: list[str], emails: dict[str, str]) -> Path:
    """Every fifth person by email (half of those in upper case) when their address is known."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["identifyId", "email"])
        for i, uid in enumerate(ids):
            email = emails.get(uid) if i % 5 == 0 else None
            writer.writerow(["", email.upper() if i % 2 else email] if email else [uid, ""])
    return path


def measure(sandbox: Sandbox, people: int, work: Path) -> dict[str, Any]:
    emails = asyncio.run(_emails(sandbox.url, min(people, 1000)))
    path = _write_list(work / "optout.csv", seeded_ids(people), emails)
    sandbox.reset_stats()
    run_dir = work / "run"
    command = batchgs_command(
        "optout", str(path), "--yes", "--quiet", "--rate", str(RATE), "--run-dir", str(run_dir)
    )
    done = run_measured(command, env=batchgs_env(sandbox, work / "state"))
    if done.returncode != 0:
        raise RuntimeError(f"batchgs optout exited {done.returncode}: {done.stderr[-500:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    receipt = json.loads((run_dir / "receipt.json").read_text())
    times = [t for t, _status in arrivals(sandbox.stats(), px_only=False)]
    return {
        "people": people,
        "seconds": round(done.seconds, 2),
        "people_per_second": round(people / done.seconds, 1),  # process start to exit
        "people_per_second_running": round(people / summary["duration_seconds"], 1),
        "requests": summary["requests"],
        "requests_per_person": round(summary["requests"] / people, 2),
        "max_requests_in_a_sliding_second": max_in_sliding_second(times),
        "responses_429": summary["responses_429"],
        "opted_out": receipt["counts"]["opted-out"],
        "peak_rss_mib": round(done.peak_rss_mib, 1),
    }


def main(quick: bool = False) -> dict[str, Any]:
    people = 300 if quick else 1500
    with sandbox_process("--seed-users", str(people)) as sandbox, tempfile.TemporaryDirectory() as tmp:
        result = {
            "rate": RATE,
            "ceiling_people_per_second": round(RATE / 3, 1),
            **measure(sandbox, people, Path(tmp)),
        }
    save("optout", result, quick=quick)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(main(quick=parser.parse_args().quick), indent=2))
