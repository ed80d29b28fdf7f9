"""One key, many jobs: three `batchgs import` processes on one key, `--rate 200` each, at 50 ± 20 ms,
against the sandbox's real 200/s limit — sharing through one state folder (one machine), and through
Redis with a state folder each (three "machines"). Beside them, in the same run, one process alone
(the single-process figures), the CPU the share keeper costs per tick, and a shared `--daily-limit
5000` across three Redis jobs: each pauses (exit 4) and `resume` continues once the window frees.

Each process updates its own range of seeded users with `--strategy put-first` (one PUT per row, the
user id in the path), so the sandbox's request log says which process sent each request.

    python -m bench shared-limit [--quick]
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import harness as h
from tests.redis_server import RedisServer

_USER = re.compile(r"/v1/users/user-(\d{6})")


def _files(work: Path, rows: int, jobs: int) -> list[Path]:
    ids = h.seeded_ids(rows * jobs)
    return [h.write_users_csv(work / f"job{n}.csv", ids[n * rows : (n + 1) * rows]) for n in range(jobs)]


# The same CLI with the key sharing turned off, for the single-process baseline of the same run: the
# child patches px_client's `share` flag before the command module imports it (commands load lazily).
_UNSHARED = (
    "import functools, sys; import batchgs.transport.client as c; "
    "c.px_client = functools.partial(c.px_client, share=False); "
    "from batchgs.cli.main import main; sys.argv[0] = 'batchgs'; sys.exit(main())"
)


def _run_jobs(
    sandbox: h.Sandbox,
    work: Path,
    files: list[Path],
    *,
    coordinator: str | None,
    extra: list[str],
    shared: bool = True,
) -> list[tuple[h.Measured, Path]]:
    """Start one `batchgs import` per file at once (threads around run_measured), wait for all."""
    results: list[Any] = [None] * len(files)

    def one(n: int) -> None:
        state = work / (f"state-{n}" if coordinator else "state")
        env = h.batchgs_env(sandbox, state)
        if coordinator:
            env["BATCHGS_COORDINATOR"] = coordinator
        run_dir = work / f"run{n}"
        command = ["import", "users", str(files[n]), "--yes", "-q", "--run-dir", str(run_dir)]
        args = [*command, "--strategy", "put-first", *extra]
        program = h.batchgs_command(*args) if shared else [sys.executable, "-c", _UNSHARED, *args]
        measured = h.run_measured(program, env=env)
        results[n] = (measured, run_dir)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _measure(sandbox: h.Sandbox, rows: int, jobs: list[tuple[h.Measured, Path]]) -> dict[str, Any]:
    stats = sandbox.stats()
    times: list[list[float]] = [[] for _ in jobs]
    every: list[float] = []
    for arrived, _method, path, _status in stats["log"]:
        every.append(float(arrived))
        match = _USER.search(str(path))
        if match:
            times[(int(match.group(1)) - 1) // rows].append(float(arrived))
    every.sort()
    for job_times in times:
        job_times.sort()
    start = max(t[0] for t in times)
    end = min(t[-1] for t in times)
    together = [t for t in every if start <= t <= end]
    per_job = [sum(1 for t in job_times if start <= t <= end) / (end - start) for job_times in times]
    requests = [len(t) for t in times]
    return {
        "jobs": len(jobs),
        "exit_codes": [m.returncode for m, _ in jobs],
        "requests": len(every),
        "responses_429": stats["responses_429"],
        "busiest_sliding_second": h.max_in_sliding_second(every),
        "all_running_seconds": round(end - start, 2),
        "together_requests_per_second": round(len(together) / (end - start), 1),
        "per_job_requests_per_second": [round(r, 1) for r in per_job],
        "share_spread": round((max(per_job) - min(per_job)) / max(per_job), 3),
        "cpu_ms_per_request": [
            round(m.cpu_seconds * 1000 / max(1, n), 3) for (m, _), n in zip(jobs, requests, strict=True)
        ],
    }


def _single(rows: int, *, shared: bool) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp,
        h.sandbox_process("--seed-users", str(rows)) as sandbox,
    ):
        work = Path(tmp)
        files = _files(work, rows, 1)
        [(measured, run_dir)] = _run_jobs(sandbox, work, files, coordinator=None, extra=[], shared=shared)
        summary = h.import_summary(run_dir)
        stats = sandbox.stats()
        times = [float(e[0]) for e in stats["log"]]
        times.sort()
        return {
            "shared": shared,
            "exit_code": measured.returncode,
            "requests": summary["requests"],
            "requests_per_second": round(h.mean_rate(times), 1),
            "rows_per_second": summary.get("rows_per_second"),
            "busiest_sliding_second": h.max_in_sliding_second(times),
            "responses_429": stats["responses_429"],
            "cpu_ms_per_request": round(measured.cpu_seconds * 1000 / max(1, summary["requests"]), 3),
        }


def _three(rows: int, *, redis: bool) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp,
        h.sandbox_process("--seed-users", str(rows * 3)) as sandbox,
    ):
        work = Path(tmp)
        server = RedisServer(work / "redis").start() if redis else None
        try:
            files = _files(work, rows, 3)
            jobs = _run_jobs(sandbox, work, files, coordinator=server.url if server else None, extra=[])
            return {
                "board": "redis, 3 state folders" if redis else "one state folder",
                **_measure(sandbox, rows, jobs),
            }
        finally:
            if server:
                server.stop()


def _daily_limit(rows: int, limit: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp,
        h.sandbox_process("--seed-users", str(rows * 3)) as sandbox,
    ):
        work = Path(tmp)
        server = RedisServer(work / "redis").start()
        try:
            files = _files(work, rows, 3)
            paused = _run_jobs(
                sandbox, work, files, coordinator=server.url, extra=["--daily-limit", str(limit)]
            )
            sent = sandbox.stats(log=False)["requests_total"]
            server.age_ledger()  # the clock trick: a day later
            resumed = []
            for n, (_measured, run_dir) in enumerate(paused):
                env = h.batchgs_env(sandbox, work / f"state-{n}")
                env["BATCHGS_COORDINATOR"] = server.url
                command = ["resume", str(run_dir), "-q", "--daily-limit", str(limit)]
                resumed.append(h.run_measured(h.batchgs_command(*command), env=env).returncode)
            return {
                "daily_limit": limit,
                "rows_needed": rows * 3,
                "requests_before_pause": sent,
                "exit_codes": [m.returncode for m, _ in paused],
                "resume_exit_codes": resumed,
                "rows_done_after_resume": sum(h.import_summary(r)["rows_succeeded"] for _, r in paused),
            }
        finally:
            server.stop()


def _keeper_cost(ticks: int) -> dict[str, Any]:
    """CPU per tick of the share keeper's board (what sharing adds to a running job, TICK apart)."""
    from batchgs.config import parse_coordinator
    from batchgs.transport.share import TICK, TickInput
    from batchgs.transport.share_local import LocalShareBoard
    from batchgs.transport.share_redis import RedisShareBoard, connect

    me = TickInput(job="bench", want=200, live=0, ending=False, host="h", pid=1, label="")
    out: dict[str, Any] = {"tick_seconds": TICK}
    with tempfile.TemporaryDirectory(prefix="bench-keeper-") as tmp:
        local = LocalShareBoard(
            Path(tmp),
            "pool",
            scope="px",
            fingerprint="f",
            base_url="u",
            capacity=200,
            window=1.0,
            stale_after=4.0,
        )
        started = time.process_time()
        for _ in range(ticks):
            local.tick_now(me)
        out["local_cpu_ms_per_tick"] = round((time.process_time() - started) * 1000 / ticks, 3)
        server = RedisServer(Path(tmp) / "redis").start()
        try:

            async def redis_ticks() -> float:
                client = connect(parse_coordinator(server.url))
                board = RedisShareBoard(client, "pool", capacity=200, window=1.0, stale_after=4.0, meta={})
                begun = time.process_time()
                for _ in range(ticks):
                    await board.tick(me)
                spent = time.process_time() - begun
                await client.aclose()
                return spent

            spent = asyncio.run(redis_ticks())
            out["redis_cpu_ms_per_tick"] = round(spent * 1000 / ticks, 3)
        finally:
            server.stop()
    return out


