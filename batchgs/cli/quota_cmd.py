"""`batchgs quota`: requests used and left in the rolling 24 hours per API key (by fingerprint), and the
jobs sharing each key right now with their shares of its rate — from the state folder, or from the
coordinator (`BATCHGS_COORDINATOR`) when one is configured."""

from __future__ import annotations

import time
from typing import Any

import click

from batchgs.cli.common import emit_json, settings_from
from batchgs.transport.coordination import PoolFigures, describe_coordinator, pool_figures
from batchgs.transport.share import BoardView


@click.command("quota")
@click.option(
    "--state-dir", type=click.Path(file_okay=False), help="Folder of the ledger (env BATCHGS_STATE_DIR)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def command(ctx: click.Context, state_dir: str | None, as_json: bool) -> None:
    """Requests used and left in the rolling 24 hours, and the jobs sharing each key now.

    Keys are shown by fingerprint (a hash), never in clear. Every batchgs process on the machine
    counts into the same ledger and shares the key's rate; with BATCHGS_COORDINATOR (Redis) every
    machine does.
    """
    settings = settings_from(ctx, state_dir=state_dir)
    own = settings.px_api_key.fingerprint() if settings.px_api_key else None
    rows = [_row(figures, own) for figures in pool_figures(settings)]
    source = (
        describe_coordinator(settings.coordinator.url) if settings.coordinator else str(settings.state_dir)
    )
    if as_json:
        emit_json({"state_dir": str(settings.state_dir), "source": source, "keys": rows})
        return
    if not rows:
        click.echo(f"No requests recorded in the last 24 hours ({source}).")
        return
    click.echo(f"{'api':<4} {'key':<14} {'used':>10} {'left':>10} {'limit':>10}  oldest request frees at")
    for row in rows:
        mark = "*" if row["current_key"] else " "
        used, left, limit = (_count(row[k]) for k in ("used", "left", "daily_limit"))
        click.echo(
            f"{row['api']:<4} {row['key_fingerprint']}{mark} {used:>10} {left:>10} {limit:>10}  "
            f"{row['next_free_at'] or '-'}"
        )
        jobs = row["jobs"]
        if jobs:
            unit = "s" if row["window_s"] == 1 else f"{row['window_s']:g} s"
            click.echo(f"     {len(jobs)} job(s) running, sharing {row['key_rate']} requests/{unit}:")
            for job in jobs:
                click.echo(
                    f"       {job['share']:>5}/{unit} of {job['wants']:<5} {job['host']} pid {job['pid']}  "
                    f"{job['run'] or '-'}"
                )
    if any(row["current_key"] for row in rows):
        click.echo("* the key this shell uses (GAINSIGHT_PX_API_KEY or the profile's); others: other keys")


def _row(figures: PoolFigures, own: str | None) -> dict[str, Any]:
    board = figures.board
    return {
        "api": figures.scope,
        "key_fingerprint": figures.fingerprint[:12],
        "base_url": figures.base_url,
        "current_key": figures.fingerprint == own,
        "used": figures.used,
        "left": None
        if figures.used is None or figures.daily_limit is None
        else max(0, figures.daily_limit - figures.used),
        "daily_limit": figures.daily_limit,
        "next_free_at": _iso(figures.next_free_at),
        "key_rate": board.capacity if board else None,
        "window_s": board.window if board else None,
        "jobs": _jobs(board),
    }


def _jobs(board: BoardView | None) -> list[dict[str, Any]]:
    if board is None:
        return []
    return [
        {"host": job.host, "pid": job.pid, "run": job.label, "share": job.limit, "wants": job.want}
        for job in board.jobs
        if not job.ending
    ]


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _iso(epoch: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else None
