"""Scenario: a nightly re-import where little changed — `--changed-only` against a plain re-import — and
the undo of a 10,000-row run. All at 50 ± 20 ms per request, requests counted by the sandbox.

1. The sandbox holds N users (`--seed-users`); `batchgs export users` writes them to a CSV: the file a
   nightly job would re-import. 1% of its rows get a new title, and 0.5% new users are added.
2. `import users FILE --changed-only`: reads the current records, writes only the changed and new rows.
3. The plain re-import of the same kind of file costs one write per row; on N rows it would take N/190 s,
   so it is measured on a 10,000-row subset (every row with a new title) and scaled to N (linear: one
   request per row at the rate), which the report says.
4. `undo` of that 10,000-row run: one write per record it restores, plus one list pass.

    python -m bench changed-only [--quick]
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import harness as h

RESULTS = Path(__file__).parent / "results"


def _writes(stats: dict[str, Any]) -> int:
    return sum(
        1 for e in stats.get("log", []) if e[1] in ("POST", "PUT", "DELETE") and str(e[2]).startswith("/v1")
    )


def _reads(stats: dict[str, Any]) -> int:
    return sum(1 for e in stats.get("log", []) if e[1] == "GET" and str(e[2]).startswith("/v1"))


def _edit(base: Path, out: Path, *, every: int, new: int, limit: int | None = None) -> dict[str, int]:
    """Copy `base` to `out`, giving every `every`-th row a new title and adding `new` users."""
    changed = rows = 0
    with base.open(encoding="utf-8", newline="") as src, out.open("w", encoding="utf-8", newline="") as dst:
        reader = csv.DictReader(src)
        fields = list(reader.fieldnames or [])
        writer = csv.DictWriter(dst, fieldnames=fields)
        writer.writeheader()
        template: dict[str, str] = {}
        for row in reader:
            if limit is not None and rows >= limit:
                break
            template = template or dict(row)
            if rows % every == 0:
                row["title"] = f"Changed {rows}"
                changed += 1
            writer.writerow(row)
            rows += 1
        for i in range(new):
            writer.writerow(
                {**{k: "" for k in fields}, "identifyId": f"new-{i:06d}", "email": f"new{i}@example.com"}
            )
    return {"rows": rows + new, "changed": changed, "new": new}


def _measure(sandbox: h.Sandbox, work: Path, *args: str) -> dict[str, Any]:
    sandbox.reset_stats()
    measured = h.run_measured(h.batchgs_command(*args), env=h.batchgs_env(sandbox, work / "state"))
    if measured.returncode not in (0, 1):
        raise RuntimeError(f"{args[:2]} failed ({measured.returncode}): {measured.stderr[-800:]}")
    stats = sandbox.stats()
    return {
        "seconds": round(measured.seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "requests": len(h.arrivals(stats)),
        "reads": _reads(stats),
        "writes": _writes(stats),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "exit": measured.returncode,
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    tenant = 10_000 if quick else 100_000
    subset = 2_000 if quick else 10_000
    with (
        tempfile.TemporaryDirectory(prefix="bench-changed-") as tmp,
        h.sandbox_process("--seed-users", str(tenant)) as sandbox,
    ):
        work = Path(tmp)
        env = h.batchgs_env(sandbox, work / "state")
        base = work / "users.csv"
        exported = h.run_measured(h.batchgs_command("export", "users", "-o", str(base), "-q"), env=env)
        if exported.returncode != 0:
            raise RuntimeError(f"export failed: {exported.stderr[-800:]}")
        nightly = work / "nightly.csv"
        shape = _edit(base, nightly, every=100, new=tenant // 200)
        changed_only = _measure(
            sandbox, work, "import", "users", str(nightly), "--changed-only", "--yes", "-q",
            "--run-dir", str(work / "changed-only"),
        )  # fmt: skip
        summary = h.import_summary(work / "changed-only")
        changed_only["rows_unchanged"] = summary.get("rows_unchanged")
        part = work / "subset.csv"
        part_shape = _edit(base, part, every=1, new=0, limit=subset)
        plain = _measure(
            sandbox, work, "import", "users", str(part), "--yes", "-q", "--run-dir", str(work / "plain")
        )
        undo = _measure(
            sandbox, work, "undo", str(work / "plain"), "--yes", "-q", "--run-dir", str(work / "undo")
        )
    scale = shape["rows"] / part_shape["rows"]
    plain_scaled = {  # writes and time grow with the rows; the list pass of the before-images does not
        "seconds": round(plain["seconds"] * scale, 1),
        "writes": round(plain["writes"] * scale),
        "reads": plain["reads"],
        "requests": round(plain["writes"] * scale) + plain["reads"],
        "scaled_from_rows": part_shape["rows"],
    }
    rows = shape["rows"]
    results = {
        "scenario": "changed-only",
        "quick": quick,
        "latency_ms": f"{h.LATENCY_MS:g}+-{h.JITTER_MS:g}",
        "tenant_users": tenant,
        "file": shape,
        "changed_only": changed_only,
        "plain_subset": {**plain, "rows": part_shape["rows"]},
        "plain_scaled": plain_scaled,
        "speedup": round(plain_scaled["seconds"] / changed_only["seconds"], 1),
        "read_budget": round(1.5 * rows / 1000 + 20),
        "writes_expected": shape["changed"] + shape["new"],
        "undo": {**undo, "rows": part_shape["rows"]},
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "changed_only-quick.json" if quick else "changed_only.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def print_table(results: dict[str, Any]) -> None:
    c, p, u = results["changed_only"], results["plain_scaled"], results["undo"]
    print(f"file: {results['file']}  (tenant {results['tenant_users']:,} users, {results['latency_ms']} ms)")
    print(
        f"--changed-only : {c['seconds']:>8.1f} s  {c['requests']:>7,} requests "
        f"({c['reads']:,} reads, {c['writes']:,} writes; expected writes {results['writes_expected']:,}, "
        f"read budget {results['read_budget']:,})"
    )
    print(
        f"plain re-import: {p['seconds']:>8.1f} s  {p['requests']:>7,} requests "
        f"(scaled from {p['scaled_from_rows']:,} rows: {results['plain_subset']['seconds']} s)"
    )
    print(f"speed-up       : {results['speedup']}x")
    print(f"undo of {u['rows']:,} rows: {u['seconds']:.1f} s, {u['requests']:,} requests ", end="")
    print(f"({u['writes']:,} writes)")
