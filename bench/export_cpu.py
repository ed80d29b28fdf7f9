"""Scenario 6c: the exporter's CPU per record against the Polars floor, in one run on the same pages.

`batchgs export users` of a sandbox tenant (no added latency: CPU does not depend on it) to CSV, Parquet
and XLSX, measured by the OS (user + sys of the batchgs process, wait4), divided by the records. Beside
it, in the same run, the floor: the same tenant's pages fetched once as raw bytes, then in a child
process `polars.read_json` of each page with its schema known, the records unnested (lists joined) and
`write_csv` to a file, with the child's own CPU (`time.process_time`, its start-up excluded). Each
format is exported `ROUNDS` times, each export against the floor measured just before it (this
machine's speed drifts ±15% between minutes, more than a change moves the exporter): the table shows
the medians of those ratios and their range. The exporter's start-up (interpreter, imports, plan,
journal) is measured apart (the median of three `--slices 1` exports of a one-user tenant) and shown,
since it is part of its CPU but not per record.

Then (not with --quick) 1,000,000 users to CSV, XLSX and Parquet at 150 ± 50 ms per request with 16
slices, as scenario 6 runs them (bench.export): wall time and peak RSS, next to the last published run.

    python -m bench export-cpu [--quick]     (quick: 20,000 users; results: bench/results/export_cpu.json)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench import export as export_bench
from bench import harness as h

FORMATS = ("csv", "parquet", "xlsx")
SLICES = 16
ROUNDS = 3  # exports per format, each beside its own floor (not with --quick: 1)

_FLOOR = """
import io, sys, time, polars as pl
from pathlib import Path
pages = sorted(Path(sys.argv[1]).glob("page-*.json"))
first = pl.read_json(pages[0].read_bytes(), infer_schema_length=None)
schema = first.schema
out = open(sys.argv[2], "wb")
def flat(frame):
    while True:
        nested = [n for n, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if not nested:
            break
        frame = frame.unnest(nested, separator=".")
    lists = [n for n, t in frame.schema.items() if isinstance(t, pl.List)]
    keep = [n for n, t in frame.schema.items() if t != pl.Null]
    return frame.select(keep).with_columns(pl.col(lists).cast(pl.List(pl.String)).list.join(","))
datas = [p.read_bytes() for p in pages]
started = time.process_time()
records = 0
for data in datas:
    whole = pl.read_json(data, schema=schema)
    users = flat(whole.get_column("users").explode().struct.unnest())
    users.write_csv(out, include_header=records == 0)
    records += users.height
out.close()
print(records, time.process_time() - started)
"""


def _summary(fmt: str, pairs: list[tuple[float, dict[str, Any]]], startup: float) -> dict[str, Any]:
    """One format's exports, each against the floor measured just before it: the medians of their
    figures and ratios, and the ratios' range (the machine's drift moves them by more than a change)."""
    ratios, net_ratios, per_record, net_per_record = [], [], [], []
    for floor_us, m in pairs:
        us = m["cpu_seconds"] / m["records"] * 1e6
        net = max(0.0, m["cpu_seconds"] - startup) / m["records"] * 1e6
        per_record.append(us)
        net_per_record.append(net)
        ratios.append(us / floor_us)
        net_ratios.append(net / floor_us)
    last = pairs[-1][1]
    return {
        "format": fmt,
        "records": last["records"],
        "runs": [m for _, m in pairs],
        "seconds": round(statistics.median(m["seconds"] for _, m in pairs), 2),
        "peak_rss_mib": max(m["peak_rss_mib"] for _, m in pairs),
        "cpu_us_per_record": round(statistics.median(per_record), 2),
        "cpu_us_per_record_net_of_startup": round(statistics.median(net_per_record), 2),
        "times_floor": round(statistics.median(ratios), 2),
        "times_floor_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "times_floor_net_of_startup": round(statistics.median(net_ratios), 2),
        "times_floor_net_of_startup_range": [round(min(net_ratios), 2), round(max(net_ratios), 2)],
    }


def _fetch_pages(sandbox: h.Sandbox, folder: Path) -> int:
    """Every page of the users list, one cursor, saved as received. Returns the records."""
    records, scroll_id, number = 0, None, 0
    while True:
        query = "pageSize=1000" + (f"&scrollId={urllib.parse.quote(scroll_id, safe='')}" if scroll_id else "")
        request = urllib.request.Request(
            f"{sandbox.url}/v1/users?{query}", headers={"X-APTRINSIC-API-KEY": h.KEY}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            data = answer.read()
        body = json.loads(data)
        users = body.get("users") or []
        if not users:
            return records
        (folder / f"page-{number:06d}.json").write_bytes(data)
        records, number = records + len(users), number + 1
        scroll_id = body.get("scrollId")
        if not scroll_id or len(users) < 1000:
            return records


def _floor(folder: Path, work: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _FLOOR, str(folder), str(work / "floor.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    records, seconds = done.stdout.split()
    return {"records": int(records), "cpu_seconds": round(float(seconds), 3)}


def _export(sandbox: h.Sandbox, work: Path, fmt: str, slices: int, tag: str) -> dict[str, Any]:
    out, run_dir = work / f"users-{tag}.{fmt}", work / f"run-{tag}-{fmt}"
    command = h.batchgs_command(
        "export", "users", "-o", str(out), "-q", "--slices", str(slices), "--run-dir", str(run_dir)
    )
    measured = h.run_measured(command, env=h.batchgs_env(sandbox, work / f"state-{tag}"))
    if measured.returncode != 0:
        raise RuntimeError(f"export to {fmt} failed: {measured.stderr[-800:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    out.unlink()
    return {
        "format": fmt,
        "records": summary.get("rows_exported"),
        "seconds": round(measured.seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
    }


def main(quick: bool = False) -> dict[str, Any]:
    users = 20_000 if quick else 200_000
    rounds = 1 if quick else ROUNDS
    with tempfile.TemporaryDirectory(prefix="bench-export-cpu-") as tmp:
        work = Path(tmp)
        with h.sandbox_process("--seed-users", "1", latency_ms=0, jitter_ms=0) as tiny:
            startups = [_export(tiny, work, "csv", 1, f"startup-{n}")["cpu_seconds"] for n in range(3)]
        with h.sandbox_process("--seed-users", str(users), latency_ms=0, jitter_ms=0) as sandbox:
            pages = work / "pages"
            pages.mkdir()
            fetched = _fetch_pages(sandbox, pages)
            floors, runs = [], []
            for round_ in range(rounds):  # a floor just before each export (the machine drifts)
                for fmt in FORMATS:
                    floor_run = _floor(pages, work)
                    floors.append(floor_run)
                    export = _export(sandbox, work, fmt, SLICES, f"big-{round_}")
                    runs.append((floor_run["cpu_seconds"] / floor_run["records"] * 1e6, export))
    startup = statistics.median(startups)
    floor = sorted(floors, key=lambda f: f["cpu_seconds"])[len(floors) // 2]  # the median floor
    floor = {**floor, "runs_cpu_seconds": [f["cpu_seconds"] for f in floors]}
    floor_us = floor["cpu_seconds"] / floor["records"] * 1e6
    exports = [_summary(fmt, [(f, m) for f, m in runs if m["format"] == fmt], startup) for fmt in FORMATS]
    million: list[dict[str, Any]] = []
    if not quick:
        with tempfile.TemporaryDirectory(prefix="bench-export-1m-") as tmp:
            million = export_bench._tenant(
                1_000_000, [(fmt, SLICES) for fmt in ("csv", "xlsx", "parquet")], Path(tmp)
            )
    published = h.load("export", quick=False) or {}
    results = {
        "users": users,
        "records_fetched": fetched,
        "floor": {**floor, "cpu_us_per_record": round(floor_us, 2)},
        "startup_cpu_seconds": round(startup, 3),
        "startup_runs_cpu_seconds": startups,
        "rounds": rounds,
        "exports": exports,
        "million": million,
        "million_published": [m for m in published.get("formats", []) if m.get("users") == 1_000_000],
    }
    h.save("export_cpu", results, quick=quick)
    return results


run = main


def print_table(results: dict[str, Any]) -> None:
    floor = results["floor"]
    print(
        f"{results['users']:,} users; Polars floor {floor['cpu_us_per_record']} CPU-µs/record; "
        f"exporter start-up {results['startup_cpu_seconds']} CPU-s"
    )
    for m in results["exports"]:
        low, high = m.get("times_floor_range") or (m["times_floor"], m["times_floor"])
        print(
            f"  {m['format']:<8} {m['cpu_us_per_record']:>7} µs/record ({m['times_floor']}× floor, "
            f"{low}–{high}×; net of start-up {m['cpu_us_per_record_net_of_startup']} µs, "
            f"{m['times_floor_net_of_startup']}×)  {m['seconds']} s  RSS {m['peak_rss_mib']:.0f} MiB"
        )
    before = {m["format"]: m for m in results.get("million_published", [])}
    for m in results.get("million", []):
        old = before.get(m["format"], {})
        print(
            f"  1,000,000 users to {m['format']:<8} {m['seconds']:>7} s  RSS {m['peak_rss_mib']:.0f} MiB  "
            f"(published: {old.get('seconds', '?')} s, {old.get('peak_rss_mib', '?')} MiB)  "
            f"complete={m['complete']}"
        )


if __name__ == "__main__":
    print_table(main(quick="--quick" in sys.argv))