def _keeper_alone(seconds: float) -> dict[str, float]:
    """CPU per second of a real ShareKeeper ticking alone on a state-folder board (its wake-ups,
    thread hops and transactions: what the sharing costs a running job), against the same wait
    without it. Divided by the single process's request rate it is the CPU sharing adds per request."""
    from batchgs.transport.limiter import px_limiter
    from batchgs.transport.share import ShareKeeper
    from batchgs.transport.share_local import LocalShareBoard

    async def spend(keep: bool) -> float:
        with tempfile.TemporaryDirectory(prefix="bench-keeper-") as tmp:
            board = LocalShareBoard(
                Path(tmp), "pool", scope="px", fingerprint="f", base_url="u", capacity=200,
                window=1.0, stale_after=4.0,
            )  # fmt: skip
            keeper = ShareKeeper(board, px_limiter(200))
            if keep:
                await keeper.start()
            begun = time.process_time()
            await asyncio.sleep(seconds)
            spent = time.process_time() - begun
            await keeper.stop() if keep else await board.close()
            return spent

    idle, kept = asyncio.run(spend(False)), asyncio.run(spend(True))
    return {"alone_cpu_ms_per_second": round(max(0.0, kept - idle) * 1000 / seconds, 2)}


def run(quick: bool = False) -> dict[str, Any]:
    rows = 1_500 if quick else 4_000
    results = {
        "latency_ms": h.LATENCY_MS,
        "jitter_ms": h.JITTER_MS,
        "rows_per_job": rows,
        # alone, without and with the sharing, twice each, alternating (the machine's load drifts)
        "single": [_single(rows, shared=shared) for shared in (False, True) * (1 if quick else 2)],
        "three": [_three(rows, redis=False), _three(rows, redis=True)],
        "daily": _daily_limit(800 if quick else 2_000, 1_500 if quick else 5_000),
        "keeper": {**_keeper_cost(200 if quick else 1_000), **_keeper_alone(3.0 if quick else 10.0)},
    }
    h.save("shared_limit", results, quick=quick)
    return results


