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
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from bench import harness as h

LATENCY_MS, JITTER_MS = 150.0, 50.0


def _keys_in(path: Path) -> tuple[int, int]:
    """(rows, distinct identifyIds) of an exported file."""
    if path.suffix == ".csv":
        frame = pl.scan_csv(path, infer_schema=False).select("identifyId").collect()
    else:
        from fastexcel import read_excel

        reader = read_excel(str(path))
        frame = pl.concat(
            [reader.load_sheet(name, use_columns=["identifyId"]).to_polars() for name in reader.sheet_names]
        )
    return frame.height, frame["identifyId"].n_unique()


def measure(sandbox: h.Sandbox, work: Path, users: int, fmt: str, slices: int) -> dict[str, Any]:
    out = work / f"users-{slices}.{fmt}"
    run_dir = work / f"run-{fmt}-{slices}"
    measured = h.run_measured(
        h.batchgs_command(
            "export", "users", "-o", str(out), "-q", "--slices", str(slices), "--run-dir", str(run_dir)
        ),
        env=h.batchgs_env(sandbox, work / "state"),
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
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
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
    import sys

    print_table(main(quick="--quick" in sys.argv))
