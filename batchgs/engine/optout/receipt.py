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
`people`; rows and receipt lines as secondary figures), and the SHA-256 of receipt.csv
and pending.csv so that a later edit of either is detectable. No credential is ever written.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchgs._version import __version__
from batchgs.config import PX_REGIONS
from batchgs.engine.optout.actions import PREFERENCE_NAMES, OptOutOptions, UserState
from batchgs.engine.optout.plan import Plan, Target, count_people, person_key
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


@dataclass
class ReceiptFiles:
    receipt_csv: Path
    receipt_json: Path
    pending_csv: Path | None
    counts: dict[str, int] = field(default_factory=dict)


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


def iter_lines(journal: Journal, plan: Plan) -> Iterator[tuple[Target, list[str]]]:
    results = {o.row: from_outcome(o) for o in journal.iter_outcomes()}
    for target in plan.targets:
        yield target, receipt_line(target, results.get(target.number))


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


def write_receipt_files(journal: Journal, plan: Plan, options: OptOutOptions) -> ReceiptFiles:
    """receipt.csv (one line per target), pending.csv (each person still to do once: not found yet, or
    not reached by a paused run) and receipt.json whose counts are PEOPLE per status: they add up to
    `people`, and `not-found` + `pending` is the number of lines of pending.csv."""
    run_dir = journal.run_dir
    lines: list[list[str]] = []
    statuses: list[tuple[Target, str]] = []
    pending: dict[tuple[str, str], list[str]] = {}
    status_at = RECEIPT_COLUMNS.index("status")
    for target, line in iter_lines(journal, plan):
        lines.append(line)
        statuses.append((target, line[status_at]))
    by_person = count_people(statuses)
    first_status: dict[tuple[str, str], str] = {}
    for target, status in statuses:
        key = person_key(target)
        if first_status.setdefault(key, status) in TO_PASS_AGAIN and key not in pending:
            pending[key] = [target.identify_id, target.email, str(target.row)]
    receipt_csv = run_dir / RECEIPT_CSV
    _write_csv(receipt_csv, RECEIPT_COLUMNS, lines)
    pending_csv: Path | None = run_dir / PENDING_CSV
    assert pending_csv is not None
    if pending:
        _write_csv(pending_csv, PENDING_COLUMNS, list(pending.values()))
    else:
        pending_csv.unlink(missing_ok=True)
        pending_csv = None
    summary_counts = {
        "people": sum(by_person.values()),
        **{status: by_person.get(status, 0) for status in RECEIPT_STATUSES},
        "rows": plan.rows_total,
        "blank_rows": plan.blank_rows,
        "receipt_lines": len(lines),
    }
    receipt_json = run_dir / RECEIPT_JSON
    _write_json(
        receipt_json,
        _receipt_document(journal, options, summary_counts, receipt_csv, pending_csv, len(pending)),
    )
    return ReceiptFiles(receipt_csv, receipt_json, pending_csv, summary_counts)


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
