"""Sliced cursors against one cursor on a tenant with a bulk-load hour (issue 18).

One sandbox (150 ± 50 ms per request, the 200/s limit) holds 100,000 users whose createDates spread
over five years, except 60% created within one hour (`--seed-cluster 0.6`), the shape that used to
leave one slice holding most of the tenant. The same CSV export runs with `--slices 1` and with
`--slices 16` (32 and 64); each file is read back to check every record is there exactly once. The
ratio is like for like: same tenant, same run, same machine.

    python -m bench export-slices [--quick]   (quick: 20,000 users; results: bench/results/export_slices.json)
    python -m bench.export_slices --latency-ms 100   (or 200: the issue's 150 ± 50 ms band; results:
                                                      bench/results/export_slices-100ms.json)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import harness as h
from bench.export import JITTER_MS, LATENCY_MS, measure

CLUSTER = 0.6
PLAN = (1, 16, 32, 64)


def main(quick: bool = False, latency_ms: float = LATENCY_MS) -> dict[str, Any]:
    users = 20_000 if quick else 100_000
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-slices-") as tmp:
        work = Path(tmp)
        seed = ("--seed-users", str(users), "--seed-cluster", str(CLUSTER))
        with h.sandbox_process(*seed, latency_ms=latency_ms, jitter_ms=JITTER_MS) as sandbox:
            for slices in PLAN:
                result = measure(sandbox, work, users, "csv", slices)
                runs.append(result)
                speed = f"{result['seconds']:>7.2f} s  {result['records_per_second']:>7,}/s"
                counts = f"parts {result['parts']}  requests {result['requests']}"
                print(f"  {result['mode']:<20} {speed}  {counts}  complete={result['complete']}", flush=True)
    single = runs[0]
    results = {
        "users": users,
        "cluster": CLUSTER,
        "latency_ms": latency_ms,
        "jitter_ms": JITTER_MS,
        "runs": runs,
        "speedups": {
            str(r["slices"]): round(single["seconds"] / r["seconds"], 2) for r in runs if r["slices"] > 1
        },
    }
    name = "export_slices" if latency_ms == LATENCY_MS else f"export_slices-{latency_ms:g}ms"
    h.save(name, results, quick=quick)
    return results


run = main


def print_table(results: dict[str, Any]) -> None:
    for slices, speedup in results["speedups"].items():
        print(f"{slices} slices ÷ one cursor (wall time): {speedup}x")


if __name__ == "__main__":
    args = sys.argv
    latency = float(args[args.index("--latency-ms") + 1]) if "--latency-ms" in args else LATENCY_MS
    print_table(main(quick="--quick" in sys.argv, latency_ms=latency))
