"""Scenarios 1-3: batchgs against the physical limit, against the official loader's approach and
against the naive async script, on the same users file, each on a fresh sandbox with 50 ± 20 ms latency
and the real 200/s limit (429 above it).

1. batchgs `import users --rate 200`: mean requests/s ÷ 200, the busiest sliding second at the server,
   429s received.
2. The loader-style baseline (`bench/loader_baseline.py`): sequential, so its throughput is constant;
   it loads the first 200 rows of the same file and the ratio is taken on rows per second.
3. The naive script (`bench/naive_async.py`) on the first 4,000 rows (it sends at 200/s, so part of
   the file shows all it does in less time): its busiest second and 429s beside batchgs's.

    python -m bench import-rate [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import harness as h
from bench import loader_baseline, naive_async

FULL = {"rows": 20_000, "baseline_rows": 200, "naive_rows": 4_000}
QUICK = {"rows": 3_000, "baseline_rows": 150, "naive_rows": 3_000}


def _server_view(stats: dict[str, Any]) -> dict[str, Any]:
    log = h.arrivals(stats)
    times = [t for t, _ in log]
    return {
        "requests_at_server": len(times),
        "mean_requests_per_second": round(h.mean_rate(times), 1),
        "max_in_any_sliding_second": h.max_in_sliding_second(times),
        "responses_429": sum(1 for _, status in log if status == 429),
        "timeline": h.per_second(times),
    }


def run_batchgs(users: Path, work: Path, rate: int = h.PX_LIMIT) -> dict[str, Any]:
    with h.sandbox_process() as sandbox:
        run_dir = work / "batchgs-run"
        measured = h.run_measured(
            h.batchgs_command(
                "import", "users", str(users), "--rate", str(rate), "--yes", "-q", "--run-dir", str(run_dir)
            ),
            env=h.batchgs_env(sandbox, work / "state"),
        )
        if measured.returncode != 0:
            raise RuntimeError(f"batchgs import failed ({measured.returncode}): {measured.stderr[-500:]}")
        summary = h.import_summary(run_dir)
        view = _server_view(sandbox.stats())
    rows = summary["rows_succeeded"]
    return {
        "client": "batchgs",
        "rows": summary["rows_total"],
        "rows_succeeded": rows,
        "rows_lost": summary["rows_total"] - rows,
        "requests": summary["requests"],
        "requests_per_row": summary["requests_per_row"],
        "seconds": round(measured.seconds, 2),
        "rows_per_second": round(rows / measured.seconds, 1),
        "share_of_limit": round(view["mean_requests_per_second"] / h.PX_LIMIT, 3),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "cpu_ms_per_request": round(1000 * measured.cpu_seconds / max(1, summary["requests"]), 3),
        **view,
    }


def _competitor(client: str, result: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """The figures batchgs gets, for a client run in this process (requests counted at the server)."""
    ok = sum(n for status, n in result["statuses"].items() if 200 <= status < 300)
    return {
        "client": client,
        "rows": result["rows"],
        "rows_succeeded": ok,
        "rows_lost": result["rows"] - ok,
        "requests": view["requests_at_server"],
        "requests_per_row": round(view["requests_at_server"] / result["rows"], 3),
        "seconds": round(result["seconds"], 2),
        "rows_per_second": round(ok / result["seconds"], 1),
        "share_of_limit": round(view["mean_requests_per_second"] / h.PX_LIMIT, 3),
        **view,
    }


def run_baseline(users: Path, rows: int) -> dict[str, Any]:
    with h.sandbox_process() as sandbox:
        result = loader_baseline.load_users(sandbox.url, h.KEY, users, h.PRODUCT_KEY, limit=rows)
        return _competitor("loader-style baseline", result, _server_view(sandbox.stats()))


def run_naive(users: Path, rows: int) -> dict[str, Any]:
    with h.sandbox_process() as sandbox:
        result = naive_async.load_users(sandbox.url, h.KEY, users, h.PRODUCT_KEY, limit=rows)
        return _competitor(
            "naive asyncio.gather + AsyncLimiter(200, 1)", result, _server_view(sandbox.stats())
        )


def run(quick: bool = False) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        users = h.write_users_csv(work / "users.csv", h.new_ids(sizes["rows"]))
        batchgs = run_batchgs(users, work)
        baseline = run_baseline(users, sizes["baseline_rows"])
        naive = run_naive(users, sizes["naive_rows"])
    results = {
        "latency_ms": h.LATENCY_MS,
        "jitter_ms": h.JITTER_MS,
        "rate": h.PX_LIMIT,
        "file_rows": sizes["rows"],
        "clients": [batchgs, baseline, naive],
        "speedup_vs_baseline": round(batchgs["rows_per_second"] / baseline["rows_per_second"], 1),
    }
    h.save("import_rate", results, quick=quick)
    return results


def print_table(results: dict[str, Any]) -> None:
    print(
        f"Import {results['file_rows']:,} new users, sandbox latency {results['latency_ms']:g} ± "
        f"{results['jitter_ms']:g} ms, limit {results['rate']}/s"
    )
    head = f"{'client':<44}{'rows':>7}{'req/row':>9}{'rows/s':>9}{'req/s':>8}"
    head += f"{'÷200':>7}{'max 1s':>8}{'429s':>7}{'lost':>7}"
    print(head)
    for c in results["clients"]:
        print(
            f"{c['client']:<44}{c['rows']:>7}{c['requests_per_row']:>9}{c['rows_per_second']:>9}"
            f"{c['mean_requests_per_second']:>8}{c['share_of_limit']:>7}{c['max_in_any_sliding_second']:>8}"
            f"{c['responses_429']:>7}{c['rows_lost']:>7}"
        )
    print(f"batchgs is {results['speedup_vs_baseline']}x the loader-style baseline (rows/s)")
