"""The one object every sandbox handler and middleware shares, reachable from `request.app`."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from batchgs import fastjson
from batchgs.sandbox.clock import Clock
from batchgs.sandbox.errors import ApiError
from batchgs.sandbox.faults import FaultInjector
from batchgs.sandbox.limits import KeyLimits
from batchgs.sandbox.paging import ScrollRegistry
from batchgs.sandbox.settings import RUNTIME_FIELDS, SandboxConfig
from batchgs.sandbox.stats import Stats
from batchgs.sandbox.store import PxStore


@dataclass
class SandboxState:
    """Config, data, clock, counters and limiters of one running sandbox."""

    config: SandboxConfig
    store: PxStore
    clock: Clock
    cs: Any = None  # batchgs.sandbox.cs.routes.CsState when the CS routes are mounted
    stats: Stats = field(init=False)
    limits: KeyLimits = field(default_factory=KeyLimits)
    faults: FaultInjector = field(init=False)
    scrolls: ScrollRegistry = field(init=False)
    ids: random.Random = field(init=False)
    px_resources: set[int] = field(default_factory=set)  # id() of the PX route resources
    read_only_posts: set[str] = field(default_factory=set)  # PX POST routes that only read

    def __post_init__(self) -> None:
        self.stats = Stats(self.clock.monotonic(), self.config.log_limit)
        self.faults = FaultInjector(self.config.seed)
        self.scrolls = ScrollRegistry(self.clock, lambda: self.config.scroll_ttl_s, self.config.seed)
        self.ids = random.Random(self.config.seed + 104729)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change faults/limits at runtime (the names of settings.RUNTIME_FIELDS only)."""
        refused = sorted(set(changes) - RUNTIME_FIELDS)
        if refused:
            raise ValueError(f"not changeable at runtime: {', '.join(refused)}")
        self.config = self.config.with_changes(**changes)
        if "seed" in changes:
            self.faults.reseed(self.config.seed)
        if "retry_after" in changes and self.cs is not None:
            self.cs.retry_after = self.config.retry_after
        return self.config

    def reset_stats(self) -> None:
        self.stats = Stats(self.clock.monotonic(), self.config.log_limit)

    def new_id(self) -> str:
        """A deterministic (seeded) UUID for generated ids such as aptrinsicId or eventId."""
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))


STATE_KEY = web.AppKey("batchgs_sandbox_state", SandboxState)


def state_of(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


def add_px_route(
    app: web.Application, method: str, path: str, handler: Any, *, reads_only: bool = False
) -> None:
    """Register a PX route: it then goes through PX auth and limits; `reads_only` exempts a POST from
    the read-only-key check (e.g. "get preferences, id in body")."""
    state = app[STATE_KEY]
    route = app.router.add_route(method, path, handler)
    state.px_resources.add(id(route.resource))
    if reads_only:
        state.read_only_posts.add(path)


async def json_body(request: web.Request) -> Any:
    """The JSON body, or 400/415 in the PX error shape."""
    raw = await request.read()
    if not raw:
        raise ApiError(400, "Bad request: the request body is missing")
    if request.content_type != "application/json":
        raise ApiError(415, f"Content type '{request.content_type}' not supported; send application/json")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Bad request: malformed JSON") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    """Compact UTF-8 JSON, encoded by orjson (batchgs.fastjson): a 1,000-record page in ~1.5 ms
    instead of ~15 ms, so that the sandbox is not what limits an export benchmark."""
    return web.Response(
        status=status, body=fastjson.dumps(data), content_type="application/json", charset="utf-8"
    )
