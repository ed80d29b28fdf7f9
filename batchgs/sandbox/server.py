"""Running the sandbox: `SandboxThread` (tests, benchmarks: own event loop in a background thread) and
`serve()` (the `batchgs sandbox` command: foreground until SIGINT/SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from batchgs.sandbox.app import build_app
from batchgs.sandbox.clock import Clock
from batchgs.sandbox.cs.routes import CsState
from batchgs.sandbox.settings import SandboxConfig
from batchgs.sandbox.state import STATE_KEY, SandboxState
from batchgs.sandbox.store import PxStore

T = TypeVar("T")
SHUTDOWN_GRACE_S = 2.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    """The URL clients should use; "localhost" becomes the address actually bound (see start_site)."""
    host = "127.0.0.1" if host == "localhost" else host.strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Listen on one address (never "localhost": it may resolve to two sockets with two ports)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    bind = "127.0.0.1" if host == "localhost" else host.strip("[]")
    site = web.TCPSite(runner, bind, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    address = runner.addresses[0]
    return runner, int(address[1])


class SandboxThread:
    """A sandbox on 127.0.0.1 (port 0 → a free port) served from a background thread.

    Use as a context manager, or `start()` / `stop()`. Start and stop wait at most `timeout_s`.
    `store` (PX data) and `cs` (CS data) can be read and changed from the test thread between
    requests; `stats()`, `configure()` and `call()` run on the server's loop, so they never race it.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        store: PxStore | None = None,
        cs_state: CsState | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self._requested_port = port
        self._timeout_s = timeout_s
        self.clock = Clock()
        self.app = build_app(self.config, store=store, clock=self.clock, cs_state=cs_state)
        self.state: SandboxState = self.app[STATE_KEY]
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ---- handles for tests ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return base_url(self.host, self.port)

    @property
    def api_key(self) -> str:
        return self.state.config.api_key

    @property
    def store(self) -> PxStore:
        return self.state.store

    @property
    def cs(self) -> CsState:
        assert self.state.cs is not None
        return self.state.cs

    def stats(self, *, log: bool = True) -> dict[str, Any]:
        def snapshot() -> dict[str, Any]:
            data = self.state.stats.snapshot(include_log=log, now=self.clock.monotonic())
            data["active_scrolls"] = self.state.scrolls.active()
            return data

        return self.call(snapshot)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change faults/limits while running, e.g. `configure(fail_rate=0.2, seed=3)`."""
        return self.call(lambda: self.state.configure(**changes))

    def reset_stats(self) -> None:
        self.call(self.state.reset_stats)

    def advance_clock(self, seconds: float) -> None:
        self.call(lambda: self.clock.advance(seconds))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's event loop and return its result."""
        loop = self._loop
        if loop is None or not self._ready.is_set():
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(self._timeout_s)

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SandboxThread:
        if self._thread is not None:
            raise RuntimeError("this sandbox was already started")
        self._thread = threading.Thread(target=self._serve, name="batchgs-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout_s):
            raise RuntimeError(f"the sandbox did not start within {self._timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the sandbox could not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        if runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(self._timeout_s)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(self._timeout_s)
        if thread.is_alive():
            raise RuntimeError(f"the sandbox thread did not stop within {self._timeout_s:g} s")

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner, self.port = loop.run_until_complete(
                start_site(self.app, self.host, self._requested_port)
            )
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


async def serve(config: SandboxConfig, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM; `on_ready(url)` runs once the socket accepts connections.
    The state file (if any) is written by the app's cleanup hook on the way out."""
    app = build_app(config)
    store = app[STATE_KEY].store
    for table in (store.users, store.accounts):
        # built before the first request rather than during an exporter's first probes (~0.2 s at
        # 100,000 users); only here, where nothing but HTTP changes the records (a test reaching into
        # a SandboxThread's store may edit a createDate in place before its first request)
        index = table.index("createDate")
        index.ascending, index.descending  # noqa: B018 - the probes' lists, built now too
    store.users.keep_encodings()  # nothing but HTTP changes the records here (see Table)
    # The seeded records are millions of long-lived dicts: every full collection walked them all, a
    # third of the sandbox's CPU under an export. Frozen, the collector skips what exists now.
    gc.freeze()
    runner, actual_port = await start_site(app, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or Windows
            loop.add_signal_handler(sig, stop.set)
    try:
        on_ready(base_url(host, actual_port))
        await stop.wait()
    finally:
        await runner.cleanup()
