"""Export writer speed: XLSX candidates for 100,000 rows x 12 typed columns, in constant memory.

Candidates (each gets the same flat records in 1,000-row batches, as the exporter hands pages over,
and does the same work: dates as date cells, ids as text cells with the `@` format, formula-like text
neutralised, a frozen header):
- batchgs: batchgs.io.write.xlsx_writer, the streaming SpreadsheetML writer, given Python rows (`write_batch`,
  which makes each batch a frame first; until issue 18 it wrote rows cell by cell in Python)
- batchgs-frames: the same writers given each batch as a Polars frame (`write_frame`, column-wise: what
  `batchgs export` uses, its pages being frames already; the frames are built before the timing)
- xlsxwriter {'constant_memory': True}
- openpyxl write-only (typed WriteOnlyCells for dates and ids)
- rvgsrust-xlsxwriter (rust_xlsxwriter, constant-memory worksheet, one Arrow batch per page)
- rustpy-xlsxwriter (rust_xlsxwriter, generator streaming of dicts)
- fastxlsx (Rust, write-only workbook)
The Rust-backed ones are not project dependencies: they are measured when importable (install them
in a scratch virtualenv that also sees the project) and reported as skipped otherwise.

Each candidate runs in its own process at N and 2N rows: seconds (the better of the N run and half the
2N run, as the machine may be busy), rows/s, and peak RSS above the process's RSS before writing
(flat from N to 2N = constant memory). A 2,000-row file from each is
then opened with openpyxl and with polars.read_excel (calamine) and checked: dates typed as dates,
ids as text with their leading zeros, booleans and numbers typed. The batchgs CSV, Parquet and JSONL
writers are measured too, for scale. Results: bench/results/writers.json.

    python -m bench.writers [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "writers.json"
BATCH = 1_000
COLUMNS = [
    "identifyId",
    "accountId",
    "email",
    "firstName",
    "lastName",
    "score",
    "numberOfVisits",
    "signUpDate",
    "lastSeenDate",
    "globalUnsubscribe",
    "location.city",
    "customAttributes.plan",
]
DATE_COLUMNS = {"signUpDate", "lastSeenDate"}
ID_COLUMNS = {"identifyId", "accountId"}
_EPOCH = dt.datetime(1970, 1, 1)

Batches = Callable[[], Iterator[list[dict[str, Any]]]]


def _pool(seed: int = 7) -> list[list[dict[str, Any]]]:
    """Ten distinct 1,000-row batches, cycled: generating data must cost neither time nor memory."""
    rng = random.Random(seed)
    firsts = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
    lasts = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
    cities = ["Paris", "London", "New York", "São Paulo", "Zürich", "Tokyo", "Bengaluru", "Austin"]
    plans = ["gold", "silver", "bronze", "trial", "enterprise", '=HYPERLINK("http://x")', "-"]
    base = 1_600_000_000_000
    pool = []
    for b in range(10):
        batch = []
        for i in range(BATCH):
            n = b * BATCH + i
            batch.append(
                {
                    "identifyId": f"user-{n:07d}",
                    "accountId": f"{n % 5000:06d}",
                    "email": f"{rng.choice(firsts).lower()}.{n}@example{n % 97}.com",
                    "firstName": rng.choice(firsts),
                    "lastName": rng.choice(lasts),
                    "score": round(rng.random() * 100, 2),
                    "numberOfVisits": rng.randint(0, 5000),
                    "signUpDate": base + rng.randint(0, 10**11),
                    "lastSeenDate": base + rng.randint(0, 10**11) if n % 10 else None,
                    "globalUnsubscribe": rng.random() < 0.1,
                    "location.city": rng.choice(cities),
                    "customAttributes.plan": rng.choice(plans),
                }
            )
        pool.append(batch)
    return pool


def batches(rows: int) -> Batches:
    pool = _pool()

    def gen() -> Iterator[list[dict[str, Any]]]:
        for k in range(0, rows, BATCH):
            yield pool[(k // BATCH) % len(pool)][: min(BATCH, rows - k)]

    return gen


def _as_datetime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else _EPOCH + dt.timedelta(milliseconds=ms)


# -- candidates ------------------------------------------------------------------------------------


def write_batchgs(path: Path, source: Batches) -> None:
    from batchgs.io.write.formats import open_writer

    with open_writer(path, COLUMNS, date_columns=DATE_COLUMNS, id_columns=ID_COLUMNS, force=True) as out:
        for batch in source():
            out.write_batch(batch)


_FRAMES: list[Any] = []


def _frames() -> list[Any]:
    """The pool's batches as Polars frames, built once (before the timed call: the warm-up makes them),
    as the exporter gets its pages: flat frames read from the spool, no Python rows."""
    if not _FRAMES:
        from batchgs.io.pages import frame_from_rows

        _FRAMES.extend(frame_from_rows(batch) for batch in _pool())
    return _FRAMES


def write_batchgs_frames(path: Path, source: Batches) -> None:
    """batchgs's column-wise path (`write_frame`): what `batchgs export` uses since issue 18."""
    from batchgs.io.write.formats import open_writer

    frames = _frames()
    with open_writer(path, COLUMNS, date_columns=DATE_COLUMNS, id_columns=ID_COLUMNS, force=True) as out:
        for k, batch in enumerate(source()):
            out.write_frame(frames[k % len(frames)].head(len(batch)))


