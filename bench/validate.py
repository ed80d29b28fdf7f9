"""Validation speed and memory against a plain Polars read of the same file.

A users CSV of N rows x 12 columns (ids, an email, names, an enum, an ISO date, a number, location,
a custom attribute, product keys; about 1% of rows carry a problem) is generated once per size. Then,
each in its own child process so that peak RSS is its own (`resource.getrusage(RUSAGE_CHILDREN)`):
- `read`: `pl.read_csv(path, infer_schema=False)` — the yardstick;
- `validate`: `prepare(path, users, ValidateOptions())` then every issue of `issues_only()` —
  what `batchgs validate` does, minus writing errors.csv.
Sizes: 1,000,000 and 5,000,000 rows (quick: 200,000 only). The aim: validation within 3x the plain
read at 1M rows, and a peak RSS that stays flat from 1M to 5M (the plain read grows with the file).

    python -m bench.validate [--quick]   (results: bench/results/validate.json, quick: validate-quick.json)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "validate.json"
QUICK_RESULTS = RESULTS.with_name("validate-quick.json")  # a quick run never overwrites the full figures
HEADER = [
    "identifyId", "email", "firstName", "lastName", "type", "signUpDate",
    "score", "accountId", "location.city", "location.countryCode", "custom.plan", "propertyKeys",
]  # fmt: skip
CITIES = [("Paris", "FR"), ("Berlin", "DE"), ("Boston", "US"), ("London", "GB"), ("Tokyo", "JP")]
NAMES = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances"]
PLANS = ["free", "team", "business", "enterprise"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write the benchmark CSV (~1% invalid rows: bad email, bad date, bad enum, duplicate key)."""
    rng = random.Random(seed)
    base = 1_577_836_800  # 2020-01-01
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\n")
        lines = []
        for i in range(rows):
            first, last = rng.choice(NAMES), rng.choice(NAMES)
            city, country = rng.choice(CITIES)
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + rng.randrange(150_000_000)))
            email = f"{first}.{last}{i}@example.com".lower()
            uid = f"U{i:08d}"
            kind = "USER"
            broken = rng.random()
            if broken < 0.0025:
                email = "not-an-email"
            elif broken < 0.005:
                when = "31/02/2024"
            elif broken < 0.0075:
                kind = "ADMIN"
            elif broken < 0.01 and i:
                uid = f"U{i - 1:08d}"
            score = f"{rng.random() * 100:.2f}"
            lines.append(
                f"{uid},{email},{first},{last},{kind},{when},{score},A{i % 5000:05d},{city},{country},"
                f"{rng.choice(PLANS)},AP-BENCH-1\n"
            )
            if len(lines) >= 50_000:
                handle.writelines(lines)
                lines.clear()
        handle.writelines(lines)


CHILD = {
    "read": (
        "import polars as pl, sys\n"
        "frame = pl.read_csv(sys.argv[1], infer_schema=False)\n"
        "print(frame.height)\n"
    ),
    "validate": (
        "import sys\n"
        "from batchgs.entities import registry\n"
        "from batchgs.io.validate.file import ValidateOptions, prepare\n"
        "v = prepare(sys.argv[1], registry.get('users'), ValidateOptions())\n"
        "rows = {i.row for i in v.issues_only()}\n"
        "print(v.row_count(), len(rows))\n"
    ),
}


RUNNER = (
    "import json, resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "command = [sys.executable, '-c', sys.argv[1], sys.argv[2]]\n"
    "done = subprocess.run(command, capture_output=True, text=True)\n"
    "seconds = time.perf_counter() - started\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'seconds': seconds, 'peak_kib': peak, 'rc': done.returncode,\n"
    "                  'stdout': done.stdout, 'stderr': done.stderr[-2000:]}))\n"
)


def measure(kind: str, path: Path) -> dict[str, Any]:
    """One measurement in a fresh worker process, started by a fresh runner process whose
    RUSAGE_CHILDREN peak is therefore the worker's alone: wall seconds and peak RSS (MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, CHILD[kind], str(path)], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    if report["rc"] != 0:
        raise RuntimeError(f"{kind} failed: {report['stderr']}")
    return {
        "seconds": round(report["seconds"], 3),
        "peak_rss_mib": round(report["peak_kib"] / 1024, 1),
        "output": report["stdout"].split(),
    }


def run(quick: bool = False) -> dict[str, Any]:
    sizes = [200_000] if quick else [1_000_000, 5_000_000]
    results: dict[str, Any] = {"columns": len(HEADER), "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="batchgs-bench-") as folder:
        for rows in sizes:
            path = Path(folder) / f"users-{rows}.csv"
            generate(path, rows)
            entry: dict[str, Any] = {"file_mib": round(path.stat().st_size / 2**20, 1)}
            for kind in ("read", "validate"):
                entry[kind] = measure(kind, path)
            entry["ratio"] = round(entry["validate"]["seconds"] / entry["read"]["seconds"], 2)
            results["sizes"][str(rows)] = entry
            path.unlink()
    if not quick:
        small, large = results["sizes"]["1000000"], results["sizes"]["5000000"]
        results["validate_rss_growth_1m_to_5m"] = round(
            large["validate"]["peak_rss_mib"] / small["validate"]["peak_rss_mib"], 2
        )
    results["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    target = QUICK_RESULTS if quick else RESULTS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"{'rows':>10}{'read s':>9}{'read MiB':>10}{'validate s':>12}{'validate MiB':>14}{'ratio':>7}")
    for size, e in results["sizes"].items():
        read, check = e["read"], e["validate"]
        print(
            f"{int(size):>10,}{read['seconds']:>9}{read['peak_rss_mib']:>10}{check['seconds']:>12}"
            f"{check['peak_rss_mib']:>14}{e['ratio']:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows only")
    print_table(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
