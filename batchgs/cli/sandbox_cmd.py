"""`batchgs sandbox`: the local emulator of the Gainsight PX and CS APIs (gainsight-api.md), in the
foreground until Ctrl-C or SIGTERM. Scripts wait for the line `batchgs sandbox listening on URL`."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

import click

from batchgs.errors import UsageError
from batchgs.sandbox.seed import PRODUCT_KEY as SANDBOX_PRODUCT_KEY
from batchgs.sandbox.server import is_loopback, serve
from batchgs.sandbox.settings import SandboxConfig


def paste_lines(config: SandboxConfig, url: str) -> str:
    """The environment that points batchgs at this sandbox, ready to paste into another shell
    (the sandbox's own keys, never a real credential; CS is served on the same address)."""
    px = {
        "GAINSIGHT_PX_API_KEY": config.api_key,
        "GAINSIGHT_PX_BASE_URL": url,
        "GAINSIGHT_PX_PRODUCT_KEY": SANDBOX_PRODUCT_KEY,
    }
    cs = {
        "GAINSIGHT_CS_BASE_URL": url,
        "GAINSIGHT_CS_ACCESS_KEY": config.cs_access_key,
        "GAINSIGHT_CS_SHARED_SECRET": config.cs_shared_secret,
    }
    lines = [" ".join(f"{name}={shlex.quote(value)}" for name, value in env.items()) for env in (px, cs)]
    return "# in another shell, to use this sandbox:\n" + "\n".join(f"export {line}" for line in lines)


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--fail-statuses must be comma-separated HTTP codes, got {text!r}") from None


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback).")
@click.option(
    "--port", default=8700, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port."
)
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host (the sandbox has no TLS).")
@click.option("--api-key", default="sandbox", show_default=True, help="The PX key the sandbox accepts.")
@click.option(
    "--read-only-key",
    "read_only_keys",
    multiple=True,
    help="A PX key without Write permission (403 on writes). Repeatable.",
)
@click.option(
    "--rate-limit",
    default=200,
    show_default=True,
    type=click.IntRange(0),
    help="PX requests per key in any sliding second (0 = off).",
)
@click.option(
    "--daily-limit",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(0),
    help="PX requests per key in the rolling 24 hours (0 = off).",
)
@click.option(
    "--retry-after/--no-retry-after", default=True, show_default=True, help="Send Retry-After with 429s."
)
@click.option(
    "--duplicate-window-ms",
    default=0,
    type=click.IntRange(0),
    help="Refuse an identical GET repeated within this many ms.",
)
@click.option("--latency-ms", default=0.0, type=click.FloatRange(0), help="Added latency per request.")
@click.option("--jitter-ms", default=0.0, type=click.FloatRange(0), help="Latency jitter: ± this many ms.")
@click.option(
    "--fail-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of requests answered with an error before being applied.",
)
@click.option(
    "--fail-statuses", default="429,500,503", show_default=True, help="Statuses --fail-rate picks from."
)
@click.option(
    "--ambiguous-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of requests applied, then answered 500.",
)
@click.option(
    "--drop-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of connections closed without an answer.",
)
@click.option("--drop-after-apply", is_flag=True, help="Dropped requests are applied first.")
@click.option(
    "--scroll-ttl",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Seconds a scrollId lives after its last use.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the data and of the fault RNG.")
@click.option(
    "--seed-users", default=0, show_default=True, type=click.IntRange(0), help="PX users to create at start."
)
@click.option(
    "--seed-cluster",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of the seeded users and accounts created in one hour (a bulk load).",
)
@click.option(
    "--seed-accounts",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="PX accounts to create at start.",
)
@click.option(
    "--seed-events",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="PX custom events (and a quarter as many of each history) at start.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file: PX data loaded at start (when it exists) and saved on shutdown.",
)
@click.option(
    "--cs-access-key", default="sandbox-cs", show_default=True, help="The CS accesskey the sandbox accepts."
)
@click.option(
    "--cs-shared-secret", default="sandbox-secret", show_default=True, help="The CS Events sharedSecret."
)
@click.option("--cs-tenant-id", default="sandbox-tenant", show_default=True, help="The CS Events tenantId.")
def command(
    host: str,
    port: int,
    allow_remote: bool,
    api_key: str,
    read_only_keys: tuple[str, ...],
    rate_limit: int,
    daily_limit: int,
    retry_after: bool,
    duplicate_window_ms: int,
    latency_ms: float,
    jitter_ms: float,
    fail_rate: float,
    fail_statuses: str,
    ambiguous_rate: float,
    drop_rate: float,
    drop_after_apply: bool,
    scroll_ttl: float,
    seed: int,
    seed_users: int,
    seed_cluster: float,
    seed_accounts: int,
    seed_events: int,
    state_file: Path | None,
    cs_access_key: str,
    cs_shared_secret: str,
    cs_tenant_id: str,
) -> None:
    """Serve the Gainsight PX and CS APIs locally, data in memory (or --state FILE), with the real
    limits (429) and optional injected faults and latency. Stop with Ctrl-C."""
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"refusing to listen on non-loopback host {host!r}",
            hint="the sandbox speaks plain HTTP; add --allow-remote if you really mean it",
        )
    try:
        config = SandboxConfig(
            api_key=api_key,
            read_only_keys=read_only_keys,
            rate_limit=rate_limit,
            daily_limit=daily_limit,
            retry_after=retry_after,
            duplicate_window_ms=duplicate_window_ms,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            fail_rate=fail_rate,
            fail_statuses=_statuses(fail_statuses),
            ambiguous_rate=ambiguous_rate,
            drop_rate=drop_rate,
            drop_after_apply=drop_after_apply,
            scroll_ttl_s=scroll_ttl,
            seed=seed,
            seed_users=seed_users,
            seed_cluster=seed_cluster,
            seed_accounts=seed_accounts,
            seed_events=seed_events,
            state_file=str(state_file) if state_file else None,
            cs_access_key=cs_access_key,
            cs_shared_secret=cs_shared_secret,
            cs_tenant_id=cs_tenant_id,
        )
    except ValueError as exc:
        raise UsageError(f"sandbox: {exc}") from None

    def announce(url: str) -> None:
        click.echo(f"batchgs sandbox listening on {url}")
        click.echo(paste_lines(config, url))
        sys.stdout.flush()

    try:
        asyncio.run(serve(config, host, port, announce))
    except OSError as exc:
        raise UsageError(f"sandbox: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an unreadable --state file
        raise UsageError(f"sandbox: {state_file}: {exc}") from None
    click.echo("batchgs sandbox stopped", err=True)
