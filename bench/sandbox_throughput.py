"""Sandbox throughput: how fast the emulator answers, and whether it holds the PX 200/s limit.

1. Served requests per second with no latency and no rate limit, several concurrent aiohttp
   connections, per request kind (get a user, partial update, create a custom event, a list page).
   The sandbox runs as `batchgs sandbox` in its own process, so client and server use separate cores.
2. 300 requests per second offered for a few seconds to a sandbox with the default 200/s limit:
   the sandbox's own stats must show at most 200 accepted in any sliding second, the rest 429.

    python -m bench.sandbox_throughput [--quick]      (results: bench/results/sandbox_throughput.json)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench import harness

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_throughput.json"
KEY = harness.KEY
PRODUCT_KEY = "AP-BENCH-1"
SEED_USERS = 2000


@contextmanager
def sandbox_process(*args: str) -> Iterator[str]:
    """`batchgs sandbox --port 0 ...` with no added latency; yields its URL."""
    with harness.sandbox_process(*args, latency_ms=0) as sandbox:
        yield sandbox.url


def _request_for(kind: str, i: int) -> tuple[str, str, Any]:
    user_id = f"user-{(i % SEED_USERS) + 1:06d}"
    if kind == "get user":
        return "GET", f"/v1/users/{user_id}", None
    if kind == "update user":
        return "PUT", f"/v1/users/{user_id}", {"title": f"T{i}", "customAttributes": {"seats": i % 500}}
    if kind == "create event":
        body = {"identifyId": user_id, "propertyKey": PRODUCT_KEY, "userType": "USER", "eventName": "Bench"}
        return "POST", "/v1/events/custom", body
    return "GET", "/v1/users?pageSize=100", None


async def _served_per_second(url: str, kind: str, seconds: float, connections: int) -> dict[str, Any]:
    counter = itertools.count()
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers={"X-APTRINSIC-API-KEY": KEY}) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                method, path, body = _request_for(kind, next(counter))
                async with session.request(method, url + path, json=body) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    done = sum(statuses.values())
    return {
        "kind": kind,
        "requests": done,
        "seconds": round(elapsed, 3),
        "per_second": round(done / elapsed),
        "statuses": statuses,
    }


async def _offer(url: str, rate: float, seconds: float) -> list[int]:
    count = int(rate * seconds)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200), headers={"X-APTRINSIC-API-KEY": KEY}
    ) as session:
        start = time.monotonic()

        async def one(i: int) -> int:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with session.get(f"{url}/v1/users/user-{(i % SEED_USERS) + 1:06d}") as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def _stats(url: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "/__sandbox/stats?log=0") as response,
        ):
            data: dict[str, Any] = await response.json()
            return data

    return asyncio.run(get())


def run(quick: bool = False) -> dict[str, Any]:
    """Both measurements; returns (and writes) the results as a dict."""
    seconds = 2.0 if quick else 5.0
    connections = 16
    served = []
    with sandbox_process("--rate-limit", "0", "--seed-users", str(SEED_USERS)) as url:
        for kind in ("get user", "update user", "create event", "list page (100 users)"):
            served.append(asyncio.run(_served_per_second(url, kind, seconds, connections)))
    offered_seconds = 2.0 if quick else 4.0
    with sandbox_process("--seed-users", str(SEED_USERS)) as url:
        statuses = asyncio.run(_offer(url, 300, offered_seconds))
        stats = _stats(url)
    limit = {
        "offered_per_second": 300,
        "offered_seconds": offered_seconds,
        "requests": len(statuses),
        "accepted": sum(1 for s in statuses if s != 429),
        "refused_429": statuses.count(429),
        "max_arrivals_in_any_second": stats["max_arrivals_per_second"],
        "max_accepted_in_any_second": stats["max_accepted_per_second"],
        "holds_200_per_second": stats["max_accepted_per_second"] <= 200,
    }
    results = {
        "benchmark": "sandbox_throughput",
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "connections": connections,
        "served": served,
        "limit": limit,
    }
    results["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    target = RESULTS.with_name(f"{RESULTS.stem}-quick.json") if quick else RESULTS  # never over full figures
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"Sandbox throughput ({results['connections']} connections, no latency, no rate limit)")
    print(f"{'request':<24}{'requests':>10}{'seconds':>10}{'req/s':>10}")
    for row in results["served"]:
        print(f"{row['kind']:<24}{row['requests']:>10}{row['seconds']:>10.2f}{row['per_second']:>10}")
    limit = results["limit"]
    print()
    print(f"PX limit: {limit['offered_per_second']}/s offered for {limit['offered_seconds']:g} s")
    print(f"  busiest second, arrivals: {limit['max_arrivals_in_any_second']}")
    print(f"  busiest second, accepted: {limit['max_accepted_in_any_second']} (limit 200)")
    print(f"  accepted {limit['accepted']}, answered 429: {limit['refused_429']}")
    print(f"  holds 200 in every sliding second: {'yes' if limit['holds_200_per_second'] else 'NO'}")
    print("\nwritten under bench/results/")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    print_table(run(quick=parser.parse_args().quick))
