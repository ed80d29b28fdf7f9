"""The generated part of BENCHMARKS.md: the machine, the commit, and one table per scenario, rendered from
bench/results/*.json and written between the `<!-- bench:begin -->` / `<!-- bench:end -->` markers
(the prose around them is written by people and left alone).

    python -m bench report [--quick]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import harness as h

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DOC = h.ROOT / "BENCHMARKS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=h.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]}, batchgs commit `{commit}`"
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def import_rate(r: dict[str, Any]) -> str:
    rows = [
        [
            c["client"],
            f"{c['rows']:,}",
            c["requests_per_row"],
            c["rows_per_second"],
            c["mean_requests_per_second"],
            f"{c['share_of_limit']:.1%}",
            c["max_in_any_sliding_second"],
            c["responses_429"],
            c["rows_lost"],
        ]
        for c in r["clients"]
    ]
    head = [
        "client",
        "rows",
        "requests/row",
        "rows/s",
        "requests/s",
        "÷ 200",
        "busiest second",
        "429s",
        "rows lost",
    ]
    batchgs = r["clients"][0]
    return (
        f"### 1–3. Import {r['file_rows']:,} new users at `--rate 200`, "
        f"{r['latency_ms']:g} ± {r['jitter_ms']:g} ms\n\n"
        + _table(head, rows)
        + f"\n\nbatchgs: **{r['speedup_vs_baseline']}×** the loader-style baseline in rows/s; "
        f"peak RSS {batchgs['peak_rss_mib']} MiB, {batchgs['cpu_ms_per_request']} ms CPU per request.\n"
        "The baseline loads the first rows of the same file (it is sequential, so its rate is constant).\n\n"
        "![requests per second](docs/bench-rate.png)\n"
    )


def requests_per_row(r: dict[str, Any]) -> str:
    table: dict[str, dict[str, Any]] = {}
    for m in r["measurements"]:
        table.setdefault(m["file"], {})[m["strategy"]] = m["requests_per_row"]
    strategies = ["auto", "put-first", "post-first"]
    rows = [[name, *(by.get(s, "") for s in strategies)] for name, by in table.items()]
    return (
        f"### 4. Requests per row ({r['rows']:,}-row files, counted at the sandbox)\n\n"
        + _table(["file", *strategies], rows)
        + "\n"
    )


def validate(r: dict[str, Any]) -> str:
    rows = [
        [
            f"{int(size):,}",
            e["file_mib"],
            e["read"]["seconds"],
            e["read"]["peak_rss_mib"],
            e["validate"]["seconds"],
            e["validate"]["peak_rss_mib"],
            f"{e['ratio']}×",
        ]
        for size, e in r["sizes"].items()
    ]
    head = [
        "rows",
        "file MiB",
        "plain read s",
        "read RSS MiB",
        "validate s",
        "validate RSS MiB",
        "validate ÷ read",
    ]
    return "### 5. Validation against a plain Polars read\n\n" + _table(head, rows) + "\n"


def export(r: dict[str, Any]) -> str:
    head = ["tenant", "run", "records", "seconds", "records/s", "requests", "peak RSS MiB", "all once"]
    pair = r["single_vs_sliced"]

    def row(m: dict[str, Any]) -> list[Any]:
        return [
            f"{m['users']:,} users",
            m["mode"],
            f"{m['records']:,}",
            m["seconds"],
            f"{m['records_per_second']:,}",
            f"{m['requests']:,}",
            m["peak_rss_mib"],
            "yes" if m["complete"] else "NO",
        ]

    return (
        f"### 6. Export users, {r['latency_ms']:g} ± {r['jitter_ms']:g} ms per request\n\n"
        + _table(head, [row(m) for m in [*r["formats"], pair["single"], pair["sliced"]]])
        + f"\n\nSliced cursors: **{pair['speedup']}×** one cursor's records/s on the same "
        f"{pair['users']:,}-user tenant.\n"
    )


def adaptive(r: dict[str, Any]) -> str:
    b, o = r["batchgs"], r["other_client"]
    rows = [
        ["batchgs", f"{b['requests']:,}", b["requests_per_second"], b["responses_429"], b["rows_failed"]],
        [
            f"other client ({r['other_client_rate']:g}/s)",
            f"{o['requests']:,}",
            r["other_client_rate"],
            o["responses_429"],
            "",
        ],
    ]
    return (
        "### 7. Adaptive rate: another client spends 100 of the 200 requests/s\n\n"
        + _table(["client", "requests", "requests/s", "429s", "rows failed"], rows)
        + f"\n\nBusiest sliding second of arrivals at the server (both clients): "
        f"{r['server']['max_in_any_sliding_second']}; the server accepts 200 and answers the rest 429.\n\n"
        "![adaptive](docs/bench-adaptive.png)\n"
    )


def optout(r: dict[str, Any]) -> str:
    rows = [
        [
            f"{r['people']:,}",
            r["rate"],
            r["requests_per_person"],
            r["people_per_second_running"],
            r["ceiling_people_per_second"],
            r["max_requests_in_a_sliding_second"],
            r["responses_429"],
            r["peak_rss_mib"],
        ]
    ]
    head = [
        "people",
        "--rate",
        "requests/person",
        "people/s",
        "ceiling people/s",
        "busiest second",
        "429s",
        "RSS MiB",
    ]
    return "### Compliance opt-out (read, write, read back)\n\n" + _table(head, rows) + "\n"


def writers(r: dict[str, Any]) -> str:
    rows = [
        [
            name,
            e["seconds"],
            f"{e['rows_per_second']:,}",
            f"{e.get('speedup_vs_xlsxwriter', '')}×",
            e.get("peak_rss_above_start_mib", ""),
            {True: "yes", False: "NO"}.get(e.get("valid"), "—"),
        ]
        for name, e in r["candidates"].items()
        if "seconds" in e
    ]
    head = ["writer", "seconds", "rows/s", "÷ xlsxwriter", "RSS above start MiB", "valid xlsx"]
    return f"### Writers: {r['rows']:,} rows × {r['columns']} columns\n\n" + _table(head, rows) + "\n"


def read_xlsx(r: dict[str, Any]) -> str:
    rows = [[name, e["seconds"], f"{e.get('rows_per_second', 0):,}"] for name, e in r["readers"].items()]
    return (
        f"### Reading an .xlsx: {r['rows']:,} rows × {r['columns']} columns\n\n"
        + _table(["reader", "seconds", "rows/s"], rows)
        + "\n"
    )


def sandbox_throughput(r: dict[str, Any]) -> str:
    rows = [[m["kind"], f"{m['requests']:,}", m["seconds"], f"{m['per_second']:,}"] for m in r["served"]]
    limit = r["limit"]
    return (
        f"### The sandbox itself ({r['connections']} connections, no latency, no limit)\n\n"
        + _table(["request", "requests", "seconds", "served/s"], rows)
        + f"\n\nOffered {limit['offered_per_second']}/s for {limit['offered_seconds']:g} s "
        f"with the 200/s limit on: busiest second accepted {limit['max_accepted_in_any_second']}, "
        f"{limit['refused_429']:,} answered 429.\n"
    )


def startup(r: dict[str, Any]) -> str:
    rows = [
        [f"`{c['command']}`", c["median_s"], f"{c['times_click']}×", c["peak_rss_mib"]] for c in r["commands"]
    ]
    return (
        f"### Start-up (median of {r['repeat']} runs each, round-robin, batchgs commit `{r['commit']}`)\n\n"
        + _table(["command", "seconds", "÷ bare click import", "peak RSS MiB"], rows)
        + f"\n\nImport of a {r['file_rows']}-row file: the sandbox (already running, own process) gets the "
        f"first request **{r['first_request_s']} s** after the process is spawned (aim: 0.4 s + the file "
        f"read, {r['file_read_s']} s = {r['first_request_aim_s']} s); the whole import takes "
        f"{r['import_process_s']} s. The file read is `polars.read_csv` in a fresh process minus "
        "`python -c pass`.\n"
    )


def changed_only(r: dict[str, Any]) -> str:
    c, p, u, f = r["changed_only"], r["plain_scaled"], r["undo"], r["file"]
    rows = [
        [
            "`--changed-only`",
            f"{c['requests']:,}",
            f"{c['reads']:,}",
            f"{c['writes']:,}",
            c["seconds"],
            c.get("cpu_seconds", ""),
        ],
        [
            f"plain re-import (scaled from {p['scaled_from_rows']:,} rows)",
            f"{p['requests']:,}",
            f"{p['reads']:,}",
            f"{p['writes']:,}",
            p["seconds"],
            "",
        ],
    ]
    writes_ok = "=" if c["writes"] == r["writes_expected"] else "≠"
    reads_ok = "≤" if c["reads"] <= r["read_budget"] else ">"
    aim = "meets" if r["speedup"] >= 30 else "misses"
    return (
        f"### Re-import of {f['rows']:,} users: {f['changed']:,} changed, {f['new']:,} new "
        f"({r['latency_ms']} ms)\n\n"
        + _table(["run", "requests", "reads", "writes", "seconds", "CPU s"], rows)
        + f"\n\nWrites {c['writes']:,} {writes_ok} changed + new ({r['writes_expected']:,}); reads "
        f"{c['reads']:,} {reads_ok} the budget of 1.5 list pages per 1,000 rows + 20 ({r['read_budget']:,}); "
        f"**{r['speedup']}×** less wall time than the plain re-import ({aim} the 30× aim; the plain run was "
        f"measured on {p['scaled_from_rows']:,} rows, {r['plain_subset']['seconds']} s and "
        f"{r['plain_subset']['requests']:,} requests, and scaled linearly: one write per row at the rate). "
        f"Undo of that {u['rows']:,}-row run: {u['seconds']} s, {u['requests']:,} requests "
        f"({u['writes']:,} writes, one per record the run changed; {u['reads']:,} reads: one list pass).\n"
    )


def shared_limit(r: dict[str, Any]) -> str:
    def spread(t: dict[str, Any]) -> str:
        return f"{t['share_spread']:.1%}"

    rows = [
        [
            f"one process, sharing {'on' if s['shared'] else 'off'}",
            s["requests_per_second"],
            "",
            s["busiest_sliding_second"],
            s["responses_429"],
            s["cpu_ms_per_request"],
        ]
        for s in r["single"]
    ]
    rows += [
        [
            f"three jobs, {t['board']}",
            t["together_requests_per_second"],
            f"{' / '.join(str(x) for x in t['per_job_requests_per_second'])} ({spread(t)} apart)",
            t["busiest_sliding_second"],
            t["responses_429"],
            " / ".join(str(x) for x in t["cpu_ms_per_request"]),
        ]
        for t in r["three"]
    ]
    head = [
        "jobs",
        "requests/s together",
        "per job while all run",
        "busiest second",
        "429s",
        "ms CPU/request",
    ]
    d, k = r["daily"], r["keeper"]
    return (
        f"### One key, many jobs: `--rate 200` each, {r['latency_ms']:g} ± {r['jitter_ms']:g} ms, "
        f"{r['rows_per_job']:,} rows per job\n\n"
        + _table(head, rows)
        + f"\n\nShared `--daily-limit {d['daily_limit']:,}` through Redis, three jobs needing "
        f"{d['rows_needed']:,} requests: {d['requests_before_pause']:,} sent, exit codes {d['exit_codes']}; "
        f"after the window frees (the counts moved a day back), `resume` exits {d['resume_exit_codes']} with "
        f"{d['rows_done_after_resume']:,} rows done. The share keeper costs {k['local_cpu_ms_per_tick']} ms "
        f"(state folder) / {k['redis_cpu_ms_per_tick']} ms (Redis) of CPU per board transaction, one tick "
        f"every {k['tick_seconds']:g} s"
        + (
            f"; a job alone on its key pays {k['alone_cpu_ms_per_second']} ms of CPU per second for its "
            "keeper (wake-ups and thread hops included)"
            if "alone_cpu_ms_per_second" in k
            else ""
        )
        + ".\n"
    )


def export_slices(r: dict[str, Any]) -> str:
    rows = [
        [m["mode"], m["seconds"], f"{m['records_per_second']:,}", m["cpu_seconds"], m["parts"], m["requests"],
         "yes" if m["complete"] else "NO"]
        for m in r["runs"]
    ]  # fmt: skip
    ranges = r.get("speedup_range", {})
    ratios = ", ".join(
        f"**{v}×** with {k} slices" + (f" ({ranges[k][0]}×–{ranges[k][1]}×)" if k in ranges else "")
        for k, v in r["speedups"].items()
    )
    runs = (
        f"the median of {r['repeats']} runs each, in rounds; their range in brackets"
        if "repeats" in r
        else ""
    )
    return (
        f"### Sliced cursors on a bulk-loaded tenant: {r['users']:,} users, {r['cluster']:.0%} created in "
        f"one hour, {r['latency_ms']:g} ± {r['jitter_ms']:g} ms per request\n\n"
        + _table(["run", "seconds", "records/s", "exporter CPU s", "parts", "requests", "all once"], rows)
        + f"\n\nWall time of one cursor ÷ sliced ({runs}): {ratios}.\n"
    )


def _ratio(median: float, bounds: list[float] | None) -> str:
    return f"{median}× ({bounds[0]}–{bounds[1]}×)" if bounds else f"{median}×"


def export_cpu(r: dict[str, Any]) -> str:
    floor = r["floor"]
    head = ["format", "CPU-µs/record", "× floor", "net of start-up µs", "× floor", "seconds", "peak RSS MiB"]
    rows = [
        [
            m["format"],
            m["cpu_us_per_record"],
            _ratio(m["times_floor"], m.get("times_floor_range")),
            m["cpu_us_per_record_net_of_startup"],
            _ratio(m["times_floor_net_of_startup"], m.get("times_floor_net_of_startup_range")),
            m["seconds"],
            m["peak_rss_mib"],
        ]
        for m in r["exports"]
    ]
    rounds = r.get("rounds")
    each = (
        f"each format exported {rounds} times, each export against the floor measured just before it "
        "(medians, the ratios' range in brackets)"
        if rounds
        else "one export per format"
    )
    text = (
        f"### 6c. Exporter CPU per record: {r['users']:,} users, no added latency\n\n"
        f"Polars floor on the same pages (read_json with the schema known, unnest, write_csv): "
        f"**{floor['cpu_us_per_record']} CPU-µs/record** (the median of "
        f"{len(floor.get('runs_cpu_seconds') or [1])} runs); {each}; the exporter's start-up "
        "(a one-user export, the median of three): "
        f"{r['startup_cpu_seconds']} CPU-s.\n\n" + _table(head, rows) + "\n"
    )
    published = {m["format"]: m for m in r.get("million_published", [])}
    if r.get("million"):
        head = ["1,000,000 users", "seconds", "records/s", "peak RSS MiB", "published s", "published RSS MiB"]
        rows = [
            [
                m["format"],
                m["seconds"],
                f"{m['records_per_second']:,}",
                m["peak_rss_mib"],
                published.get(m["format"], {}).get("seconds", "–"),
                published.get(m["format"], {}).get("peak_rss_mib", "–"),
            ]
            for m in r["million"]
        ]
        text += "\n" + _table(head, rows) + "\n"
    return text


SECTIONS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("import_rate", import_rate),
    ("requests_per_row", requests_per_row),
    ("validate", validate),
    ("export", export),
    ("adaptive", adaptive),
    ("optout", optout),
    ("startup", startup),
    ("export_cpu", export_cpu),
    ("writers", writers),
    ("read_xlsx", read_xlsx),
    ("sandbox_throughput", sandbox_throughput),
    ("changed_only", changed_only),
    ("shared_limit", shared_limit),
    ("export_slices", export_slices),
]


EXTRA_SECTIONS = (
    "export_cpu",
    "writers",
    "read_xlsx",
    "sandbox_throughput",
    "changed_only",
    "shared_limit",
    "export_slices",
)


def _modified(name: str, *, quick: bool) -> str:
    path = h.RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(path.stat().st_mtime))


def render(*, quick: bool) -> str:
    parts = [f"Machine: {machine()}.\n"]
    for name, section in SECTIONS:
        results = h.load(name, quick=quick)
        if results:
            when = results.get("when") or _modified(name, quick=quick)
            extra = name in EXTRA_SECTIONS
            note = f" with `python -m bench {name.replace('_', '-')}` (not part of `all`)" if extra else ""
            parts.append(f"{section(results)}\n_Measured {when}{note}._\n")
    return "\n".join(parts)


def update(*, quick: bool) -> None:
    """Replace the generated block of BENCHMARKS.md (a quick run never touches it)."""
    if quick:
        print(render(quick=True))
        return
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{render(quick=False)}\n{END}{tail}", encoding="utf-8")
