"""Sliced cursors against one cursor on a tenant with a bulk-load hour (issue 18).

One sandbox (150 ± 50 ms per request, the 200/s limit) holds 100,000 users whose createDates spread
over five years, except 60% created within one hour (`--seed-cluster 0.6`), the shape that used to
leave one slice holding most of the tenant. The same CSV export runs with `--slices 1` and with
`--slices 16` (32 and 64); each file is read back to check every record is there exactly once. The
ratio is like for like: same tenant, same run, same machine. Each sliced export runs `REPEATS` times,
in rounds (16, 32, 64, 16, 32, ...), and its ratio is one cursor's time over the median of its runs:
one ~2 s run moves ±5% from run to run on this machine, one cursor's ~16 s (100 round trips) ±2%.
Each export starts on a key at rest, as the first one (one cursor) does: `REST` seconds after the one
before it ended. The requests of an export's last second still count against the key's 200/s, shared
by every job on the key, so an export started right after another one got what that left (as low
as a third of the rate for its first second), which the first run never had to share.

    python -m bench export-slices [--quick]   (quick: 20,000 users; results: bench/results/export_slices.json)
    python -m bench.export_slices --latency-ms 100   (or 200: the issue's 150 ± 50 ms band; results:
                                                      bench/results/export_slices-100ms.json)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import harness as h
from bench.export import JITTER_MS, LATENCY_MS, measure

CLUSTER = 0.6
SLICES = (16, 32, 64)
REPEATS = 3
REST = 1.5  # seconds: the last requests of the export before have left the key's sliding second


def main(quick: bool = False, latency_ms: float = LATENCY_MS, repeats: int = REPEATS) -> dict[str, Any]:
    users = 20_000 if quick else 100_000
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-slices-") as tmp:
        work = Path(tmp)
        seed = ("--seed-users", str(users), "--seed-cluster", str(CLUSTER))
        with h.sandbox_process(*seed, latency_ms=latency_ms, jitter_ms=JITTER_MS) as sandbox:
            plan = [(0, 1), *((round_, s) for round_ in range(1, repeats + 1) for s in SLICES)]
            for round_, slices in plan:
                folder = work / f"round-{round_}"  # (each run its own output and run folder)
                folder.mkdir(exist_ok=True)
                time.sleep(REST if runs else 0)
                result = measure(sandbox, folder, users, "csv", slices)
                runs.append(result)
                speed = f"{result['seconds']:>7.2f} s  {result['records_per_second']:>7,}/s"
                counts = f"parts {result['parts']}  requests {result['requests']}"
                print(f"  {result['mode']:<20} {speed}  {counts}  complete={result['complete']}", flush=True)
    single = runs[0]
    medians = {s: statistics.median(r["seconds"] for r in runs if r["slices"] == s) for s in SLICES}
    results = {
        "users": users,
        "cluster": CLUSTER,
        "latency_ms": latency_ms,
        "jitter_ms": JITTER_MS,
        "repeats": repeats,
        "runs": runs,
        "median_seconds": {str(s): round(t, 2) for s, t in medians.items()},
        "speedups": {str(s): round(single["seconds"] / t, 2) for s, t in medians.items()},
        "speedup_range": {str(s): _range(single["seconds"], runs, s) for s in SLICES},
    }
    name = "export_slices" if latency_ms == LATENCY_MS else f"export_slices-{latency_ms:g}ms"
    h.save(name, results, quick=quick)
    return results


def _range(one_cursor: float, runs: list[dict[str, Any]], slices: int) -> list[float]:
    """One cursor's time over the slowest and the fastest run with `slices`."""
    seconds = [r["seconds"] for r in runs if r["slices"] == slices]
    return [round(one_cursor / max(seconds), 2), round(one_cursor / min(seconds), 2)]


run = main


def print_table(results: dict[str, Any]) -> None:
    ranges = results.get("speedup_range", {})
    for slices, speedup in results["speedups"].items():
        low, high = ranges.get(slices, (speedup, speedup))
        print(f"{slices} slices ÷ one cursor (wall time, median of its runs): {speedup}x ({low}x–{high}x)")


if __name__ == "__main__":
    args = sys.argv
    latency = float(args[args.index("--latency-ms") + 1]) if "--latency-ms" in args else LATENCY_MS
    print_table(main(quick="--quick" in sys.argv, latency_ms=latency))
