"""Scenario 6: export users from the sandbox (50 ± 20 ms per request) to CSV, XLSX and Parquet with
`batchgs export users -o OUT`: records per second and the exporter's peak RSS, per format, on one
sandbox seeded with 1,000,000 users (quick: 100,000). The file is read back to count its rows.

    python -m bench export [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from bench import harness as h

FORMATS = ("csv", "xlsx", "parquet")


def _rows_in(path: Path) -> int:
    if path.suffix == ".csv":
        return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    from fastexcel import read_excel

    return sum(read_excel(str(path)).load_sheet(name).height for name in read_excel(str(path)).sheet_names)


def run(quick: bool = False) -> dict[str, Any]:
    users = 100_000 if quick else 1_000_000
    measurements = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-export-") as tmp,
        h.sandbox_process("--seed-users", str(users)) as sandbox,
    ):
        work = Path(tmp)
        for fmt in FORMATS:
            out = work / f"users.{fmt}"
            measured = h.run_measured(
                h.batchgs_command(
                    "export", "users", "-o", str(out), "-q", "--run-dir", str(work / f"run-{fmt}")
                ),
                env=h.batchgs_env(sandbox, work / "state"),
            )
            if measured.returncode != 0:
                raise RuntimeError(
                    f"export to {fmt} failed ({measured.returncode}): {measured.stderr[-500:]}"
                )
            rows = _rows_in(out)
            measurements.append(
                {
                    "format": fmt,
                    "records": rows,
                    "complete": rows == users,
                    "seconds": round(measured.seconds, 2),
                    "records_per_second": round(rows / measured.seconds),
                    "peak_rss_mib": round(measured.peak_rss_mib, 1),
                    "file_mib": round(out.stat().st_size / 2**20, 1),
                }
            )
            out.unlink()
    results = {"users": users, "latency_ms": h.LATENCY_MS, "measurements": measurements}
    h.save("export", results, quick=quick)
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"Export {results['users']:,} users (sandbox latency {results['latency_ms']:g} ms per page)")
    print(f"{'format':<10}{'records':>10}{'seconds':>9}{'rec/s':>9}{'RSS MiB':>9}{'MiB':>8}")
    for m in results["measurements"]:
        print(
            f"{m['format']:<10}{m['records']:>10,}{m['seconds']:>9}{m['records_per_second']:>9,}"
            f"{m['peak_rss_mib']:>9}{m['file_mib']:>8}"
        )
