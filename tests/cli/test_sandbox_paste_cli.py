"""Issue 22.9: `batchgs sandbox` prints the environment to paste, and those exact lines are enough for a
first import (the product key included: no propertyKeys column needed)."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.cli.cli_helpers import run_cli

PASTE_NAMES = {
    "GAINSIGHT_PX_API_KEY",
    "GAINSIGHT_PX_BASE_URL",
    "GAINSIGHT_PX_PRODUCT_KEY",
    "GAINSIGHT_CS_BASE_URL",
    "GAINSIGHT_CS_ACCESS_KEY",
    "GAINSIGHT_CS_SHARED_SECRET",
}


def _pasted(lines: list[str]) -> dict[str, str]:
    """What a shell gets from the `export A=1 B=2` lines."""
    env: dict[str, str] = {}
    for line in lines:
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            for word in words[1:]:
                name, value = word.split("=", 1)
                env[name] = value
    return env


def test_the_printed_lines_point_batchgs_at_the_sandbox(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchgs", "sandbox", "--port", "0", "--api-key", "my key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(4)]
        env = _pasted(lines)
        assert set(env) == PASTE_NAMES, lines
        assert env["GAINSIGHT_PX_API_KEY"] == "my key"  # quoted for the shell
        assert lines[0] == f"batchgs sandbox listening on {env['GAINSIGHT_PX_BASE_URL']}"

        people = tmp_path / "people.csv"
        people.write_text("identifyId,email\nada-1,ada@example.com\n", encoding="utf-8")
        state = {"BATCHGS_STATE_DIR": str(tmp_path / "state")}
        result = run_cli(
            ["import", "users", str(people), "--run-dir", str(tmp_path / "run")], {**env, **state}
        )
        assert result.exit_code == 0, result.output

        user = requests.get(
            env["GAINSIGHT_PX_BASE_URL"] + "/v1/users/ada-1",
            headers={"X-APTRINSIC-API-KEY": env["GAINSIGHT_PX_API_KEY"]},
            timeout=30,
        ).json()
        assert user["propertyKeys"] == [env["GAINSIGHT_PX_PRODUCT_KEY"]]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