def write_xlsxwriter(path: Path, source: Batches) -> None:
    import xlsxwriter

    from batchgs.io.write.safe_cells import neutralise

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet()
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
    text_fmt = wb.add_format({"num_format": "@"})
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, COLUMNS, wb.add_format({"bold": True}))
    r = 1
    for batch in source():
        for rec in batch:
            for c, name in enumerate(COLUMNS):
                v = rec.get(name)
                if v is None:
                    continue
                if name in DATE_COLUMNS:
                    ws.write_datetime(r, c, _as_datetime(v), date_fmt)
                elif name in ID_COLUMNS:
                    ws.write_string(r, c, neutralise(v), text_fmt)
                elif isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, int | float):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, neutralise(v))
            r += 1
    wb.close()


def write_openpyxl(path: Path, source: Batches) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from batchgs.io.write.safe_cells import neutralise

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    ws.freeze_panes = "A2"
    header = []
    for name in COLUMNS:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for batch in source():
        for rec in batch:
            row: list[Any] = []
            for name in COLUMNS:
                v = rec.get(name)
                if v is None:
                    row.append(None)
                elif name in DATE_COLUMNS:
                    cell = WriteOnlyCell(ws, value=_as_datetime(v))
                    cell.number_format = "yyyy-mm-dd hh:mm:ss.000"
                    row.append(cell)
                elif name in ID_COLUMNS:
                    cell = WriteOnlyCell(ws, value=neutralise(v))
                    cell.number_format = "@"
                    row.append(cell)
                else:
                    row.append(neutralise(v) if isinstance(v, str) else v)
            ws.append(row)
    wb.save(path)


def write_rvgsrust(path: Path, source: Batches) -> None:
    import pyarrow as pa
    import rvgsrust_xlsxwriter as rx

    from batchgs.io.write.safe_cells import neutralise

    wb = rx.Workbook()
    ws = wb.add_worksheet("Sheet1", constant_memory=True)
    text_fmt = wb.add_format()
    text_fmt.set_num_format("@")
    date_fmt = wb.add_format()
    date_fmt.set_num_format("yyyy-mm-dd hh:mm:ss.000")
    header_fmt = wb.add_format()
    header_fmt.set_bold()
    formats = {name: text_fmt for name in ID_COLUMNS} | {name: date_fmt for name in DATE_COLUMNS}
    types = {
        "score": pa.float64(),
        "numberOfVisits": pa.int64(),
        "globalUnsubscribe": pa.bool_(),
    } | {name: pa.timestamp("ms") for name in DATE_COLUMNS}
    ws.freeze_panes(1, 0)
    r = 0
    for batch in source():
        arrays = []
        for name in COLUMNS:
            values = [rec.get(name) for rec in batch]
            typ = types.get(name, pa.string())
            if typ == pa.string():
                values = [None if v is None else neutralise(v) for v in values]
            arrays.append(pa.array(values, type=typ))
        table = pa.Table.from_arrays(arrays, names=COLUMNS)
        ws.write_dataframe(r, 0, table, header_format=header_fmt, write_header=r == 0, column_formats=formats)
        r += len(batch) + (1 if r == 0 else 0)
    wb.close(str(path))


def write_rustpy(path: Path, source: Batches) -> None:
    import rustpy_xlsxwriter as rp

    from batchgs.io.write.safe_cells import neutralise

    text_fmt = rp.Format()
    text_fmt.set_num_format("@")

    def records() -> Iterator[dict[str, Any]]:
        for batch in source():
            for rec in batch:
                out: dict[str, Any] = {}
                for name in COLUMNS:
                    v = rec.get(name)
                    if name in DATE_COLUMNS:
                        v = _as_datetime(v)
                    elif isinstance(v, str):
                        v = neutralise(v)
                    out[name] = v
                yield out

    (
        rp.FastExcel(str(path))
        .format(datetime_format="yyyy-mm-dd hh:mm:ss.000", bold_headers=True)
        .freeze(row=1)
        .sheet("Sheet1", records(), column_formats={name: text_fmt for name in ID_COLUMNS})
        .save()
    )


