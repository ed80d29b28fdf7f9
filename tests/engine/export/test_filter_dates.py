"""PX compares dates in filters as epoch ms, so `--filter 'lastSeenDate>=2025-10-01'` sent as typed
would match nothing, silently. batchgs turns ISO dates on date fields into epoch ms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from batchgs.engine.export.options import check_filters
from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.export.export_helpers import read_csv, seeded_store

OCT_1_2025 = 1759276800000


def test_iso_dates_on_date_fields_become_epoch_ms() -> None:
    assert check_filters(["lastSeenDate>=2025-10-01"]) == [f"lastSeenDate>={OCT_1_2025}"]
    # a date alone: its first millisecond for >= and <, its last for <= and >
    assert check_filters(["createDate<=2025-10-01"]) == [f"createDate<={OCT_1_2025 + 86_400_000 - 1}"]
    assert check_filters(["customAttributes.trialEndDate>2025-10-01T02:00:00+02:00;plan==pro"]) == [
        f"customAttributes.trialEndDate>{OCT_1_2025};plan==pro"
    ]
    # not a date field, a contains-operator, or already epoch ms: untouched
    assert check_filters(["title==2025-10-01", "signUpDate~2025", f"createDate>{OCT_1_2025}"]) == [
        "title==2025-10-01",
        "signUpDate~2025",
        f"createDate>{OCT_1_2025}",
    ]


@pytest.fixture
def users_sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(store=seeded_store(users=300), rate_limit=0)


def test_an_iso_date_filter_exports_what_the_epoch_ms_filter_does(users_sandbox: Any, tmp_path: Path) -> None:
    env = cli_env(users_sandbox, tmp_path / "state")
    seen = sorted(u["lastSeenDate"] for u in users_sandbox.store.users.values())
    cut = seen[len(seen) // 2]
    iso = dt.datetime.fromtimestamp(cut / 1000, tz=dt.UTC).isoformat(timespec="milliseconds")
    outputs = {}
    for name, value in (("iso", iso), ("ms", str(cut))):
        out = tmp_path / f"{name}.csv"
        result = run_cli(
            [
                "export",
                "users",
                "-o",
                str(out),
                "--filter",
                f"lastSeenDate>={value}",
                "--columns",
                "identifyId",
                "--run-dir",
                str(tmp_path / name),
                "-q",
            ],
            env,
        )
        assert result.exit_code == 0, result.output
        outputs[name] = {row["identifyId"] for row in read_csv(out)}
    expected = {u["identifyId"] for u in users_sandbox.store.users.values() if u["lastSeenDate"] >= cut}
    assert outputs["iso"] == outputs["ms"] == expected
    assert 100 < len(expected) < 200
