"""`python -m bench all|SCENARIO [--quick]` — the benchmark suite against the sandbox (`make bench`).

Scenarios of `all` (about 15 minutes; --quick a few): import-rate (1-3), requests-per-row (4),
validate (5), export (6, 6b), adaptive (7), optout, startup; then the charts and
BENCHMARKS.md.
Also runnable alone: writers, export-cpu, read-xlsx, sandbox-throughput, changed-only, shared-limit,
export-slices, charts, report.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import time
from pathlib import Path
from typing import Any

SCENARIOS = {
    "import-rate": "bench.import_rate",
    "requests-per-row": "bench.requests_per_row",
    "validate": "bench.validate",
    "export": "bench.export",
    "adaptive": "bench.adaptive",
    "optout": "bench.optout",
    "startup": "bench.startup",
}
EXTRA = {
    "writers": "bench.writers",
    "export-cpu": "bench.export_cpu",
    "read-xlsx": "bench.read_xlsx",
    "sandbox-throughput": "bench.sandbox_throughput",
    "changed-only": "bench.changed_only",
    "shared-limit": "bench.shared_limit",
    "export-slices": "bench.export_slices",
}


def compile_batchgs() -> None:
    """Bytecode for every batchgs module, as a wheel install has it: a module edited since `make
    install` is otherwise compiled at each start of each measured command when PYTHONDONTWRITEBYTECODE
    is set (~0.15 CPU-s an export after a day of edits: start-up figures that users never see)."""
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "batchgs", quiet=1)


def run_scenario(name: str, *, quick: bool) -> dict[str, Any]:
    module = importlib.import_module({**SCENARIOS, **EXTRA}[name])
    started = time.perf_counter()
    print(f"\n== {name}{' (quick)' if quick else ''}", flush=True)
    runner = getattr(module, "run", None) or module.main
    results: dict[str, Any] = runner(quick=quick)
    printer = getattr(module, "print_table", None) or getattr(module, "_print", None)
    if printer:
        printer(results)
    else:
        print(json.dumps(results, indent=2))
    print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["all", *SCENARIOS, *EXTRA, "charts", "report"])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: the whole suite in a few minutes"
    )
    args = parser.parse_args(argv)
    from bench import charts, report

    names = (
        list(SCENARIOS)
        if args.what == "all"
        else [args.what]
        if args.what in SCENARIOS or args.what in EXTRA
        else []
    )
    if names:
        compile_batchgs()
    for name in names:
        run_scenario(name, quick=args.quick)
    if args.what in ("all", "charts"):
        for path in charts.draw_all(quick=args.quick):
            print(f"chart: {path}")
    if args.what in ("all", "report"):
        report.update(quick=args.quick)
        if not args.quick:
            print(f"updated {report.DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
