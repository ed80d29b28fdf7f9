"""Drive `batchgs` as a user does: in-process through click (fast), or as a real subprocess (signals,
kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from batchgs.cli.main import cli
from batchgs.sandbox.server import SandboxThread

PRODUCT_KEY = "AP-TEST-1"
WRITE_METHODS = ("POST", "PUT", "DELETE")
WAIT_LIMIT_S = 120.0  # generous: a busy 2-core machine must never make a test flaky


class TtySys:
    """`sys` as runner.confirm_count sees it, with a terminal on stdin (the typed prompt is asked)."""

    class _Stdin:
        def isatty(self) -> bool:
            return True

    stdin = _Stdin()

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)


def cli_env(sandbox: SandboxThread, state_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "GAINSIGHT_PX_API_KEY": sandbox.api_key,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "GAINSIGHT_PX_PRODUCT_KEY": PRODUCT_KEY,
        "BATCHGS_STATE_DIR": str(state_dir),
    }
    env.update(extra)
    return env


def run_cli(args: Sequence[str], env: dict[str, str], *, stdin: str | None = None) -> Result:
    """`batchgs ARGS` in this process, with exactly `env` for the batchgs variables."""
    clean = {name: None for name in os.environ if name.startswith(("GAINSIGHT_", "BATCHGS_"))}
    return CliRunner().invoke(cli, list(args), env={**clean, **env}, input=stdin, catch_exceptions=False)


def spawn(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`python -m batchgs ARGS` as its own process (its own signal handlers, killable with -9)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "batchgs", *args],
        env={**base, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str] | None = None) -> bool:
    """Poll `condition` until true (True) or `process` ended first (False); fails after WAIT_LIMIT_S."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if process is not None and process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.002)
    return True


def requests_seen(sandbox: SandboxThread) -> int:
    return int(sandbox.stats()["requests_total"])


def all_served(sandbox: SandboxThread) -> bool:
    """Whether every request that reached the sandbox has been answered: requests a stopped process
    abandoned are still applied after their latency (as a real server does)."""
    seen = sandbox.stats(log=False)
    return bool(seen["requests_total"] == seen["requests_arrived"])


def writes_seen(sandbox: SandboxThread) -> list[list[Any]]:
    return [entry for entry in sandbox.stats(log=True)["log"] if entry[1] in WRITE_METHODS]


def interrupt(process: subprocess.Popen[str], signum: int = signal.SIGINT) -> tuple[int, str, str]:
    process.send_signal(signum)
    out, err = process.communicate(timeout=WAIT_LIMIT_S)
    return process.returncode, out, err


def interrupt_twice(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C, then once the command says it is finishing the requests in flight, Ctrl-C again."""
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    said: list[str] = []
    for line in iter(process.stderr.readline, ""):  # (ends if the process ends)
        said.append(line)
        if "finishing requests in flight" in line:
            break
    else:
        raise AssertionError(f"the first Ctrl-C was not acknowledged: {''.join(said)}")
    code, out, err = interrupt(process, signal.SIGINT)
    return code, out, "".join(said) + err


def summary_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return data


def api_put_user(sandbox: SandboxThread, uid: str, body: dict[str, Any]) -> None:
    """An edit made in Gainsight through the API (not through batchgs), e.g. drift between two imports."""
    request = urllib.request.Request(
        f"{sandbox.url}/v1/users/{uid}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"X-APTRINSIC-API-KEY": sandbox.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 204
