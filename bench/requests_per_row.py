"""Scenario 4: requests per row for each upsert strategy of `batchgs import users`, on an all-new, an
all-existing and a half-new file, each run on a fresh sandbox that already holds the existing users.

- `put-first`: PUT, then POST when the user does not exist (the loader's way: 2 per new row);
- `post-first`: POST, then PUT when the API answers "possible duplicate" (2 per existing row);
- `auto`: learns which keys exist from the users list first (1 request per 1,000 users), then sends the
  right verb once per row.
Requests are counted by the sandbox (every request it received, listing pages and metadata included).

    python -m bench requests-per-row [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import harness as h

STRATEGIES = ("auto", "put-first", "post-first")


def _files(work: Path, rows: int) -> dict[str, Path]:
    existing = h.seeded_ids(rows)
    return {
        "all-new": h.write_users_csv(work / "all-new.csv", h.new_ids(rows)),
        "all-existing": h.write_users_csv(work / "all-existing.csv", existing),
        "half-new": h.write_users_csv(
            work / "half-new.csv", existing[: rows // 2] + h.new_ids(rows - rows // 2)
        ),
    }


def _one(path: Path, strategy: str, rows: int, work: Path) -> dict[str, Any]:
    with h.sandbox_process("--seed-users", str(rows)) as sandbox:
        run_dir = work / f"run-{path.stem}-{strategy}"
        measured = h.run_measured(
            h.batchgs_command(
                "import",
                "users",
                str(path),
                "--strategy",
                strategy,
                "--rate",
                "200",
                "--yes",
                "-q",
                "--run-dir",
                str(run_dir),
            ),
            env=h.batchgs_env(sandbox, work / "state"),
        )
        if measured.returncode != 0:
            raise RuntimeError(f"import failed ({measured.returncode}): {measured.stderr[-500:]}")
        summary = h.import_summary(run_dir)
        at_server = len(h.arrivals(sandbox.stats()))
    return {
        "file": path.stem,
        "strategy": strategy,
        "rows": summary["rows_total"],
        "rows_succeeded": summary["rows_succeeded"],
        "requests_at_server": at_server,
        "requests_per_row": round(at_server / summary["rows_total"], 3),
        "operations": summary["operations"],
        "seconds": round(measured.seconds, 2),
    }


def run(quick: bool = False) -> dict[str, Any]:
    rows = 400 if quick else 600
    measurements = []
    with tempfile.TemporaryDirectory(prefix="bench-rpr-") as tmp:
        work = Path(tmp)
        for name, path in _files(work, rows).items():
            for strategy in STRATEGIES:
                result = _one(path, strategy, rows, work)
                result["file"] = name
                measurements.append(result)
    results = {"rows": rows, "latency_ms": h.LATENCY_MS, "measurements": measurements}
    h.save("requests_per_row", results, quick=quick)
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"Requests per row, {results['rows']:,}-row users files (counted at the sandbox)")
    print(f"{'file':<14}" + "".join(f"{s:>12}" for s in STRATEGIES))
    table: dict[str, dict[str, float]] = {}
    for m in results["measurements"]:
        table.setdefault(m["file"], {})[m["strategy"]] = m["requests_per_row"]
    for name, by_strategy in table.items():
        print(f"{name:<14}" + "".join(f"{by_strategy.get(s, float('nan')):>12}" for s in STRATEGIES))
