"""The page-parsing threads survive a fork: a forked child (multiprocessing's default on Linux) that
exports gets threads of its own instead of a pool whose threads stayed in the parent."""

from __future__ import annotations

import os
import sys

import pytest

from batchgs.engine.export.fetch import _parsers


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork is POSIX (not macOS)")
def test_a_forked_child_parses_on_threads_of_its_own() -> None:
    assert _parsers().submit(lambda: 2 + 2).result(timeout=30) == 4  # the parent's pool has a thread
    pid = os.fork()
    if pid == 0:  # the child: the work must run, not wait forever on the parent's threads
        try:
            code = 0 if _parsers().submit(lambda: 3 + 3).result(timeout=20) == 6 else 2
        except Exception:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
