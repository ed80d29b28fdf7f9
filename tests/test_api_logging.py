"""What a job of the Python API shows while it runs: no bar and nothing on stdout/stderr, its notes and
warnings as records of the `batchgs` logger, progress through `on_progress` (whose failure never stops
the run); and Python's last resort still prints the warnings when no logging is set up."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import batchgs
from batchgs.sandbox.server import SandboxThread
from tests.api_helpers import creds
from tests.cli.cli_helpers import WAIT_LIMIT_S
from tests.engine.imports.import_helpers import write_users
from tests.engine.optout.optout_helpers import populate, write_list


class FakeTerminal(io.StringIO):
    """A stderr that says it is a terminal: where the CLI would draw its tqdm bar."""

    def isatty(self) -> bool:
        return True


def test_from_code_notes_go_to_the_logger_and_no_bar_is_drawn(
    sandbox: SandboxThread, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(sandbox.store, 10)
    people = write_list(tmp_path / "list.csv", [(f"U{i:05d}", "") for i in range(4)])
    users = write_users(tmp_path / "users.csv", 50, start=500)
    terminal, out = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", out)
    caplog.set_level(logging.INFO, logger="batchgs")
    optout = batchgs.optout(people, run_dir=tmp_path / "o", credentials=creds(sandbox), yes=True)
    imported = batchgs.import_file("users", users.path, run_dir=tmp_path / "i", credentials=creds(sandbox))
    exported = batchgs.export("users", tmp_path / "u.csv", run_dir=tmp_path / "e", credentials=creds(sandbox))
    assert optout.ok and imported.ok and exported.ok
    assert terminal.getvalue() == ""  # no bar, no note on the terminal
    assert out.getvalue() == ""  # nor any JSON or summary on stdout: the results are the return values
    assert sys.stderr is terminal  # the API's stderr router is gone once no job runs
    batchgs_records = [record.getMessage() for record in caplog.records if record.name == "batchgs"]
    assert any(message.startswith("About to opt out 4 people") for message in batchgs_records)  # stderr
    assert any(message.startswith("run folder") for message in batchgs_records)
    print("the caller's own stderr", file=sys.stderr)  # outside a job: untouched
    assert terminal.getvalue() == "the caller's own stderr\n"


def test_a_failing_progress_callback_is_logged_once_and_the_run_goes_on(
    sandbox: SandboxThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken_display(done: int, total: int | None) -> None:
        calls.append(done)
        raise RuntimeError("the progress widget broke")

    users = write_users(tmp_path / "users.csv", 40)
    caplog.set_level(logging.INFO, logger="batchgs")
    result = batchgs.import_file(
        "users", users.path, run_dir=tmp_path / "run", credentials=creds(sandbox), on_progress=broken_display
    )
    assert (result.status, result.rows_succeeded) == ("completed", 40) and len(sandbox.store.users) == 40
    assert len(calls) == 1  # not called again once it failed
    [record] = [r for r in caplog.records if "on_progress raised" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "the progress widget broke" in caplog.text


def test_without_logging_configured_the_warnings_reach_stderr_once(tmp_path: Path) -> None:
    """An application that set up no logging: logging's last resort prints batchgs's warnings on the
    real stderr (the API's stderr router never turns a record back into a record), notes stay quiet."""
    script = (
        "import batchgs, csv\n"
        "with open('u.csv', 'w', newline='') as f:\n"
        "    w = csv.writer(f); w.writerow(['identifyId', 'email'])\n"
        "    w.writerows([f'u{i}', f'u{i}@example.com'] for i in range(5))\n"
        "def broken(done, total): raise RuntimeError('widget broke')\n"
        "with batchgs.Sandbox() as sb:\n"
        "    r = batchgs.import_file('users', 'u.csv', run_dir='run', credentials=sb.credentials,\n"
        "                            on_progress=broken)\n"
        "print(r.status, r.rows_succeeded)\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**base, "BATCHGS_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT_S,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["completed", "5"]
    assert done.stderr.count("on_progress raised") == 1 and "RuntimeError: widget broke" in done.stderr
    assert "run folder" not in done.stderr  # an INFO note: not shown without logging set up
    assert "RuntimeError: no running event loop" not in done.stderr  # no unrelated context on errors
