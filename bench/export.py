"""Scenarios 6 and 6b: exports. `batchgs export users` from a sandbox whose every request takes
150 ± 50 ms (a real network and a real search backend), under the 200/s limit:

- 6: 1,000,000 users with the default sliced cursors (disjoint createDate slices paged at once) to CSV,
  XLSX and Parquet: records per second and the exporter's own peak RSS;
- 6b: one cursor (`--slices 1`: one page per round trip) against sliced cursors, both on a tenant of
  100,000 users. One cursor's speed does not depend on the tenant's size (it is one 1,000-record page
  per round trip), so the smaller tenant gives its rate in a fraction of the time and keeps `make bench`
  within its 15 minutes; the sliced run on the same tenant makes the ratio like for like.

Every file is read back (in a child process) to check each record is there exactly once.

    python -m bench export [--quick]     (quick: 20,000 users; results: bench/results/export.json)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import harness as h

LATENCY_MS, JITTER_MS = 150.0, 50.0


_COUNT = """
import sys, polars as pl
path = sys.argv[1]
if path.endswith(".csv"):
    frame = pl.scan_csv(path, infer_schema=False).select("identifyId").collect()
elif path.endswith(".parquet"):
    frame = pl.scan_parquet(path).select("identifyId").collect()
else:
    from fastexcel import read_excel
    reader = read_excel(path)
    frame = pl.concat(
        [reader.load_sheet(n, use_columns=["identifyId"]).to_polars() for n in reader.sheet_names]
    )
print(frame.height, frame["identifyId"].n_unique())
"""


def _keys_in(path: Path) -> tuple[int, int]:
    """(rows, distinct identifyIds) of an exported file, read back in a child process: the bench
    process stays small, so the next export's peak RSS (wait4 counts the forked parent's pages)
    is the exporter's own."""
    done = subprocess.run(
        [sys.executable, "-c", _COUNT, str(path)], capture_output=True, text=True, check=True
    )
    rows, distinct = done.stdout.split()
    return int(rows), int(distinct)


def measure(sandbox: h.Sandbox, work: Path, users: int, fmt: str, slices: int) -> dict[str, Any]:
    out = work / f"users-{users}-{slices}.{fmt}"
    run_dir = work / f"run-{users}-{fmt}-{slices}"
    command = h.batchgs_command(
        "export", "users", "-o", str(out), "-q", "--slices", str(slices), "--run-dir", str(run_dir)
    )
    measured = h.run_measured(command, env=h.batchgs_env(sandbox, work / "state"))
    if measured.returncode != 0:
        raise RuntimeError(f"export ({fmt}, {slices} slices) failed: {measured.stderr[-800:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    rows, distinct = _keys_in(out)
    out.unlink()
    return {
        "mode": f"{fmt}, {'one cursor' if slices == 1 else f'{slices} slices'}",
        "users": users,
        "format": fmt,
        "slices": slices,
        "records": rows,
        "complete": rows == distinct == users,
        "seconds": round(measured.seconds, 2),
        "records_per_second": round(rows / measured.seconds),
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "requests": summary.get("requests"),
        "parts": summary.get("parts"),
        "fetch_seconds": summary.get("fetch_seconds"),
        "write_seconds": summary.get("write_seconds"),
        "warnings": summary.get("warnings"),
    }


SLICES = 16


def _tenant(users: int, plan: list[tuple[str, int]], work: Path) -> list[dict[str, Any]]:
    """One sandbox seeded with `users` users; the (format, slices) exports of `plan` against it."""
    measurements = []
    with h.sandbox_process("--seed-users", str(users), latency_ms=LATENCY_MS, jitter_ms=JITTER_MS) as sandbox:
        for fmt, slices in plan:
            result = measure(sandbox, work, users, fmt, slices)
            measurements.append(result)
            print(
                f"  {users:>9,} users  {result['mode']:<20} {result['seconds']:>8.1f} s  "
                f"{result['records_per_second']:>7,}/s  RSS {result['peak_rss_mib']:.0f} MiB",
                flush=True,
            )
    return measurements


def main(quick: bool = False) -> dict[str, Any]:
    big, small = (20_000, 20_000) if quick else (1_000_000, 100_000)
    formats = [("csv", SLICES), ("xlsx", SLICES), ("parquet", SLICES)]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        if quick:
            formats_run = _tenant(big, [("csv", 1), *formats], work)
            single, sliced = formats_run[0], formats_run[1]
            formats_run = formats_run[1:]
        else:
            formats_run = _tenant(big, formats, work)
            single, sliced = _tenant(small, [("csv", 1), ("csv", SLICES)], work)
    results = {
        "users": big,
        "latency_ms": LATENCY_MS,
        "jitter_ms": JITTER_MS,
        "rate_limit": h.PX_LIMIT,
        "formats": formats_run,
        "single_vs_sliced": {
            "users": small,
            "single": single,
            "sliced": sliced,
            "speedup": round(sliced["records_per_second"] / single["records_per_second"], 2),
        },
    }
    h.save("export", results, quick=quick)
    return results


run = main


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{results['latency_ms']:g} ± {results['jitter_ms']:g} ms per request, "
        f"limit {results['rate_limit']}/s"
    )
    rows = [*results["formats"], results["single_vs_sliced"]["single"], results["single_vs_sliced"]["sliced"]]
    for m in rows:
        print(
            f"  {m['users']:>9,} users  {m['mode']:<20} {m['seconds']:>8.1f} s "
            f"{m['records_per_second']:>8,}/s  "
            f"requests {m['requests']:>6}  RSS {m['peak_rss_mib']:.0f} MiB  complete={m['complete']}"
        )
    print(f"sliced ÷ one cursor: {results['single_vs_sliced']['speedup']}x")


if __name__ == "__main__":
    print_table(main(quick="--quick" in sys.argv))
