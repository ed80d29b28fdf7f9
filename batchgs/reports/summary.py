"""summary.json (for machines, written atomically) and its few aligned lines for the terminal.

The fields of cli.md's run-folder table are always present: entity, input, status, rows_total,
rows_invalid, rows_succeeded, rows_failed, rows_uncertain, requests, responses_429, retries,
started_at, finished_at. Added: kind, run_dir, status_reason, rows_pending (not yet answered),
rows_failed_transient (part of rows_failed; resume re-sends them), rows_warned (rows with warnings,
listed in warnings.csv, sent as written), operations (succeeded rows per
operation), requests_per_row (requests / rows that were sent), duration_seconds (time spent running,
summed over resumes), rows_per_second (rows the API answered, per second: invalid rows, never sent, do
not count), batchgs_version. Runs with --changed-only add rows_unchanged, changes (rows per action) and
fields_most_changed; runs that keep before-images add before_images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchgs.errors import ExitCode
from batchgs.run.folder import atomic_text_writer
from batchgs.run.outcomes import PROBLEM_STATUSES, ROW_STATUSES

if TYPE_CHECKING:
    from batchgs.run.journal import Journal

SUMMARY_JSON = "summary.json"
ERRORS_CSV = "errors.csv"  # written by reports.row_reports; named here so `status` stays light


def build_summary(
    journal: Journal,
    *,
    rows_total: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary of a run from its journal. `rows_total`: data rows in the input (None: as recorded)."""
    meta = journal.meta
    counts = journal.counts()
    counters = journal.counters()
    total = counts.recorded if rows_total is None else rows_total
    sent = counts.succeeded + counts.failed + counts.uncertain
    answered = counts.recorded - counts.invalid
    requests = counters.get("requests", 0)
    duration = journal.active_seconds()
    summary: dict[str, Any] = {
        "entity": meta.entity,
        "kind": meta.kind,
        "input": meta.input_path,
        "run_dir": str(journal.run_dir),
        "status": journal.status,
        "status_reason": journal.status_reason,
        "rows_total": total,
        "rows_invalid": counts.invalid,
        "rows_succeeded": counts.succeeded,
        "rows_failed": counts.failed,
        "rows_failed_transient": counts.failed_transient,
        "rows_uncertain": counts.uncertain,
        "rows_pending": max(0, total - counts.recorded),
        "rows_warned": int(journal.get_progress("rows_warned", 0) or 0),  # sent as written, see warnings.csv
        "operations": journal.operation_counts(),
        "requests": requests,
        "responses_429": counters.get("responses_429", 0),
        "retries": counters.get("retries", 0),
        "requests_per_row": round(requests / sent, 3) if sent else 0.0,
        "started_at": journal.started_at,
        "finished_at": journal.finished_at,
        "duration_seconds": round(duration, 3),
        "rows_per_second": round(answered / duration, 1) if duration > 0 else 0.0,
        "batchgs_version": meta.batchgs_version,
    }
    if extra:
        summary.update(extra)
    return summary


def write_summary(run_dir: Path | str, summary: Mapping[str, Any]) -> Path:
    """Write summary.json atomically (temp file, fsync, rename; 0600): never seen half-written."""
    target = Path(run_dir) / SUMMARY_JSON
    with atomic_text_writer(target) as handle:
        json.dump(summary, handle, indent=2, ensure_ascii=False, default=str)
        handle.write("\n")
    return target


def human_summary(summary: Mapping[str, Any]) -> str:
    """A few aligned lines for the terminal; missing fields are left out, never invented."""
    lines: list[tuple[str, str]] = []
    if summary.get("run_dir"):
        lines.append(("Run folder", str(summary["run_dir"])))
    if summary.get("entity"):
        kind = f" ({summary['kind']})" if summary.get("kind") else ""
        lines.append(("Entity", f"{summary['entity']}{kind}"))
    if summary.get("input"):
        lines.append(("Input", str(summary["input"])))
    if summary.get("status"):
        reason = f" — {summary['status_reason']}" if summary.get("status_reason") else ""
        lines.append(("Status", f"{summary['status']}{reason}"))
    if "rows_total" in summary:
        parts = [f"{_n(summary, 'rows_total')} total"]
        for name in (*ROW_STATUSES, "pending", "warned"):
            if f"rows_{name}" in summary and (name != "warned" or summary[f"rows_{name}"]):
                parts.append(f"{_n(summary, f'rows_{name}')} {name}")
        lines.append(("Rows", ", ".join(parts)))
    operations = summary.get("operations")
    errors = _errors_file(summary)
    if errors is not None:
        lines.append(("Errors", f"{errors} (fix the rows there and pass that file again)"))
    if operations:
        lines.append(
            ("Operations", ", ".join(f"{op or 'done'} {count:,}" for op, count in operations.items()))
        )
    changes = summary.get("changes")
    if isinstance(changes, Mapping):
        counts = [f"{action} {count:,}" for action, count in changes.items()]
        if "rows_unchanged" in summary:
            counts.append(f"unchanged {_n(summary, 'rows_unchanged')}")
        lines.append(("Changes", ", ".join(counts)))
        most = summary.get("fields_most_changed") or {}
        if most:
            lines.append(("Most changed", ", ".join(f"{name} {count:,}" for name, count in most.items())))
    if "requests" in summary:
        text = f"{_n(summary, 'requests')}"
        if summary.get("requests_per_row"):
            text += f" ({summary['requests_per_row']:.2f} per row)"
        text += f", {_n(summary, 'responses_429')} answered 429, {_n(summary, 'retries')} retries"
        lines.append(("Requests", text))
    if summary.get("duration_seconds") is not None:
        text = f"{float(summary['duration_seconds']):,.1f} s"
        if summary.get("rows_per_second"):
            text += f" ({float(summary['rows_per_second']):,.0f} rows/s)"
        lines.append(("Duration", text))
    width = max((len(label) for label, _ in lines), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in lines)


def _errors_file(summary: Mapping[str, Any]) -> Path | None:
    """The run folder's errors.csv when some row is in it (invalid, failed or uncertain)."""
    bad = sum(int(summary.get(f"rows_{name}") or 0) for name in PROBLEM_STATUSES)
    if not bad or not summary.get("run_dir"):
        return None
    path = Path(str(summary["run_dir"])) / ERRORS_CSV
    return path if path.is_file() else None


def _n(summary: Mapping[str, Any], name: str) -> str:
    value = summary.get(name)
    return f"{value:,}" if isinstance(value, int) else "0" if value is None else str(value)


def exit_code_for(summary: Mapping[str, Any]) -> int:
    """0 all good, 1 some rows invalid/failed/uncertain, 4 paused (the caller raises with a hint)."""
    if summary.get("status") == "paused":
        return int(ExitCode.RESUMABLE)
    bad = sum(int(summary.get(name) or 0) for name in ("rows_invalid", "rows_failed", "rows_uncertain"))
    return int(ExitCode.ROWS_FAILED) if bad else int(ExitCode.OK)
