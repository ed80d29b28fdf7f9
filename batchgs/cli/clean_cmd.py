"""`batchgs clean --older-than 30d`: remove old run folders, which hold personal data.

Only batchgs run folders (with a journal) directly under --runs-root are considered; a folder a
running batchgs process holds is skipped and named. `--dry-run` lists what would go; without `--yes`
an interactive terminal is asked once, and a script must pass `--yes`.
Exit 0 when every old folder was removed (or listed), 1 when some were in use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from batchgs.cli.common import emit_json
from batchgs.errors import ExitCode, UsageError
from batchgs.run.cleanup import DEFAULT_RUNS_ROOT, RunFolder, parse_duration, remove, scan


@click.command("clean")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="Remove run folders with no activity for AGE: 12h, 30d, 2w.",
)
@click.option(
    "--runs-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_RUNS_ROOT,
    show_default=True,
    help="Folder holding the run folders.",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout.")
def command(older_than: str, runs_root: Path, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Remove batchgs run folders under --runs-root not touched for --older-than.

    Run folders hold the rows' emails and names (errors.csv, the journal): keep them only as long as
    you need them. Folders that are not batchgs run folders, and runs still in progress, are kept.
    """
    age = parse_duration(older_than)
    folders = scan(runs_root, age)
    old = [f for f in folders if f.verdict == "remove"]
    busy = [f for f in folders if f.verdict == "in-use"]
    removed: list[RunFolder] = []
    if old and not dry_run:
        _confirm(old, runs_root, yes=yes)
        for folder in old:
            if remove(folder) == "remove":
                removed.append(folder)
            else:
                busy.append(folder)
    _report(runs_root, older_than, folders, old, removed, busy, dry_run=dry_run, as_json=as_json)
    sys.exit(int(ExitCode.ROWS_FAILED if busy else ExitCode.OK))


def _confirm(old: list[RunFolder], runs_root: Path, *, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"this would remove {len(old)} run folder(s) under {runs_root} and needs confirmation",
            hint="add --yes to confirm without a prompt, or --dry-run to list them",
        )
    for folder in old:
        click.echo(f"  {folder.path}  ({folder.age_days():.0f} days)", err=True)
    if not click.confirm(f"Remove these {len(old)} run folder(s)?", default=False, err=True):
        raise UsageError("not confirmed: nothing was removed")


def _report(
    runs_root: Path,
    older_than: str,
    folders: list[RunFolder],
    old: list[RunFolder],
    removed: list[RunFolder],
    busy: list[RunFolder],
    *,
    dry_run: bool,
    as_json: bool,
) -> None:
    kept = len(folders) - len(old) - len(busy)
    if as_json:
        data: dict[str, Any] = {
            "runs_root": str(runs_root),
            "older_than": older_than,
            "dry_run": dry_run,
            "would_remove" if dry_run else "removed": [str(f.path) for f in (old if dry_run else removed)],
            "in_use": [str(f.path) for f in busy],
            "kept_recent": kept,
            "bytes_freed": 0 if dry_run else sum(f.size_bytes for f in removed),
        }
        emit_json(data)
        return
    verb = "would remove" if dry_run else "removed"
    for folder in old if dry_run else removed:
        click.echo(f"{verb} {folder.path}  ({folder.age_days():.0f} days, {_size(folder.size_bytes)})")
    for folder in busy:
        click.echo(f"skipped {folder.path}: in use by a running batchgs process", err=True)
    count = len(old) if dry_run else len(removed)
    done = "would be removed" if dry_run else "removed"
    click.echo(
        f"{'Dry run: ' if dry_run else ''}{count} run folder(s) {done} under {runs_root} "
        f"(older than {older_than}); {kept} recent kept, {len(busy)} in use."
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover
