"""XLSX read speed: calamine (what batchgs uses) against openpyxl's read-only mode.

A 100,000-row x 12-column workbook (quick: 20,000 rows) is generated once with xlsxwriter in its
default mode, like Excel (shared strings, styled date cells), holding text ids, emails, names,
datetimes, booleans, whole and fractional numbers. Then, each best of a few runs:
- batchgs: `open_table` + iterating every batch (safety scan, calamine, type refinement);
- calamine: a plain `polars.read_excel(engine="calamine")` of the same sheet;
- safety scan: `check_xlsx` alone (the zip-bomb / XML-bomb pass that precedes every read);
- openpyxl: `load_workbook(read_only=True, data_only=True)` iterating every row's values.
The ratio openpyxl / batchgs is printed and written with the figures to bench/results/read_xlsx.json.

    python -m bench.read_xlsx [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "read_xlsx.json"
COLUMNS = [
    "identifyId",
    "email",
    "firstName",
    "lastName",
    "signUpDate",
    "lastSeenDate",
    "active",
    "score",
    "seats",
    "city",
    "plan",
    "ratio",
]
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Ritchie"]
_CITIES = ["Paris", "Berlin", "Zürich", "São Paulo", "Tokyo", "Austin", "Lagos", "Oslo"]
_PLANS = ["free", "team", "business", "enterprise"]


def generate(path: Path, rows: int) -> None:
    """Write the benchmark workbook (deterministic content)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Users")
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, COLUMNS)
    start = dt.datetime(2020, 1, 1)
    for i in range(1, rows + 1):
        sheet.write_string(i, 0, f"U{i:07d}")
        sheet.write_string(i, 1, f"user{i}@example.com")
        sheet.write_string(i, 2, _FIRST[i % len(_FIRST)])
        sheet.write_string(i, 3, _LAST[i % len(_LAST)])
        sheet.write_datetime(i, 4, start + dt.timedelta(minutes=7 * i), stamp)
        sheet.write_datetime(i, 5, start + dt.timedelta(days=i % 1500), day)
        sheet.write_boolean(i, 6, i % 3 == 0)
        sheet.write_number(i, 7, i % 1000)
        sheet.write_number(i, 8, 1 + i % 250)
        sheet.write_string(i, 9, _CITIES[i % len(_CITIES)])
        sheet.write_string(i, 10, _PLANS[i % len(_PLANS)])
        sheet.write_number(i, 11, (i % 977) / 7)
    workbook.close()


def read_batchgs(path: Path) -> int:
    from batchgs.io.read.tables import open_table

    with open_table(path) as source:
        return sum(batch.height for batch in source.batches())


def read_calamine(path: Path) -> int:
    import polars as pl

    return pl.read_excel(path, engine="calamine").height


def safety_scan(path: Path) -> int:
    from batchgs.io.read.xlsx_safety import check_xlsx

    check_xlsx(path)
    return 0


def read_openpyxl(path: Path) -> int:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(min_row=2, values_only=True)
        return sum(1 for _ in rows)
    finally:
        workbook.close()


def _best_of(read: Callable[[Path], int], path: Path, repeats: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = read(path)
        times.append(time.perf_counter() - started)
    return min(times), rows


def run(quick: bool = False) -> dict[str, Any]:
    """Generate the workbook, time each reader, write and return the results."""
    rows = 20_000 if quick else 100_000
    results: dict[str, Any] = {"rows": rows, "columns": len(COLUMNS), "readers": {}}
    with tempfile.TemporaryDirectory(prefix="batchgs-bench-xlsx-") as tmp:
        path = Path(tmp) / "users.xlsx"
        started = time.perf_counter()
        generate(path, rows)
        results["generate_seconds"] = round(time.perf_counter() - started, 2)
        results["file_mib"] = round(path.stat().st_size / 2**20, 2)
        plan: list[tuple[str, Callable[[Path], int], int]] = [
            ("batchgs", read_batchgs, 3),
            ("calamine", read_calamine, 3),
            ("safety_scan", safety_scan, 3),
            ("openpyxl_read_only", read_openpyxl, 1),
        ]
        for name, read, repeats in plan:
            seconds, seen = _best_of(read, path, repeats)
            entry: dict[str, Any] = {"seconds": round(seconds, 3)}
            if name != "safety_scan":
                entry["rows"] = seen
                entry["rows_per_second"] = round(seen / seconds)
            results["readers"][name] = entry
    readers = results["readers"]
    results["openpyxl_over_batchgs"] = round(
        readers["openpyxl_read_only"]["seconds"] / readers["batchgs"]["seconds"], 1
    )
    results["openpyxl_over_calamine"] = round(
        readers["openpyxl_read_only"]["seconds"] / readers["calamine"]["seconds"], 1
    )
    results["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    target = RESULTS.with_name(f"{RESULTS.stem}-quick.json") if quick else RESULTS  # never over full figures
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    _print(results)
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"read_xlsx: {results['rows']:,} rows x {results['columns']} columns ({results['file_mib']} MiB)")
    for name, entry in results["readers"].items():
        rate = f"{entry['rows_per_second']:>10,} rows/s" if "rows_per_second" in entry else ""
        print(f"  {name:20} {entry['seconds']:8.2f} s {rate}")
    print(
        f"  openpyxl read-only / batchgs = {results['openpyxl_over_batchgs']}x, "
        f"/ plain calamine = {results['openpyxl_over_calamine']}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 100,000")
    run(quick=parser.parse_args().quick)


if __name__ == "__main__":
    main()
