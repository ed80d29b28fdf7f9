"""The evidence of an opt-out run: receipt.csv, pending.csv and receipt.json in the run folder.

All three are rebuilt from the plan and the journal at the end of every segment (written to a temp
file, fsynced, renamed; 0600), so after any stop they say exactly what the journal knows.

receipt.csv — one line per input row and user (an email shared by two users gives two lines):
row, identifyId, email, each preference before/after, denylist and unsubscribe before/after, what
changed, status (opted-out, already-opted-out, not-found, failed, invalid; pending while a run is
paused), message, time. Every cell is neutralised against spreadsheet formula injection.
pending.csv — each person still to do, once, as `identifyId,email,_row`: not found yet (pass the file
again once they exist) or not reached by a paused run (resume finishes them).
receipt.json — who ran it (OS user, host), with what (batchgs version, base URL/region, options),
when (start, end), on what (input name, size, SHA-256), the counts (people per status, adding up to
`people`: the people the list names, an email shared by two PX users being one person; rows, PX user
records and receipt lines as secondary figures; `records` per status), and the SHA-256 of receipt.csv
and pending.csv so that a later edit of either is detectable. No credential is ever written.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchgs._version import __version__
from batchgs.config import PX_REGIONS
from batchgs.engine.optout.actions import PREFERENCE_NAMES, OptOutOptions, UserState
from batchgs.engine.optout.plan import OptOutPlan, Target, count_records, load_plan, person_statuses
from batchgs.engine.optout.user import IN_FLIGHT, UserResult, from_outcome
from batchgs.io.write.safe_cells import neutralise
from batchgs.run.folder import atomic_text_writer, fingerprint_file
from batchgs.run.journal import Journal

RECEIPT_CSV = "receipt.csv"
RECEIPT_JSON = "receipt.json"
PENDING_CSV = "pending.csv"
RECEIPT_STATUSES = ("opted-out", "already-opted-out", "not-found", "failed", "invalid", "pending")
RECEIPT_COLUMNS = (
    "row",
    "identifyId",
    "email",
    *(f"{name}_{when}" for name in PREFERENCE_NAMES for when in ("before", "after")),
    "denylist_before",
    "denylist_after",
    "unsubscribe_before",
    "unsubscribe_after",
    "changed",
    "status",
    "message",
    "time",
)
PENDING_COLUMNS = ("identifyId", "email", "_row")
TO_PASS_AGAIN = ("not-found", "pending")  # the people pending.csv lists
RECORD_STATUSES = ("opted-out", "already-opted-out", "failed", "pending")  # what a PX user record can be


@dataclass
class ReceiptFiles:
    receipt_csv: Path
    receipt_json: Path
    pending_csv: Path | None
    tally: Tally

    @property
    def counts(self) -> dict[str, int]:
        return self.tally.counts


def _flag(value: bool | None, *, unset: str = "") -> str:
    if value is None:
        return unset
    return "true" if value else "false"


def _state_cells(state: UserState | None) -> tuple[list[str], str, str]:
    if state is None:
        return [""] * len(PREFERENCE_NAMES), "", ""
    prefs = [_flag(state.prefs.get(name), unset="unset") for name in PREFERENCE_NAMES]
    return prefs, _flag(state.denied), _flag(state.unsubscribed)


def receipt_status(target: Target, result: UserResult | None) -> str:
    if result is None or result.status == IN_FLIGHT:
        return "pending"
    if result.status in RECEIPT_STATUSES:
        return result.status
    return "failed"


def receipt_line(target: Target, result: UserResult | None) -> list[str]:
    before, after = (result.before, result.after) if result is not None else (None, None)
    b_prefs, b_denied, b_unsub = _state_cells(before)
    a_prefs, a_denied, a_unsub = _state_cells(after)
    status = receipt_status(target, result)
    message = result.message if result is not None and status != "pending" else ""
    notes = [target.note] if target.note else []
    if message and message not in notes:
        notes.append(message)
    cells = [str(target.row), target.identify_id, target.email]
    for b, a in zip(b_prefs, a_prefs, strict=True):
        cells += [b, a]
    cells += [b_denied, a_denied, b_unsub, a_unsub]
    changed = ";".join(result.changed) if result is not None and status == "opted-out" else ""
    time = result.time if result is not None and status != "pending" else ""
    return [*cells, changed, status, "; ".join(notes), time]


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    with atomic_text_writer(path) as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([neutralise(cell) for cell in row] for row in rows)


def region_of(base_url: str | None) -> str:
    url = (base_url or PX_REGIONS["us"]).rstrip("/")
    return next((name for name, host in PX_REGIONS.items() if host == url), "custom")


def operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the numeric user id still says who
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass
class Tally:
    """What the journal says of every target, counted the receipt's way."""

    lines: list[list[str]]  # receipt.csv, one per target
    counts: dict[str, int]  # people per status (adding up to `people`), rows, records, receipt_lines
    records: dict[str, int]  # PX user records per status
    pending: list[list[str]]  # pending.csv: one line per person not found yet or not reached
    failed_transient: int  # people failed only transiently (resume --retry-failed re-does them)


