"""`recording_sandbox(**config)`: a sandbox whose write bodies are logged (see optout_helpers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchgs.sandbox.server import SandboxThread
from tests.optout.optout_helpers import WriteLog, start_recording_sandbox

RecordingSandbox = Callable[..., tuple[SandboxThread, WriteLog]]


@pytest.fixture
def recording_sandbox() -> Iterator[RecordingSandbox]:
    started: list[SandboxThread] = []

    def start(**config: Any) -> tuple[SandboxThread, WriteLog]:
        return start_recording_sandbox(started, **config)

    yield start
    for handle in reversed(started):
        handle.stop()
