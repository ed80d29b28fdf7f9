"""Polars hooks SIGINT when it is imported: a Ctrl-C then made whatever Polars ran on a worker thread
raise KeyboardInterrupt, which left the event loop and hung an export in `asyncio.run`'s clean-up.
Each case runs in its own interpreter, so that Polars is imported after the handlers, as in
`batchgs export`. The Ctrl-C is sent from inside a Polars computation (a Python function Polars
calls), so it always lands while Polars works."""

from __future__ import annotations

import subprocess
import sys
import textwrap

WORK = """
import os, signal
import polars as pl

sent = []

def interrupt(batch):
    if not sent:
        sent.append(os.kill(os.getpid(), signal.SIGINT))
    return batch

def polars_work():
    frame = pl.LazyFrame({"a": list(range(200_000))})
    return frame.select(pl.col("a").map_batches(interrupt)).sort("a", descending=True).collect().height
"""


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120
    )


def test_the_command_line_takes_sigint_back_from_polars_so_the_stop_is_graceful() -> None:
    done = run(
        f"""
        import asyncio, sys
        from batchgs.cli.runner import OWN_SIGINT_TASK, run_with_signals
        assert "polars" not in sys.modules

        async def command(stop):
            owner = next(t for t in asyncio.all_tasks() if t.get_name() == OWN_SIGINT_TASK)
            await owner  # Polars imported (its hook in front of ours), then ours set again
            exec({WORK!r}, globals())
            rows = await asyncio.to_thread(polars_work)  # the plain asyncio call: nothing catches
            await stop.wait()  # the Ctrl-C reached our handler
            return rows

        print("rows", run_with_signals(command))
        """
    )
    assert done.returncode == 0, done.stderr
    assert "rows 200000" in done.stdout and "SIGINT: finishing requests in flight" in done.stderr
    assert "KeyboardInterrupt" not in done.stderr


def test_polars_interrupt_on_a_worker_thread_is_a_resumable_stop_where_polars_owns_sigint() -> None:
    done = run(
        f"""
        import asyncio, signal
        signal.signal(signal.SIGINT, lambda *_: None)  # owned before Polars is imported: a notebook's
        exec({WORK!r}, globals())
        from batchgs.engine.threads import to_thread
        from batchgs.errors import Interrupted

        try:
            asyncio.run(to_thread(polars_work))
        except Interrupted as stop:
            print("stopped:", stop)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "stopped: interrupted (Ctrl-C)" in done.stdout and "Traceback" not in done.stderr