def tally(journal: Journal, plan: OptOutPlan) -> Tally:
    """Count PEOPLE per status (an email shared by two users is one person, two records; a person
    named twice counts once, with the most pressing status of their records)."""
    lines: list[list[str]] = []
    status_of: dict[int, str] = {}
    transient: set[int] = set()
    status_at = RECEIPT_COLUMNS.index("status")
    results = {o.row: o for o in journal.iter_outcomes()}
    for target in plan.targets:
        outcome = results.get(target.number)
        line = receipt_line(target, from_outcome(outcome) if outcome is not None else None)
        lines.append(line)
        status_of[target.number] = line[status_at]
        if outcome is not None and outcome.transient and line[status_at] == "failed":
            transient.add(target.number)
    people = person_statuses(plan, status_of)
    by_person = Counter(people.values())
    records = count_records(plan, status_of)
    pending: dict[int, list[str]] = {}
    for target in plan.targets:
        person = plan.person_of[target.number]
        wanted = people.get(person)
        if person not in pending and wanted in TO_PASS_AGAIN and status_of[target.number] == wanted:
            pending[person] = [target.identify_id, target.email, str(target.row)]
    counts = {
        "people": sum(by_person.values()),
        **{status: by_person.get(status, 0) for status in RECEIPT_STATUSES},
        "rows": plan.rows_total,
        "blank_rows": plan.blank_rows,
        "records": sum(records.values()),
        "receipt_lines": len(lines),
    }
    failed = {plan.person_of[n] for n in transient if people[plan.person_of[n]] == "failed"}
    return Tally(
        lines,
        counts,
        {status: records[status] for status in RECORD_STATUSES},
        list(pending.values()),
        len(failed),
    )


def people_fields(counted: Tally, summary: Mapping[str, Any]) -> dict[str, Any]:
    """An opt-out's summary fields, in PEOPLE with the receipt's statuses. The generic `rows_*` fields
    count the same people so that every figure a tool reads adds up to the receipt's: total = people,
    succeeded = opted-out + already-opted-out, failed = failed + not-found, invalid, pending; nothing
    is uncertain (an opt-out write is idempotent and is re-done on resume). `summary`: the generic
    summary, whose requests and duration give requests per person and people per second."""
    counts = counted.counts
    done = {name: counts[name] for name in ("opted-out", "already-opted-out") if counts[name]}
    answered = sum(done.values()) + counts["failed"] + counts["not-found"]
    requests, duration = int(summary.get("requests") or 0), float(summary.get("duration_seconds") or 0)
    return {
        "requests_per_row": round(requests / answered, 3) if answered else 0.0,  # per person answered
        "rows_per_second": round(answered / duration, 1) if duration > 0 else 0.0,
        "rows_total": counts["people"],
        "rows_invalid": counts["invalid"],
        "rows_succeeded": sum(done.values()),
        "rows_failed": counts["failed"] + counts["not-found"],
        "rows_failed_transient": counted.failed_transient,
        "rows_uncertain": 0,
        "rows_pending": counts["pending"],
        "operations": done,
        "input_rows": counts["rows"],
        "blank_rows": counts["blank_rows"],
        "people": counts["people"],
        "statuses": {k: counts[k] for k in RECEIPT_STATUSES if counts.get(k)},
        "records": counted.records,
        "receipt": counts,
    }


