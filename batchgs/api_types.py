"""The values the Python API (batchgs.api) takes and returns: `Credentials` and the frozen results of
the jobs and of `status` (those of `quota` are in batchgs.api_quota).

Kept apart from the functions so that reading a result never pulls in how jobs run, and small because
`batchgs status` loads it on every call; all are re-exported by batchgs.api and batchgs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from batchgs.errors import ExitCode

# ---- credentials --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Where to send and with which keys, instead of the environment/profile. The repr masks the keys.

    Applied as if they were the environment variables of cli.md (GAINSIGHT_PX_API_KEY, ...), for this
    call only: nothing is written to `os.environ`.
    """

    px_api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    product_key: str | None = None
    cs_base_url: str | None = None
    cs_access_key: str | None = field(default=None, repr=False)
    cs_shared_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        def masked(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"Credentials(px_api_key={masked(self.px_api_key)}, base_url={self.base_url!r}, "
            f"product_key={self.product_key!r}, cs_base_url={self.cs_base_url!r}, "
            f"cs_access_key={masked(self.cs_access_key)}, "
            f"cs_shared_secret={masked(self.cs_shared_secret)})"
        )

    __str__ = __repr__

    def as_environment(self) -> dict[str, str]:
        names = {
            "GAINSIGHT_PX_API_KEY": self.px_api_key,
            "GAINSIGHT_PX_BASE_URL": self.base_url,
            "GAINSIGHT_PX_PRODUCT_KEY": self.product_key,
            "GAINSIGHT_CS_BASE_URL": self.cs_base_url,
            "GAINSIGHT_CS_ACCESS_KEY": self.cs_access_key,
            "GAINSIGHT_CS_SHARED_SECRET": self.cs_shared_secret,
        }
        return {name: value for name, value in names.items() if value is not None}


# ---- results ------------------------------------------------------------------------------------


def _path(value: Any) -> Path | None:
    return Path(str(value)) if value else None


def _file(run_dir: Path | None, name: str) -> Path | None:
    if run_dir is None:
        return None
    candidate = run_dir / name
    return candidate if candidate.is_file() else None


def _int(summary: Mapping[str, Any], name: str) -> int:
    value = summary.get(name)
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class RunShare:
    """A running run's share of its key's rate now (`status` while the run runs): the jobs using one key
    divide its rate between them."""

    requests_per_window: int
    wants: int
    window_s: float
    key_rate: int
    jobs: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunShare | None:
        if not isinstance(data, Mapping):
            return None
        return cls(
            requests_per_window=int(data["requests_per_window"]),
            wants=int(data["wants"]),
            window_s=float(data["window_s"]),
            key_rate=int(data["key_rate"]),
            jobs=int(data["jobs"]),
        )


def _text(summary: Mapping[str, Any], name: str) -> str | None:
    value = summary.get(name)
    return str(value) if value else None


@dataclass(frozen=True)
class RunResult:
    """One import, export, opt-out or resumed run (or a run's `status`): what summary.json carries.

    `status` is completed | paused | aborted | running (or `dry-run`: nothing was sent, the plan is in
    `summary["plan"]`; `validated`: the `status` of a `batchgs validate` folder). `exit_code` is the
    CLI's: 0 all good, 1 some rows invalid/failed/uncertain (4 from `status` of a paused run).
    `status_reason` is why it stopped as a code (for tools), `status_words` the same for people (the
    stop's own message when the run kept it). `share`: `status` of a running run, its share of the key.
    """

    status: str
    exit_code: int
    run_dir: Path | None
    entity: str | None
    rows_total: int
    rows_invalid: int
    rows_succeeded: int
    rows_failed: int
    rows_uncertain: int
    requests: int
    errors_csv: Path | None
    success_csv: Path | None
    warnings_csv: Path | None
    changes_csv: Path | None
    receipt_csv: Path | None
    receipt_json: Path | None
    output: Path | None
    status_reason: str | None
    status_words: str | None
    share: RunShare | None
    summary: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == int(ExitCode.OK)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], exit_code: int) -> RunResult:
        run_dir = _path(summary.get("run_dir"))
        return cls(
            status=str(summary.get("status") or ("dry-run" if summary.get("dry_run") else "unknown")),
            exit_code=exit_code,
            run_dir=run_dir,
            entity=summary.get("entity"),
            rows_total=_int(summary, "rows_total"),
            rows_invalid=_int(summary, "rows_invalid"),
            rows_succeeded=_int(summary, "rows_succeeded"),
            rows_failed=_int(summary, "rows_failed"),
            rows_uncertain=_int(summary, "rows_uncertain"),
            requests=_int(summary, "requests"),
            errors_csv=_file(run_dir, "errors.csv"),
            success_csv=_file(run_dir, "success.csv"),
            warnings_csv=_file(run_dir, "warnings.csv"),
            changes_csv=_file(run_dir, "changes.csv"),
            receipt_csv=_file(run_dir, "receipt.csv"),
            receipt_json=_file(run_dir, "receipt.json"),
            output=_path(summary.get("output")),
            status_reason=_text(summary, "status_reason"),
            status_words=_text(summary, "status_words"),
            share=RunShare.from_json(summary.get("share")),
            summary=MappingProxyType(dict(summary)),
        )


@dataclass(frozen=True)
class ValidationResult:
    """`validate_file`: the counts and where the error report went (exit 1 when some rows are invalid)."""

    exit_code: int
    entity: str
    rows_total: int
    rows_valid: int
    rows_invalid: int
    issues_by_code: Mapping[str, int]
    errors_csv: Path | None
    errors_xlsx: Path | None
    summary: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def ok(self) -> bool:
        return self.rows_invalid == 0

    @classmethod
    def from_report(cls, report: Mapping[str, Any], exit_code: int) -> ValidationResult:
        """From what `batchgs validate --json` prints."""
        return cls(
            exit_code=exit_code,
            entity=str(report.get("entity")),
            rows_total=_int(report, "rows_total"),
            rows_valid=_int(report, "rows_valid"),
            rows_invalid=_int(report, "rows_invalid"),
            issues_by_code=MappingProxyType(dict(report.get("issues_by_code") or {})),
            errors_csv=_path(report.get("errors_csv")),
            errors_xlsx=_path(report.get("errors_xlsx")),
            summary=MappingProxyType(dict(report)),
        )
