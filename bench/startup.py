"""Start-up cost of the CLI: how long `batchgs` takes before it does anything, side by side with a bare
`python -c "import click"` in the same run.

Measured, each command run REPEAT times round-robin (so machine noise hits all alike), median wall time
and the largest peak RSS:
- `python -c "import click"` (the baseline), `batchgs --help`, `--version`, `status RUN`, `quota`;
- an import of a 10-row file against a sandbox already running in its own process (no latency): the
  time from just before the process is spawned to the first request the sandbox receives, read from the
  sandbox's request log (its times are CLOCK_MONOTONIC like ours; the offset between the two origins is
  taken from its stats' `uptime_s`, bracketed by our clock);
- the file read for comparison: `python -c "import polars; polars.read_csv(FILE)"` minus a bare
  `python -c pass`, i.e. what reading the file costs on top of any Python start.

Aims (issue 14): each light command ≤ 3× the bare click import; first request ≤ 0.4 s + the file read.

    python -m bench.startup [--quick]      (results: bench/results/startup.json)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import (
    ROOT,
    Sandbox,
    batchgs_command,
    batchgs_env,
    new_ids,
    run_measured,
    sandbox_process,
    save,
    write_users_csv,
)

REPEAT = 9
QUICK_REPEAT = 3
FILE_ROWS = 10
LIGHT_AIM = 3.0  # × the bare click import
FIRST_REQUEST_AIM_S = 0.4  # + the file read


def _wall(command: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one run of `command` (nothing in between: no wrapper process)."""
    started = time.perf_counter()
    done = subprocess.run(list(command), env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    return seconds


async def _get_json(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        data: dict[str, Any] = await response.json()
        return data


def _sandbox_origin(sandbox: Sandbox) -> float:
    """The sandbox's stats origin on our monotonic clock (its log times are seconds since it)."""

    async def probe() -> tuple[float, float, float]:
        async with aiohttp.ClientSession() as session:
            before = time.monotonic()
            async with session.get(f"{sandbox.url}/__sandbox/stats?log=0") as response:
                data = await response.json()
            after = time.monotonic()
        return before, after, float(data["uptime_s"])

    before, after, uptime = asyncio.run(probe())
    return (before + after) / 2 - uptime


def _first_request(sandbox: Sandbox, env: dict[str, str], work: Path, data: Path, n: int) -> dict[str, float]:
    """One import of the small file: seconds from spawn to the sandbox's first request, and to exit."""
    sandbox.reset_stats()
    origin = _sandbox_origin(sandbox)
    run_dir = work / f"import-run-{n}"
    command = batchgs_command("import", "users", str(data), "--run-dir", str(run_dir), "--yes", "-q")
    spawned = time.monotonic()
    done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
    exited = time.monotonic()
    if done.returncode != 0:
        raise RuntimeError(f"the import exited {done.returncode}: {done.stderr[-500:]}")
    log = sandbox.stats(log=True)["log"]
    first = min(float(entry[0]) for entry in log if str(entry[2]).startswith("/v1"))
    return {"first_request_s": origin + first - spawned, "process_s": exited - spawned}


def run(*, quick: bool = False) -> dict[str, Any]:
    repeat = QUICK_REPEAT if quick else REPEAT
    with (
        tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp,
        sandbox_process(latency_ms=0) as sandbox,
    ):
        work = Path(tmp)
        env = batchgs_env(sandbox, work / "state")
        data = write_users_csv(work / "users.csv", new_ids(FILE_ROWS, prefix="startup"))
        imports = [_first_request(sandbox, env, work, data, n) for n in range(repeat)]
        status_dir = work / "import-run-0"
        commands: dict[str, list[str]] = {
            "python -c 'import click'": [sys.executable, "-c", "import click"],
            "batchgs --help": batchgs_command("--help"),
            "batchgs --version": batchgs_command("--version"),
            "batchgs status RUN": batchgs_command("status", str(status_dir)),
            "batchgs quota": batchgs_command("quota"),
            "python -c pass": [sys.executable, "-c", "pass"],
            "polars read of the file": [
                sys.executable,
                "-c",
                f"import polars; polars.read_csv({str(data)!r})",
            ],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):
            for name, command in commands.items():
                walls[name].append(_wall(command, env, work))
        rss = {
            name: run_measured(command, env=env, cwd=work).peak_rss_mib for name, command in commands.items()
        }
    median = {name: statistics.median(values) for name, values in walls.items()}
    click_s = median["python -c 'import click'"]
    rows: list[dict[str, Any]] = [
        {
            "command": name,
            "median_s": round(median[name], 3),
            "times_click": round(median[name] / click_s, 2),
            "peak_rss_mib": round(rss[name], 1),
        }
        for name in commands
    ]
    read_s = median["polars read of the file"] - median["python -c pass"]
    first = statistics.median(m["first_request_s"] for m in imports)
    light = [row for row in rows if row["command"].startswith("batchgs ")]
    results = {
        "commit": _commit(),
        "repeat": repeat,
        "file_rows": FILE_ROWS,
        "commands": rows,
        "first_request_s": round(first, 3),
        "import_process_s": round(statistics.median(m["process_s"] for m in imports), 3),
        "file_read_s": round(read_s, 3),
        "first_request_aim_s": round(FIRST_REQUEST_AIM_S + read_s, 3),
        "first_request_within_aim": first <= FIRST_REQUEST_AIM_S + read_s,
        "light_within_aim": all(row["times_click"] <= LIGHT_AIM for row in light),
    }
    save("startup", results, quick=quick)
    return results


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def print_table(results: dict[str, Any]) -> None:
    print(f"{'command':<28} {'median s':>9} {'× click':>8} {'RSS MiB':>8}")
    for row in results["commands"]:
        print(f"{row['command']:<28} {row['median_s']:>9} {row['times_click']:>8} {row['peak_rss_mib']:>8}")
    print(
        f"import of {results['file_rows']} rows: first request after {results['first_request_s']} s "
        f"(aim {results['first_request_aim_s']} s = 0.4 s + file read {results['file_read_s']} s), "
        f"process {results['import_process_s']} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print_table(results)
    print(json.dumps({k: v for k, v in results.items() if k != "commands"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
