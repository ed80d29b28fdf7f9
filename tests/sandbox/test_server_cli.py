"""Running the sandbox: SandboxThread, the control surface, the `batchgs sandbox` command, --state."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from batchgs.cli.main import cli
from batchgs.sandbox.cs.routes import CsState
from batchgs.sandbox.server import SandboxThread, base_url, is_loopback
from batchgs.sandbox.settings import SandboxConfig
from tests.sandbox.sandbox_helpers import Px, user

LISTENING = re.compile(r"^batchgs sandbox listening on (http://127\.0\.0\.1:(\d+))$")


def test_thread_handle_starts_on_a_random_port_and_stops(sandbox_factory: Any) -> None:
    first, second = sandbox_factory(), sandbox_factory()
    assert first.url != second.url and first.port > 0
    assert isinstance(first.cs, CsState) and first.store.users == {}
    first.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(first.url + "/__sandbox/health", timeout=5)
    assert requests.get(second.url + "/__sandbox/health", timeout=5).json() == {"ok": True}
    first.stop()  # idempotent


def test_context_manager_and_failed_start() -> None:
    with SandboxThread() as running:
        assert requests.get(running.url + "/__sandbox/health", timeout=5).status_code == 200
        taken = running.port
        with pytest.raises(RuntimeError, match="could not start"):
            SandboxThread(port=taken).start()
    with pytest.raises(requests.ConnectionError):
        requests.get(running.url + "/__sandbox/health", timeout=5)


def test_control_surface_stats_config_reset_and_clock(sandbox: SandboxThread) -> None:
    px = Px(sandbox)
    px.post("/v1/users", user("u1"))
    px.get("/v1/users/u1")
    px.get("/v1/users/ghost")
    stats = requests.get(sandbox.url + "/__sandbox/stats", timeout=5).json()
    assert stats["requests_total"] == 3
    assert stats["by_status"] == {"201": 1, "200": 1, "404": 1}
    assert stats["by_route"] == {"POST /v1/users": 1, "GET /v1/users/{identifyId}": 2}
    assert [entry[1:] for entry in stats["log"]] == [
        ["POST", "/v1/users", 201],
        ["GET", "/v1/users/u1", 200],
        ["GET", "/v1/users/ghost", 404],
    ]
    times = [entry[0] for entry in stats["log"]]
    assert times == sorted(times)
    config = requests.post(
        sandbox.url + "/__sandbox/config", json={"latency_ms": 5, "fail_rate": 0.1}, timeout=5
    )
    assert config.status_code == 200 and config.json()["fail_rate"] == 0.1
    assert config.json()["api_key"] == "***"
    assert sandbox.state.config.latency_ms == 5
    bad = requests.post(sandbox.url + "/__sandbox/config", json={"api_key": "x"}, timeout=5)
    assert bad.status_code == 400 and "not changeable" in bad.json()["error"]
    assert (
        requests.post(sandbox.url + "/__sandbox/config", json={"fail_rate": 2}, timeout=5).status_code == 400
    )
    assert requests.post(sandbox.url + "/__sandbox/reset-stats", timeout=5).status_code == 204
    assert sandbox.stats()["requests_total"] == 0, "control calls are not counted"
    before = sandbox.clock.epoch_ms()
    requests.post(sandbox.url + "/__sandbox/advance-clock", json={"seconds": 3600}, timeout=5)
    assert sandbox.clock.epoch_ms() - before >= 3_600_000
    assert requests.get(sandbox.url + "/__sandbox/counts", timeout=5).json()["users"] == 1


def test_cs_routes_are_mounted_with_their_own_auth_and_no_px_limit(sandbox_factory: Any) -> None:
    sandbox = sandbox_factory(rate_limit=1)
    headers = {"accesskey": sandbox.cs.access_key}
    answers = [
        requests.get(sandbox.url + "/v2/cockpit/admin/picklist/lite", headers=headers, timeout=5)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json()["result"] is True
    px_key_only = requests.get(
        sandbox.url + "/v2/cockpit/admin/picklist/lite", headers={"X-APTRINSIC-API-KEY": "sandbox"}, timeout=5
    )
    assert px_key_only.status_code == 401 and px_key_only.json()["errorCode"] == "GS_APIG_2401"
    assert sandbox.stats()["by_route"]["GET /v2/cockpit/admin/picklist/lite"] == 4


def test_state_file_round_trip(tmp_path: Path, sandbox_factory: Any) -> None:
    state = tmp_path / "state.json"
    first = sandbox_factory(state_file=str(state), seed_users=3)
    Px(first).post("/v1/users", user("mine", firstName="Ada"))
    Px(first).put("/v2/user/preferences/mine", {"surveys": False})
    first.stop()
    saved = json.loads(state.read_text())
    assert "mine" in saved["users"] and len(saved["users"]) == 4
    second = sandbox_factory(state_file=str(state), seed_users=50)
    assert sorted(second.store.users) == sorted(saved["users"]), "an existing state file wins over seeding"
    assert Px(second).get("/v2/user/preferences/mine").json()["surveys"] is False


def test_helpers() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert base_url("::1", 80) == "http://[::1]:80" and base_url("127.0.0.1", 8) == "http://127.0.0.1:8"
    assert SandboxConfig(api_key="secret").public_dict()["api_key"] == "***"


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "batchgs", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_the_url_serves_and_stops_cleanly(tmp_path: Path, stop_signal: int) -> None:
    state = tmp_path / "px.json"
    proc = _cli("--port", "0", "--api-key", "k1", "--seed-users", "7", "--state", str(state))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        match = LISTENING.match(line)
        assert match, line
        url = match.group(1)
        response = requests.get(url + "/v1/users", headers={"X-APTRINSIC-API-KEY": "k1"}, timeout=10)
        assert response.status_code == 200 and response.json()["totalHits"] == 7
        proc.send_signal(stop_signal)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in err and "k1" not in err
    assert len(json.loads(state.read_text())["users"]) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "non-loopback host '0.0.0.0'"),
        (["--fail-rate", "0.7", "--drop-rate", "0.7"], "must not exceed 1"),
        (["--fail-statuses", "500,404"], "fail_statuses"),
        (["--fail-statuses", "five"], "comma-separated"),
    ],
)
def test_cli_refuses_bad_options_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--port", "0", *args])
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_reports_an_unreadable_state_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1}')
    result = CliRunner().invoke(cli, ["sandbox", "--port", "0", "--state", str(broken)])
    assert result.exit_code == 2 and "broken.json" in result.stderr and "Traceback" not in result.stderr
