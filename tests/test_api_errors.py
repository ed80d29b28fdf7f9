"""The Python API's typed errors: one per exit code 2-5 of the CLI (docs/api.md's table), Ctrl-C in a
plain call, and no unrelated context chained onto them."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import pytest

import batchgs
from batchgs.sandbox.server import SandboxThread
from tests.api_helpers import creds
from tests.engine.imports.import_helpers import write_users


def test_each_exit_code_2_to_5_has_its_typed_error(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    users = write_users(tmp_path / "users.csv", 10)
    garbage = tmp_path / "users.xlsx"
    garbage.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(batchgs.InputFileError) as bad_input:
        batchgs.import_file("users", garbage, run_dir=tmp_path / "r0", credentials=creds(sandbox))
    assert bad_input.value.exit_code == 2 and str(garbage) in bad_input.value.message
    (tmp_path / "taken.csv").write_text("already here\n")
    with pytest.raises(batchgs.OutputFileError) as exists:
        batchgs.export("users", tmp_path / "taken.csv", run_dir=tmp_path / "e", credentials=creds(sandbox))
    assert exists.value.exit_code == 2 and (tmp_path / "taken.csv").read_text() == "already here\n"
    with pytest.raises(batchgs.QuotaExhausted) as quota:
        batchgs.import_file(
            "users", users.path, run_dir=tmp_path / "q", credentials=creds(sandbox), daily_limit=4, yes=True
        )
    assert quota.value.exit_code == 4 and isinstance(quota.value, batchgs.ResumableStop)
    assert "batchgs resume" in (quota.value.hint or "")
    assert batchgs.status(tmp_path / "q").status == "paused"
    assert len(sandbox.store.users) < 10


def test_ctrl_c_during_a_plain_call_raises_interrupted_and_the_run_resumes(
    sandbox_factory, tmp_path: Path
) -> None:
    """A script run in a terminal (main thread, no loop): Ctrl-C pauses the run as on the command line
    and the call raises the typed `Interrupted` (exit code 4); resume finishes it."""
    sandbox = sandbox_factory(latency_ms=20)
    users = write_users(tmp_path / "users.csv", 120)
    run_dir = tmp_path / "run"
    pressed: list[int] = []

    def press_ctrl_c_once(done: int, total: int | None) -> None:
        if not pressed:
            pressed.append(done)
            os.kill(os.getpid(), signal.SIGINT)

    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(batchgs.Interrupted) as raised:
        batchgs.import_file(
            "users",
            users.path,
            run_dir=run_dir,
            credentials=creds(sandbox),
            rate=20,
            on_progress=press_ctrl_c_once,
        )
    assert raised.value.exit_code == 4 and f"batchgs resume {run_dir}" in (raised.value.hint or "")
    paused = batchgs.status(run_dir)
    assert paused.status == "paused" and 0 < paused.rows_succeeded < 120
    assert paused.status_reason == "interrupted" and (paused.status_words or "").startswith(
        "stopped: interrupted"
    )
    finished = batchgs.resume(run_dir, credentials=creds(sandbox), rate=190)
    assert finished.rows_succeeded == 120 and len(sandbox.store.users) == 120


def test_errors_of_a_plain_call_carry_no_event_loop_context(sandbox: SandboxThread, tmp_path: Path) -> None:
    with pytest.raises(batchgs.FatalApiError) as raised:
        batchgs.import_file(
            "users",
            write_users(tmp_path / "u.csv", 2).path,
            run_dir=tmp_path / "r",
            credentials=creds(sandbox, "x"),
        )
    chain, error = [], raised.value.__context__
    while error is not None:
        chain.append(f"{type(error).__name__}: {error}")
        error = error.__context__
    assert not [text for text in chain if "no running event loop" in text], chain


def test_ctrl_c_while_a_plain_call_runs_inside_an_event_loop_pauses_the_run(
    sandbox_factory, tmp_path: Path
) -> None:
    """A notebook: the plain call runs the job in a worker thread; "interrupt the kernel" (SIGINT, a
    KeyboardInterrupt in the waiting main thread) stops the job as Ctrl-C would, and the call raises
    Interrupted once the run is paused, instead of waiting for the whole run."""
    sandbox = sandbox_factory(latency_ms=20)
    users = write_users(tmp_path / "users.csv", 400)
    run_dir = tmp_path / "run"
    pressed: list[str] = []

    def interrupt_the_kernel_once(done: int, total: int | None) -> None:
        if not pressed:
            pressed.append(threading.current_thread().name)
            os.kill(os.getpid(), signal.SIGINT)  # delivered to the main thread, which waits for the job

    async def cell() -> None:
        batchgs.import_file(
            "users",
            users.path,
            run_dir=run_dir,
            credentials=creds(sandbox),
            rate=20,
            on_progress=interrupt_the_kernel_once,
        )

    loop = asyncio.new_event_loop()  # like ipykernel's: no SIGINT handler of asyncio.run's
    try:
        with pytest.raises(batchgs.Interrupted) as raised:
            loop.run_until_complete(cell())
    finally:
        loop.close()
    assert pressed and pressed[0] != threading.main_thread().name  # the job ran in the worker thread
    assert raised.value.exit_code == 4
    paused = batchgs.status(run_dir)
    assert paused.status == "paused" and 0 < paused.rows_succeeded < 400
    finished = batchgs.resume(run_dir, credentials=creds(sandbox), rate=190)
    assert finished.rows_succeeded == 400 and len(sandbox.store.users) == 400
