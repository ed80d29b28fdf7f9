"""`batchgs quota`: prints what `batchgs.quota()` of the Python API reads (one code path,
batchgs.api_reads): requests used and left in the rolling 24 hours per API key (by fingerprint), and
the jobs sharing each key right now with their shares of its rate — from the state folder, or from the
coordinator (`BATCHGS_COORDINATOR`) when one is configured."""

from __future__ import annotations

import click

from batchgs.api_quota import QuotaKey
from batchgs.api_reads import quota_result
from batchgs.cli.common import emit_json


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
    report = quota_result(state_dir=state_dir, profile=(ctx.find_root().obj or {}).get("profile"))
    if as_json:
        emit_json(report.to_json())
        return
    if not report.keys:
        click.echo(f"No requests recorded in the last 24 hours ({report.source}).")
        return
    click.echo(f"{'api':<4} {'key':<14} {'used':>10} {'left':>10} {'limit':>10}  oldest request frees at")
    for key in report.keys:
        _print_key(key)
    if any(key.current_key for key in report.keys):
        click.echo("* the key this shell uses (GAINSIGHT_PX_API_KEY or the profile's); others: other keys")


def _print_key(key: QuotaKey) -> None:
    mark = "*" if key.current_key else " "
    used, left, limit = (_count(value) for value in (key.used, key.left, key.daily_limit))
    click.echo(
        f"{key.api:<4} {key.key_fingerprint}{mark} {used:>10} {left:>10} {limit:>10}  "
        f"{key.next_free_at or '-'}"
    )
    if key.jobs:
        unit = "s" if key.window_s == 1 else f"{key.window_s:g} s"
        click.echo(f"     {len(key.jobs)} job(s) running, sharing {key.key_rate} requests/{unit}:")
        for job in key.jobs:
            click.echo(
                f"       {job.share:>5}/{unit} of {job.wants:<5} {job.host} pid {job.pid}  {job.run or '-'}"
            )


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
