"""Keyword options of the Python API → the command's own argv (batchgs.cli.inprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchgs.cli.inprocess import option_args, option_defaults
from batchgs.errors import UsageError


def test_keywords_become_the_commands_flags() -> None:
    args = option_args(
        "export",
        {
            "filters": ["plan==pro", "seats>10"],
            "columns": ["identifyId", "email"],
            "ids_file": Path("ids.csv"),
            "force": True,
            "raw": False,
            "sort": None,
            "rate": 50.5,
        },
    )
    assert args == [
        "--filter", "plan==pro", "--filter", "seats>10",
        "--columns", "identifyId,email",
        "--ids", "ids.csv",
        "--force",
        "--rate", "50.5",
    ]  # fmt: skip
    assert option_args("export", {"filters": "lastName==Ng"}) == ["--filter", "lastName==Ng"]
    assert option_args("optout", {"only": ["trackUsage", "surveys"]}) == ["--only", "trackUsage,surveys"]


def test_unknown_and_presentation_options_are_refused() -> None:
    for name in ("colour", "quiet", "as_json"):
        with pytest.raises(UsageError) as raised:
            option_args("import", {name: True})
        assert repr(name) in raised.value.message and "dry_run" in (raised.value.hint or "")


def test_defaults_come_from_the_click_options() -> None:
    defaults = option_defaults("validate")
    assert (
        defaults["extra_columns"] == "refuse" and defaults["show_payload"] == 0 and defaults["report"] is None
    )
    assert defaults["timezone"] is None  # decided at run time: a --map config.json's zone, else UTC
