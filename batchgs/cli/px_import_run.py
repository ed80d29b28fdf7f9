"""Drive one PX import segment from the CLI: client, confirmations, signals, final summary, exit code.

Shared by `batchgs import` (new run) and `batchgs resume` (continued run) so both end the same way:
summary printed (or JSON), run folder named, and a paused run raising a resumable error whose hint
is the exact resume command.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from batchgs.cli.runner import confirm_count, run_segment
from batchgs.cli.validate_cmd import resolve_catalog
from batchgs.config import Settings
from batchgs.engine.imports.importer import Importer, ImportOptions, ImportPlan, RunControl
from batchgs.entities.spec import EntitySpec
from batchgs.errors import UsageError
from batchgs.run.journal import Journal
from batchgs.transport.client import TransportStats, px_client
from batchgs.transport.coordination import quota_left, run_label

LARGE_DELETE = 1_000
LARGE_OPT_IN = 1_000  # preference imports past this size ask on a production profile
PRODUCTION_ENV = "BATCHGS_CONFIRM_PRODUCTION"


class PxRun:
    """One segment of a PX import run, as the command line drives it."""

    def __init__(
        self,
        spec: EntitySpec,
        input_path: Path,
        options: ImportOptions,
        journal: Journal | None,
        settings: Settings,
        control: RunControl,
        *,
        wait_for_quota: bool,
        yes: bool = False,
        allow_large_delete: bool = False,
        confirmed: bool = False,
        plan_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.input_path = input_path
        self.options = options
        self.journal = journal
        self.settings = settings
        self.control = control
        self.wait_for_quota = wait_for_quota
        self.yes = yes
        self.allow_large_delete = allow_large_delete
        self.confirmed = confirmed
        self.plan_dir = plan_dir
        self.stats = TransportStats()
        control.quota_left, control.daily_limit = self._quota_left(), settings.daily_limit
        run_dir = journal.run_dir if journal is not None else None
        self.catalog, _note = resolve_catalog(spec, settings, run_dir, offline=False)  # before the loop

    def _quota_left(self) -> int | None:
        key = self.settings.require_px_key()
        settings = self.settings
        return quota_left(settings, key.fingerprint(), "px", settings.daily_limit, settings.px_base_url)

    def _importer(self, stop: asyncio.Event | None) -> Importer:
        return Importer(
            spec=self.spec,
            input_path=self.input_path,
            options=self.options,
            journal=self.journal,
            client_factory=lambda: px_client(
                self.settings,
                stats=self.stats,
                rate=self.control.rate,
                wait_for_quota=self.wait_for_quota,
                label=run_label(self.journal),
            ),
            control=self.control,
            attributes=self.catalog,
            stop_event=stop,
            plan_dir=self.plan_dir,
        )

    def dry_run(self) -> dict[str, Any]:
        importer = self._importer(None)
        result = asyncio.run(importer.run())
        return dict(result["plan"])

    def confirm(self, plan: ImportPlan) -> None:
        """Deletes: more than 1,000 need --allow-large-delete, and every delete run a typed count.
        On a production profile, preference imports of more than 1,000 rows ask too, and `--yes`
        alone does not answer (see `_yes`)."""
        if self.confirmed:
            return
        if self.options.mode != "delete":
            if (
                self.settings.production
                and self.spec.name == "preferences"
                and plan.rows_to_send > LARGE_OPT_IN
            ):
                where = f"{self.settings.profile or 'default'}, production"
                confirm_count(plan.rows_to_send, f"change the preferences ({where}) of", yes=self._yes())
            return
        count = plan.deletes or 0
        if count > LARGE_DELETE and not self.allow_large_delete:
            raise UsageError(
                f"this run would delete {count:,} {self.spec.name}: more than {LARGE_DELETE:,}",
                hint="add --allow-large-delete if that is what you want",
            )
        warning = None
        if self.spec.name == "accounts":
            warning = "deleting an account also deletes every user of that account in Gainsight PX"
            click.echo(f"Warning: {warning}", err=True)
        what = "permanently delete" if self.options.hard_delete else "delete"
        where = f" ({self.settings.profile}, production)" if self.settings.production else ""
        confirm_count(count, f"{what}{where}", yes=self._yes())

    def _yes(self) -> bool:
        return production_yes(self.settings, self.yes)

    def execute(self, *, quiet: bool, as_json: bool) -> int:
        journal = self.journal
        assert journal is not None

        async def go(stop: asyncio.Event) -> dict[str, Any]:
            return await self._importer(stop).run(confirm=self.confirm)

        return run_segment(journal, go, quiet=quiet, as_json=as_json)


def production_yes(settings: Settings, yes: bool) -> bool:
    """`--yes`, except on a production profile: there it counts only together with
    BATCHGS_CONFIRM_PRODUCTION=<profile name>, so a copied command line cannot delete in production
    by accident; in a terminal the typed count is asked instead."""
    if not settings.production or not yes:
        return yes
    name = settings.profile or "default"
    if os.environ.get(PRODUCTION_ENV) == name:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"profile {name!r} is marked production: --yes alone does not confirm this run",
            hint=f"also set {PRODUCTION_ENV}={name}, or run it in a terminal and type the count",
        )
    return False


def describe_plan(entity: str, options: ImportOptions, plan: dict[str, Any], daily_limit: int) -> str:
    """The --dry-run report: what would be sent, how many requests, the quota share and the ETA."""
    lines = [f"Dry run: nothing was sent. {entity}, mode {options.mode}"]
    if options.mode == "upsert":
        lines[0] += f", strategy {options.strategy}"
    lines.append(f"  rows in file        {plan['rows_total']:,}")
    if plan.get("rows_invalid") is not None:
        lines.append(f"  invalid rows        {plan['rows_invalid']:,}  (see validate for details)")
    lines.append(f"  rows to send        {plan['rows_to_send']:,}")
    for name in ("creates", "updates", "deletes", "unchanged"):
        if plan.get(name) is not None:
            lines.append(f"  {name:<19} {plan[name]:,}")
    requests = plan["requests_estimate"]
    share = requests / daily_limit * 100 if daily_limit else 0.0
    lines.append(f"  requests (estimate) {requests:,}  ({share:.1f}% of the daily limit of {daily_limit:,})")
    if plan.get("quota_left") is not None:
        lines.append(f"  quota left now      {plan['quota_left']:,}")
    lines.append(f"  time at the rate    {_duration(plan['eta_seconds'])}")
    lines.extend(f"  note: {note}" for note in plan.get("notes", []))
    if plan.get("fields_most_changed"):
        most = ", ".join(f"{name} {count:,}" for name, count in plan["fields_most_changed"].items())
        lines.append(f"  most changed        {most}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
