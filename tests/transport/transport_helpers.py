"""A tiny aiohttp.web server on 127.0.0.1:0 for the transport tests (not the sandbox: these tests
must not depend on it), plus a way to build clients against it."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from batchgs.config import Secret
from batchgs.transport.client import ApiClient, TransportStats
from batchgs.transport.ledger import QuotaLedger
from batchgs.transport.limiter import SlidingWindowLimiter
from batchgs.transport.retry import RetryPolicy

KEY = "test-key-123456"


@asynccontextmanager
async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """Run `app` on a random loopback port; yields its base URL; always stopped."""
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Recorder:
    """Middleware that records every request's monotonic arrival time, method, path, headers."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.requests: list[dict[str, Any]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.rel_url.raw_query_string,
                "headers": dict(request.headers),
            }
        )
        return await handler(request)


def make_app(routes: list[web.RouteDef], recorder: Recorder | None = None) -> web.Application:
    app = web.Application(middlewares=[recorder.middleware] if recorder else [])
    app.add_routes(routes)
    return app


def fast_policy(attempts: int = 4, total: float = 30.0) -> RetryPolicy:
    import random

    return RetryPolicy(
        max_attempts=attempts, max_total_seconds=total, base=0.001, cap=0.01, rng=random.Random(7)
    )


def client_for(
    base_url: str,
    *,
    api: str = "px",
    rate: float = 1000.0,
    limiter: SlidingWindowLimiter | None = None,
    policy: RetryPolicy | None = None,
    ledger: QuotaLedger | None = None,
    stats: TransportStats | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    wait_for_quota: bool = False,
) -> ApiClient:
    header = "X-APTRINSIC-API-KEY" if api == "px" else "accesskey"
    return ApiClient(
        base_url,
        api=api,  # type: ignore[arg-type]
        secret_headers={header: Secret(KEY)},
        limiter=limiter or SlidingWindowLimiter(rate, burst=int(rate)),
        ledger=ledger,
        policy=policy or fast_policy(),
        stats=stats,
        timeout=timeout,
        wait_for_quota=wait_for_quota,
    )


def max_in_window(arrivals: list[float], window: float = 1.0) -> int:
    """The most arrivals in any half-open window [t, t + window)."""
    times = sorted(arrivals)
    best, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - window:
            left += 1
        best = max(best, right - left + 1)
    return best


def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