def print_table(results: dict[str, Any]) -> None:
    for s in results["single"]:
        print(
            f"one process, sharing {'on ' if s['shared'] else 'off'}: {s['requests_per_second']} req/s, "
            f"busiest second {s['busiest_sliding_second']}, {s['responses_429']} x 429, "
            f"{s['cpu_ms_per_request']} ms CPU/request"
        )
    for t in results["three"]:
        print(
            f"three jobs ({t['board']}): together {t['together_requests_per_second']} req/s, per job "
            f"{t['per_job_requests_per_second']} (spread {t['share_spread']:.0%}), busiest second "
            f"{t['busiest_sliding_second']}, {t['responses_429']} x 429, exits {t['exit_codes']}"
        )
    d = results["daily"]
    print(
        f"shared --daily-limit {d['daily_limit']:,}: {d['requests_before_pause']:,} requests, exits "
        f"{d['exit_codes']}; after the window frees, resume exits {d['resume_exit_codes']}, "
        f"{d['rows_done_after_resume']:,} of {d['rows_needed']:,} rows done"
    )
    k = results["keeper"]
    local, remote = k["local_cpu_ms_per_tick"], k["redis_cpu_ms_per_tick"]
    print(f"share keeper: {local} ms (state folder) / {remote} ms (Redis) CPU per tick")
    if "alone_cpu_ms_per_second" in k:
        print(f"share keeper alone on its key: {k['alone_cpu_ms_per_second']} ms CPU per second")
