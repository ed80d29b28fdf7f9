"""`batchgs clean`: find and remove old run folders, which hold personal data (emails, names).

Only folders that are batchgs run folders (they hold the run's `journal.sqlite3`) are ever touched,
and only direct children of the runs root: a stray folder, a symlink or a file is left alone. A run
folder's age is its last activity: the newest modification time of the folder and its entries, so a
run resumed last week is not "30 days old" because it started a month ago. A folder whose run lock
(`journal.lock`) is held by a live batchgs process is never removed; the lock is taken before the
removal and held during it, so a `batchgs resume` cannot start on a folder half deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from batchgs.errors import BatchgsError, UsageError
from batchgs.reports.summary import SUMMARY_JSON
from batchgs.run.folder import LOCK_FILE
from batchgs.run.journal import JOURNAL_FILE, Journal

try:  # POSIX only; elsewhere no folder is ever seen as locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

DEFAULT_RUNS_ROOT = Path("batchgs-runs")
_SMALL = 1 << 20  # a validate summary.json is a few kilobytes
UNITS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$", re.IGNORECASE)

Verdict = Literal["remove", "recent", "in-use"]


def parse_duration(text: str) -> float:
    """Seconds in `30d`, `12h`, `2w` (hours, days, weeks; decimals allowed: `1.5d`)."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(
            f"--older-than {text!r} is not a duration",
            hint="give a number and a unit: 12h (hours), 30d (days) or 2w (weeks)",
        )
    seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise UsageError(f"--older-than {text!r} must be more than zero")
    return seconds


@dataclass(frozen=True)
class RunFolder:
    """One run folder under the runs root and what `clean` would do with it."""

    path: Path
    last_activity: float  # epoch seconds
    size_bytes: int
    verdict: Verdict

    def age_days(self, now: float | None = None) -> float:
        return ((time.time() if now is None else now) - self.last_activity) / 86_400


def is_run_folder(path: Path) -> bool:
    """A real folder (not a symlink) holding a batchgs journal, the reports of `batchgs validate`, or
    the plan of a dry run that left changes.csv (`import --changed-only --dry-run`, `undo --dry-run`)."""
    if not path.is_dir() or path.is_symlink():
        return False
    return (path / JOURNAL_FILE).is_file() or _journal_less_summary(path, ("validate", "plan")) is not None


def validation_summary(path: Path) -> dict[str, Any] | None:
    """The summary.json of a `batchgs validate` folder (kind "validate", no journal), else None."""
    return _journal_less_summary(path, ("validate",))


def plan_summary(path: Path) -> dict[str, Any] | None:
    """The summary.json of a dry run's plan folder (kind "plan": `import --changed-only --dry-run`,
    `undo --dry-run`; no journal), else None."""
    return _journal_less_summary(path, ("plan",))


def _journal_less_summary(path: Path, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    summary = path / SUMMARY_JSON
    if (path / JOURNAL_FILE).exists() or not summary.is_file() or summary.stat().st_size > _SMALL:
        return None
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") in kinds else None


def last_activity(path: Path) -> float:
    """Newest mtime of the folder and its direct entries (symlinks are not followed)."""
    newest = path.lstat().st_mtime
    with os.scandir(path) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """Try the run's lock without waiting: True (held until the block ends) or False (a live run
    holds it). A folder without a lock file has no running process (every run creates it first)."""
    lock = path / LOCK_FILE
    if fcntl is None or not lock.is_file():
        yield True
        return
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the flock


def scan(runs_root: Path, older_than: float, *, now: float | None = None) -> list[RunFolder]:
    """Every run folder directly under `runs_root`, oldest first, with its verdict."""
    now = time.time() if now is None else now
    if not runs_root.is_dir():
        return []
    found: list[RunFolder] = []
    for child in sorted(runs_root.iterdir()):
        if not is_run_folder(child):
            continue
        activity = last_activity(child)
        verdict: Verdict = "recent"
        if now - activity >= older_than:
            with run_lock(child) as free:
                verdict = "remove" if free else "in-use"
        found.append(RunFolder(child, activity, folder_size(child), verdict))
    found.sort(key=lambda f: f.last_activity)
    return found


def remove(folder: RunFolder) -> Verdict:
    """Delete one folder found by `scan`, rechecking the lock and holding it while deleting.
    Returns "remove" when it is gone, or "in-use" when a process took it meanwhile."""
    if not is_run_folder(folder.path):
        raise UsageError(f"{folder.path}: no longer a batchgs run folder; not removed")
    with run_lock(folder.path) as free:
        if not free:
            return "in-use"
        shutil.rmtree(folder.path)
    return "remove"


def discard_unconfirmed_run(run_dir: Path) -> bool:
    """Remove a run folder whose run was refused at its confirmation and sent nothing (status aborted,
    reason not-confirmed, no row answered by the API). Such a folder holds nothing worth keeping and
    would only block the same command with the same --run-dir. Anything else is left alone: False."""
    if not is_run_folder(run_dir):
        return False
    try:
        journal = Journal.open(run_dir)
    except BatchgsError:  # busy or unreadable: not ours to judge
        return False
    try:
        counts = journal.counts()
        unsent = counts.succeeded == counts.failed == counts.uncertain == 0
        refused = journal.status == "aborted" and journal.status_reason == "not-confirmed"
    finally:
        journal.close()
    if not (unsent and refused):
        return False
    shutil.rmtree(run_dir)
    return True
