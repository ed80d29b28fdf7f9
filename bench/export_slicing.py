"""Scenario 6b: one cursor against sliced cursors. `batchgs export users` from a sandbox whose every
request takes 150 ± 50 ms (a real network and a real search backend), with `--slices 1` (one scroll:
one page per round trip) and `--slices N` (disjoint createDate slices paged at once under the same
200/s limiter), to CSV and XLSX: records per second, peak RSS, requests, and the file read back
(every record exactly once).

    python -m bench export-slicing [--quick]     (quick: 20,000 users, CSV only)

Results: bench/results/export_slicing.json (quick: export_slicing-quick.json).
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
else:
    from fastexcel import read_excel
    reader = read_excel(path)
    frame = pl.concat(
        [reader.load_sheet(n, use_columns=["identifyId"]).to_polars() for n in reader.sheet_names]
    )
print(frame.height, frame["identifyId"].n_unique())
"""


# wait4 on a child forked from this process counts this process's pages in the child's peak RSS
# (Linux keeps the pre-exec high-water mark), so the export runs under a small wrapper that reports
# the largest RSS of its own child: the exporter's, whatever this process holds.
_WRAP = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print('MAXRSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)


def _own_peak_mib(stderr: str) -> float:
    for line in reversed(stderr.splitlines()):
        if line.startswith("MAXRSS_KIB "):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    out = work / f"users-{slices}.{fmt}"
    run_dir = work / f"run-{fmt}-{slices}"
    command = h.batchgs_command(
        "export", "users", "-o", str(out), "-q", "--slices", str(slices), "--run-dir", str(run_dir)
    )
    measured = h.run_measured(
        [sys.executable, "-c", _WRAP, *command], env=h.batchgs_env(sandbox, work / "state")
    )
    if measured.returncode != 0:
        raise RuntimeError(f"export ({fmt}, {slices} slices) failed: {measured.stderr[-800:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    rows, distinct = _keys_in(out)
    out.unlink()
    return {
        "mode": f"{fmt}, {'one cursor' if slices == 1 else f'{slices} slices'}",
        "format": fmt,
        "slices": slices,
        "records": rows,
        "complete": rows == distinct == users,
        "seconds": round(measured.seconds, 2),
        "records_per_second": round(rows / measured.seconds),
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "peak_rss_mib": round(_own_peak_mib(measured.stderr), 1),
        "requests": summary.get("requests"),
        "parts": summary.get("parts"),
        "fetch_seconds": summary.get("fetch_seconds"),
        "write_seconds": summary.get("write_seconds"),
        "warnings": summary.get("warnings"),
    }


def main(quick: bool = False) -> dict[str, Any]:
    users = 20_000 if quick else 1_000_000
    formats = ("csv",) if quick else ("csv", "xlsx")
    slice_counts = (1, 16) if quick else (1, 16, 32)
    measurements: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-export-slicing-") as tmp,
        h.sandbox_process("--seed-users", str(users), latency_ms=LATENCY_MS, jitter_ms=JITTER_MS) as sandbox,
    ):
        work = Path(tmp)
        for fmt in formats:
            for slices in slice_counts if fmt == "csv" else (1, 16):
                result = measure(sandbox, work, users, fmt, slices)
                measurements.append(result)
                print(
                    f"  {result['mode']:<20} {result['records']:>9,} records  {result['seconds']:>8.1f} s  "
                    f"{result['records_per_second']:>7,}/s  RSS {result['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
    for m in measurements:
        single = next(x for x in measurements if x["format"] == m["format"] and x["slices"] == 1)
        m["speedup"] = round(m["records_per_second"] / single["records_per_second"], 2)
    results = {
        "users": users,
        "latency_ms": LATENCY_MS,
        "jitter_ms": JITTER_MS,
        "rate_limit": h.PX_LIMIT,
        "measurements": measurements,
    }
    h.save("export_slicing", results, quick=quick)
    return results


run = main


def print_table(results: dict[str, Any]) -> None:
    print(f"{results['users']:,} users, {results['latency_ms']:g} ± {results['jitter_ms']:g} ms per request")
    for m in results["measurements"]:
        print(
            f"  {m['mode']:<20} {m['seconds']:>8.1f} s {m['records_per_second']:>8,}/s  x{m['speedup']:<5} "
            f"requests {m['requests']:>6}  RSS {m['peak_rss_mib']:.0f} MiB  complete={m['complete']}"
        )


if __name__ == "__main__":
    print_table(main(quick="--quick" in sys.argv))
