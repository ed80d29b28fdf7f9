"""What every scenario of the suite shares: a sandbox in its own process, its request log, child
processes measured by the OS, input files, and the results folder.

The sandbox runs as `batchgs sandbox` in a separate process (client and server on separate cores) with
the latency of a real network: 50 ms ± 20 ms per request by default (`LATENCY_MS`, `JITTER_MS`).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
KEY = "bench-key"
PRODUCT_KEY = "AP-BENCH-1"
LATENCY_MS = 50.0
JITTER_MS = 20.0
PX_LIMIT = 200


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox process: its base URL, and reads of its control surface."""

    url: str

    def stats(self, *, log: bool = True) -> dict[str, Any]:
        return asyncio.run(_get_json(f"{self.url}/__sandbox/stats?log={'1' if log else '0'}"))

    def reset_stats(self) -> None:
        asyncio.run(_post(f"{self.url}/__sandbox/reset-stats"))

    def counts(self) -> dict[str, Any]:
        return asyncio.run(_get_json(f"{self.url}/__sandbox/counts"))


async def _get_json(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        data: dict[str, Any] = await response.json()
        return data


async def _post(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(url) as response:
        response.raise_for_status()


@contextmanager
def sandbox_process(
    *args: str, latency_ms: float = LATENCY_MS, jitter_ms: float = JITTER_MS
) -> Iterator[Sandbox]:
    """`batchgs sandbox --port 0 ...` in a child process on loopback; stopped (SIGTERM) on exit."""
    command = [sys.executable, "-m", "batchgs", "sandbox", "--port", "0", "--api-key", KEY]
    if latency_ms:
        command += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    proc = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield Sandbox(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Measured:
    """One child process as the OS saw it."""

    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    stdout: str
    stderr: str


# wait4 on a child forked from this process would count this process's pages in the child's peak RSS
# (Linux keeps the pre-exec high-water mark), so the command runs under a tiny wrapper that reports the
# largest RSS of its own child: the command's own, whatever this process holds. It reports the child's
# CPU too: wait4 on the wrapper would add the wrapper's own start-up (~0.04 CPU-s) to the command's.
_WRAP = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print('MAXRSS_KIB', usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr); "
    "sys.exit(code)"
)


def run_measured(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run a command to the end: its wall time (the wrapper's start included), its own CPU (user + sys
    of it and of any process it starts) and its own peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAP, *command],
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_kib, cpu_seconds, lines = 0, usage.ru_utime + usage.ru_stime, []
    for line in stderr.splitlines(keepends=True):
        if line.startswith("MAXRSS_KIB "):
            _, peak, child_cpu = line.split()
            peak_kib, cpu_seconds = int(peak), float(child_cpu)
        else:
            lines.append(line)
    return Measured(
        returncode=proc.returncode,
        seconds=time.perf_counter() - started,
        cpu_seconds=cpu_seconds,
        peak_rss_mib=peak_kib / 1024,
        stdout=stdout,
        stderr="".join(lines),
    )


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Read both pipes to EOF without reaping the child (so wait4 still gets its usage)."""
    import threading

    chunks: dict[str, str] = {}

    def read(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [
        threading.Thread(target=read, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return chunks.get("out", ""), chunks.get("err", "")


def batchgs_env(sandbox: Sandbox, state_dir: Path) -> dict[str, str]:
    """Environment of a batchgs child talking to the sandbox with its own quota ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    env.update(
        GAINSIGHT_PX_API_KEY=KEY,
        GAINSIGHT_PX_BASE_URL=sandbox.url,
        GAINSIGHT_PX_PRODUCT_KEY=PRODUCT_KEY,
        BATCHGS_STATE_DIR=str(state_dir),
    )
    return env


def batchgs_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchgs", *args]


def write_users_csv(path: Path, identify_ids: Sequence[str]) -> Path:
    """A users file with the columns a migration usually has (names, email, title, city, a custom field)."""
    titles = ("Analyst", "CTO", "Engineer", "Designer", "Manager")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["identifyId", "email", "firstName", "lastName", "title", "location.city", "custom.seats"]
        )
        for i, key in enumerate(identify_ids):
            writer.writerow(
                [key, f"{key.lower()}@example.com", f"First{i}", f"Last{i}", titles[i % 5], "Paris", i % 500]
            )
    return path


def new_ids(n: int, prefix: str = "bench") -> list[str]:
    return [f"{prefix}-{i:07d}" for i in range(n)]


def seeded_ids(n: int) -> list[str]:
    """The identifyIds of the users `--seed-users n` creates in the sandbox."""
    return [f"user-{i:06d}" for i in range(1, n + 1)]


def arrivals(stats: Mapping[str, Any], *, px_only: bool = True) -> list[tuple[float, int | None]]:
    """(arrival time, status) of every API request in the sandbox's log, oldest first."""
    out = []
    for entry in stats.get("log", []):
        arrived, _method, path, status = entry[0], entry[1], entry[2], entry[3]
        if px_only and not str(path).startswith("/v1"):
            continue
        out.append((float(arrived), status))
    out.sort()
    return out


def per_second(times: Sequence[float], origin: float | None = None) -> list[int]:
    """Requests in each whole second since `origin` (for the charts)."""
    if not times:
        return []
    start = times[0] if origin is None else origin
    buckets = [0] * (int(times[-1] - start) + 1)
    for t in times:
        buckets[int(t - start)] += 1
    return buckets


def max_in_sliding_second(times: Sequence[float]) -> int:
    """Largest number of times inside any half-open one-second window (t - 1, t]."""
    best, low = 0, 0
    for high, t in enumerate(times):
        while times[low] <= t - 1.0:
            low += 1
        best = max(best, high - low + 1)
    return best


def mean_rate(times: Sequence[float]) -> float:
    """Requests per second between the first and the last arrival."""
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def save(name: str, results: dict[str, Any], *, quick: bool) -> Path:
    """bench/results/<name>.json (quick runs go to <name>-quick.json and never overwrite full figures)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    results = {"benchmark": name, "quick": quick, "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **results}
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def load(name: str, *, quick: bool) -> dict[str, Any] | None:
    path = RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def import_summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data