def optout_status(journal: Journal, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """people_fields of a run from its journal alone (for `batchgs status`); None before a plan."""
    plan = load_plan(journal)
    return None if plan is None else people_fields(tally(journal, plan), summary)


def write_receipt_files(journal: Journal, plan: OptOutPlan, options: OptOutOptions) -> ReceiptFiles:
    """receipt.csv (one line per target), pending.csv (each person still to do once: not found yet, or
    not reached by a paused run) and receipt.json whose counts are PEOPLE per status: they add up to
    `people`, and `not-found` + `pending` is the number of lines of pending.csv. `records` counts the
    PX users behind them (an email shared by two users is one person, two records)."""
    run_dir = journal.run_dir
    counted = tally(journal, plan)
    receipt_csv = run_dir / RECEIPT_CSV
    _write_csv(receipt_csv, RECEIPT_COLUMNS, counted.lines)
    pending_csv: Path | None = run_dir / PENDING_CSV
    assert pending_csv is not None
    if counted.pending:
        _write_csv(pending_csv, PENDING_COLUMNS, counted.pending)
    else:
        pending_csv.unlink(missing_ok=True)
        pending_csv = None
    receipt_json = run_dir / RECEIPT_JSON
    document = _receipt_document(
        journal, options, counted.counts, receipt_csv, pending_csv, len(counted.pending)
    )
    _write_json(receipt_json, {**document, "records": counted.records})
    return ReceiptFiles(receipt_csv, receipt_json, pending_csv, counted)


def _file_entry(path: Path | None, lines: int) -> dict[str, Any] | None:
    if path is None:
        return None
    fingerprint = fingerprint_file(path)
    return {"file": path.name, "sha256": fingerprint.sha256, "size": fingerprint.size, "lines": lines}


def _pending_entry(path: Path | None, lines: int) -> dict[str, Any] | None:
    entry = _file_entry(path, lines)
    return None if entry is None else {**entry, "holds": list(TO_PASS_AGAIN)}


def _receipt_document(
    journal: Journal,
    options: OptOutOptions,
    counts: dict[str, int],
    receipt_csv: Path,
    pending_csv: Path | None,
    pending_lines: int,
) -> dict[str, Any]:
    meta = journal.meta
    fingerprint = meta.input_fingerprint
    input_path = Path(meta.input_path) if meta.input_path else None
    status = journal.status
    return {
        "kind": "batchgs-optout-receipt",
        "receipt_version": 1,
        "status": status,
        "complete": status == "completed" and counts.get("pending", 0) == 0,
        "input": {
            "file": input_path.name if input_path else None,
            "path": str(input_path) if input_path else None,
            "size": fingerprint.size if fingerprint else None,
            "sha256": fingerprint.sha256 if fingerprint else None,
        },
        "operator": operator(),
        "host": socket.gethostname(),
        "batchgs_version": __version__,
        "run_batchgs_version": meta.batchgs_version,
        "base_url": (options.base_url or PX_REGIONS["us"]).rstrip("/"),
        "region": region_of(options.base_url),
        "started_at": journal.started_at,
        "finished_at": journal.finished_at,
        "changes": {
            "preferences_off": list(options.only),
            "denylist": options.denylist,
            "unsubscribe_email": options.unsubscribe,
            "description": options.describe(),
        },
        "counts": counts,
        "receipt_csv": _file_entry(receipt_csv, counts["receipt_lines"]),
        "pending_csv": _pending_entry(pending_csv, pending_lines),
        "run_dir": str(journal.run_dir),
    }


def _write_json(path: Path, document: dict[str, Any]) -> None:
    with atomic_text_writer(path) as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
