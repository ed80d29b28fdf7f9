"""Options shared by several commands, and the glue from click values to Settings."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import click

from batchgs import config
from batchgs.config import Settings
from batchgs.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

# The Python API (batchgs.api) runs a command in-process with --json: while this holds a list, the
# command's JSON is appended to it instead of printed, and its notes go to the `batchgs` logger.
API_SINK: ContextVar[list[dict[str, Any]] | None] = ContextVar("batchgs_api_sink", default=None)
LOG = logging.getLogger("batchgs")


def connection_options(func: F) -> F:
    """--region/--base-url/--product-key/--state-dir: where to send, never the key itself."""
    for option in reversed(
        [
            click.option(
                "--region",
                type=click.Choice(sorted(config.PX_REGIONS)),
                help="PX region (env GAINSIGHT_PX_REGION).",
            ),
            click.option(
                "--base-url",
                metavar="URL",
                help="API base URL, overrides --region (env GAINSIGHT_PX_BASE_URL / GAINSIGHT_CS_BASE_URL).",
            ),
            click.option(
                "--product-key",
                metavar="AP-...",
                help="PX product key for creates (env GAINSIGHT_PX_PRODUCT_KEY).",
            ),
            click.option(
                "--state-dir",
                type=click.Path(file_okay=False),
                help="Folder of the daily quota ledger (env BATCHGS_STATE_DIR).",
            ),
        ]
    ):
        func = option(func)
    return func


def rate_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--rate",
                type=float,
                help="Requests per second, never exceeded in any sliding second (default 190, max 200).",
            ),
            click.option(
                "--daily-limit",
                type=int,
                help="Requests allowed in the rolling 24 hours (default 1,000,000 PX, 50,000 CS).",
            ),
            click.option(
                "--wait-for-quota",
                is_flag=True,
                help="At the daily limit, sleep until the window frees instead of pausing.",
            ),
        ]
    ):
        func = option(func)
    return func


def output_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "-q", "--quiet", is_flag=True, help="No progress bar, only errors and the final line."
            ),
            click.option("-v", "--verbose", is_flag=True, help="More detail while running."),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON summary on stdout."),
            click.option("--yes", is_flag=True, help="Answer yes to confirmation prompts."),
        ]
    ):
        func = option(func)
    return func


class SuggestingChoice(click.Choice):
    """A click.Choice whose refusal adds `did you mean 'users'?` (as `template` and `export` do)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            names = [str(choice) for choice in self.choices]
            close = difflib.get_close_matches(str(value).lower(), names, n=1, cutoff=0.5)
            if not close:
                raise
            listed = ", ".join(repr(name) for name in names)
            self.fail(f"{value!r} is not one of {listed}; did you mean {close[0]!r}?", param, ctx)


def settings_from(ctx: click.Context, **options: Any) -> Settings:
    root = ctx.find_root().obj or {}
    return config.resolve(
        profile=root.get("profile"),
        region=options.get("region"),
        base_url=options.get("base_url"),
        product_key=options.get("product_key"),
        rate=options.get("rate"),
        daily_limit=options.get("daily_limit"),
        state_dir=options.get("state_dir"),
        strict_warnings=options.get("strict_warnings"),
        file_defaults=options.get("file_defaults"),
    )


MAX_PX_RATE = 200.0


def px_settings(ctx: click.Context, opts: dict[str, Any]) -> Settings:
    """Settings for a PX run; the key must exist and --rate may not exceed Gainsight's 200/s.
    (Here, not with the import run, so that export, opt-out and undo start without the importer.)"""
    settings = settings_from(ctx, **opts)
    settings.require_px_key()
    if not 0 < settings.rate <= MAX_PX_RATE:
        raise UsageError(f"--rate must be between 0 and {MAX_PX_RATE:g} requests per second for PX")
    return settings


def map_file_defaults(map_file: str | Path | None) -> tuple[config.FileDefaults | None, str | None]:
    """(connection defaults, time zone) a `--map` px-data-loader config.json brings; (None, None) for a
    TOML map or none. Warns once, on stderr, when the config holds an apiKey (never used)."""
    if not map_file:
        return None, None
    from batchgs.io.loader_config import sniff_loader_config

    loader = sniff_loader_config(map_file)
    if loader is None:
        return None, None
    warning = loader.api_key_warning()
    if warning:
        info(f"Warning: {warning}")
    defaults = config.FileDefaults(
        region=loader.region, base_url=loader.base_url, product_key=loader.product_key
    )
    return defaults, loader.timezone


def default_run_dir(kind: str) -> Path:
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("batchgs-runs") / f"{kind}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def emit_json(data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, default=str)
    sink = API_SINK.get()
    if sink is not None:
        sink.append(json.loads(text))  # exactly what --json prints
        return
    click.echo(text)


def info(message: str, *, quiet: bool = False) -> None:
    if API_SINK.get() is not None:
        LOG.info(message)
    elif not quiet:
        click.echo(message, err=True)


def comma_list(value: Any) -> list[str]:
    """`("a,b", "c")`, `"a,b,c"` or `["a", "b"]` → `["a", "b", "c"]` (repeatable, comma-separated options)."""
    if value is None:
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]