def write_fastxlsx(path: Path, source: Batches) -> None:
    import fastxlsx

    from batchgs.io.write.safe_cells import neutralise

    wb = fastxlsx.WriteOnlyWorkbook()
    ws = wb.create_sheet("Sheet1")
    ws.write_row((0, 0), COLUMNS)
    r = 1
    for batch in source():
        rows = []
        for rec in batch:
            row: list[Any] = []
            for name in COLUMNS:
                v = rec.get(name)
                if name in DATE_COLUMNS:
                    v = _as_datetime(v)
                elif isinstance(v, str):
                    v = neutralise(v)
                row.append(v)
            rows.append(row)
        ws.write_matrix((r, 0), rows)
        r += len(rows)
    wb.save(str(path))


def _write_batchgs_format(suffix: str, frames: bool = False) -> Callable[[Path, Batches], None]:
    def write(path: Path, source: Batches) -> None:
        (write_batchgs_frames if frames else write_batchgs)(path.with_suffix(suffix), source)

    return write


CANDIDATES: dict[str, tuple[Callable[[Path, Batches], None], str | None]] = {
    "batchgs-xlsx": (write_batchgs, None),
    "xlsxwriter-constant-memory": (write_xlsxwriter, "xlsxwriter"),
    "openpyxl-write-only": (write_openpyxl, "openpyxl"),
    "rvgsrust-xlsxwriter": (write_rvgsrust, "rvgsrust_xlsxwriter"),
    "rustpy-xlsxwriter": (write_rustpy, "rustpy_xlsxwriter"),
    "fastxlsx": (write_fastxlsx, "fastxlsx"),
    "batchgs-csv": (_write_batchgs_format(".csv"), None),
    "batchgs-parquet": (_write_batchgs_format(".parquet"), None),
    "batchgs-jsonl": (_write_batchgs_format(".jsonl"), None),
    "batchgs-frames-xlsx": (write_batchgs_frames, None),
    "batchgs-frames-csv": (_write_batchgs_format(".csv", frames=True), None),
    "batchgs-frames-parquet": (_write_batchgs_format(".parquet", frames=True), None),
    "batchgs-frames-jsonl": (_write_batchgs_format(".jsonl", frames=True), None),
}


# -- measuring -------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, the peak RSS, so imports and warm-up don't count."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def child(name: str, rows: int, out: Path) -> dict[str, Any]:
    """Run in a fresh process: one candidate, one size."""
    func, _ = CANDIDATES[name]
    source = batches(rows)
    func(out.with_name("warm" + out.suffix), batches(BATCH))  # imports and first-call costs
    gc.collect()
    _reset_peak_rss()
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    func(out, source)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    written = [p for p in out.parent.iterdir() if p.stem == out.stem]
    return {
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "peak_rss_above_start_mib": round(max(0, peak - before) / 1024, 1),
        "bytes": sum(p.stat().st_size for p in written),
    }


def _run_child(name: str, rows: int, folder: Path) -> dict[str, Any]:
    out = folder / f"{name}-{rows}.xlsx"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.writers", "--child", name, "--rows", str(rows), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _formulas_guarded(path: Path) -> bool:
    """Formula-like text is either shown with a leading `'` or kept exact in a cell with the
    quotePrefix style (what batchgs's XLSX writer does: Excel keeps it text when edited)."""
    import openpyxl

    from batchgs.io.write.safe_cells import is_formula_like

    sheet = openpyxl.load_workbook(path).worksheets[0]
    column = COLUMNS.index("customAttributes.plan") + 1
    cells = [row[0] for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column)]
    risky = [c for c in cells if isinstance(c.value, str) and is_formula_like(c.value)]
    return all(c.quotePrefix for c in risky)


