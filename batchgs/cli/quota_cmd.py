"""`batchgs quota`: requests used and left in the rolling 24 hours, per API key (by fingerprint)."""

from __future__ import annotations

import time

import click

from batchgs.cli.common import emit_json, settings_from
from batchgs.transport.ledger import list_ledger_entries


@click.command("quota")
@click.option(
    "--state-dir", type=click.Path(file_okay=False), help="Folder of the ledger (env BATCHGS_STATE_DIR)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def command(ctx: click.Context, state_dir: str | None, as_json: bool) -> None:
    """Requests used and left in the rolling 24 hours, for every key this machine has used.

    Keys are shown by fingerprint (a hash), never in clear. Every batchgs process on the machine
    counts into the same ledger.
    """
    settings = settings_from(ctx, state_dir=state_dir)
    entries = list_ledger_entries(settings.state_dir)
    own = settings.px_api_key.fingerprint() if settings.px_api_key else None
    rows = [
        {
            "api": entry.scope,
            "key_fingerprint": entry.fingerprint[:12],
            "current_key": entry.fingerprint == own,
            "used": entry.used,
            "left": entry.left,
            "daily_limit": entry.daily_limit,
            "next_free_at": _iso(entry.next_free_at),
        }
        for entry in entries
    ]
    if as_json:
        emit_json({"state_dir": str(settings.state_dir), "keys": rows})
        return
    if not rows:
        click.echo(f"No requests recorded in the last 24 hours (ledger in {settings.state_dir}).")
        return
    click.echo(f"{'api':<4} {'key':<14} {'used':>10} {'left':>10} {'limit':>10}  oldest request frees at")
    for row in rows:
        mark = "*" if row["current_key"] else " "
        click.echo(
            f"{row['api']:<4} {row['key_fingerprint']}{mark} {row['used']:>10,} {row['left']:>10,} "
            f"{row['daily_limit']:>10,}  {row['next_free_at'] or '-'}"
        )


def _iso(epoch: float | None) -> str | None:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else None