def check_valid(name: str, folder: Path) -> dict[str, Any]:
    """Open a 2,000-row file with openpyxl and calamine; are the cells typed as they should be?"""
    import openpyxl
    import polars as pl

    func, _ = CANDIDATES[name]
    path = folder / f"check-{name}.xlsx"
    func(path, batches(2_000))
    problems: list[str] = []
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(min_row=1, max_row=3, values_only=True))
    header, first = rows[0], rows[1]
    if list(header) != COLUMNS:
        problems.append(f"openpyxl header {header}")
    by_name = dict(zip(COLUMNS, first, strict=False))
    if not isinstance(by_name["signUpDate"], dt.datetime):
        problems.append(f"openpyxl: signUpDate is {type(by_name['signUpDate']).__name__}")
    if by_name["accountId"] != "000000":
        problems.append(f"openpyxl: accountId is {by_name['accountId']!r}")
    if by_name["globalUnsubscribe"] not in (True, False):
        problems.append(f"openpyxl: globalUnsubscribe is {by_name['globalUnsubscribe']!r}")
    wb.close()
    df = pl.read_excel(path, engine="calamine")
    schema = df.schema
    if df.height != 2_000:
        problems.append(f"calamine: {df.height} rows")
    for col, want in (
        ("signUpDate", pl.Datetime),
        ("accountId", pl.String),
        ("globalUnsubscribe", pl.Boolean),
    ):
        if not isinstance(schema[col], want) and schema[col] != want:
            problems.append(f"calamine: {col} is {schema[col]}")
    for col in ("score", "numberOfVisits"):
        if not schema[col].is_numeric():
            problems.append(f"calamine: {col} is {schema[col]}")
    expected = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=_pool()[0][0]["signUpDate"])
    got = df["signUpDate"][0]
    if isinstance(got, dt.datetime) and abs((got - expected).total_seconds()) > 0.001:
        problems.append(f"calamine: signUpDate {got} != {expected}")
    if not _formulas_guarded(path):
        problems.append("formula-like text not neutralised")
    return {"valid": not problems, "problems": problems}


def run(quick: bool = False) -> dict[str, Any]:
    rows = 20_000 if quick else 100_000
    results: dict[str, Any] = {"rows": rows, "columns": len(COLUMNS), "batch": BATCH, "candidates": {}}
    with tempfile.TemporaryDirectory(prefix="batchgs-bench-") as tmp:
        folder = Path(tmp)
        for name, (_, module) in CANDIDATES.items():
            if module and importlib.util.find_spec(module) is None:
                results["candidates"][name] = {"skipped": f"{module} is not installed"}
                continue
            entry = _run_child(name, rows, folder)
            if "error" not in entry:
                double = _run_child(name, 2 * rows, folder)
                entry["peak_rss_above_start_mib_at_2n"] = double.get("peak_rss_above_start_mib")
                entry["seconds_at_2n"] = double.get("seconds")
                if double.get("seconds"):  # a busy machine: keep the better of the two rates
                    entry["seconds"] = round(min(entry["seconds"], double["seconds"] / 2), 3)
                    entry["rows_per_second"] = round(rows / entry["seconds"])
            if name.endswith("-xlsx") or not name.startswith("batchgs"):
                try:
                    entry.update(check_valid(name, folder))
                except Exception as exc:  # a candidate that writes unreadable files is a result too
                    entry.update({"valid": False, "problems": [f"{type(exc).__name__}: {exc}"]})
            results["candidates"][name] = entry
            for p in folder.iterdir():
                p.unlink()
    base = results["candidates"].get("xlsxwriter-constant-memory", {}).get("seconds")
    for entry in results["candidates"].values():
        if base and "seconds" in entry:
            entry["speedup_vs_xlsxwriter"] = round(base / entry["seconds"], 2)
    results["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    target = RESULTS.with_name(f"{RESULTS.stem}-quick.json") if quick else RESULTS  # never over full figures
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"{results['rows']:,} rows x {results['columns']} columns, {results['batch']:,}-row batches")
    print(f"{'writer':28} {'seconds':>8} {'rows/s':>9} {'x xlsxw':>8} {'RSS MiB':>8} {'@2N':>6} valid")
    for name, e in results["candidates"].items():
        if "seconds" not in e:
            print(f"{name:28} {e.get('skipped') or e.get('error')}")
            continue
        valid = "" if "valid" not in e else ("yes" if e["valid"] else "NO: " + "; ".join(e["problems"]))
        speedup = e.get("speedup_vs_xlsxwriter", 0)
        rss, rss_2n = e["peak_rss_above_start_mib"], e.get("peak_rss_above_start_mib_at_2n") or 0
        timing = f"{e['seconds']:8.2f} {e['rows_per_second']:9,} {speedup:8.2f}"
        print(f"{name:28} {timing} {rss:8.1f} {rss_2n:6.1f} {valid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.out)))
        return
    _print(run(quick=args.quick))


if __name__ == "__main__":
    main()
