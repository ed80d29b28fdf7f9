"""The sandbox application factory: one aiohttp app serving PX and CS, plus the control surface."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from batchgs.sandbox import control
from batchgs.sandbox.clock import Clock
from batchgs.sandbox.cs.routes import CsState, add_cs_routes
from batchgs.sandbox.middleware import MIDDLEWARES
from batchgs.sandbox.px import events as px_events
from batchgs.sandbox.px import lists as px_lists
from batchgs.sandbox.px import preferences as px_preferences
from batchgs.sandbox.px import users_accounts as px_users_accounts
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.settings import SandboxConfig
from batchgs.sandbox.state import STATE_KEY, SandboxState
from batchgs.sandbox.store import PxStore

MAX_BODY_BYTES = 4 * 1024 * 1024


def initial_store(config: SandboxConfig) -> PxStore:
    """The state file when there is one, else freshly seeded data."""
    if config.state_file and Path(config.state_file).is_file():
        return PxStore.load(config.state_file)
    return seed_store(
        PxStore(),
        seed=config.seed,
        users=config.seed_users,
        accounts=config.seed_accounts,
        events=config.seed_events,
        anchor_ms=config.seed_anchor_ms,
        cluster=config.seed_cluster,
    )


def make_cs_state(config: SandboxConfig, clock: Clock) -> CsState:
    return CsState(
        access_key=config.cs_access_key,
        shared_secret=config.cs_shared_secret,
        tenant_id=config.cs_tenant_id,
        per_minute_limit=config.cs_per_minute_limit,
        daily_limit=config.cs_daily_limit,
        retry_after=config.retry_after,
        seed=config.seed,
        clock=clock,
    )


def build_app(
    config: SandboxConfig | None = None,
    *,
    store: PxStore | None = None,
    clock: Clock | None = None,
    cs_state: CsState | None = None,
) -> web.Application:
    """A ready-to-run sandbox app. `store`/`cs_state` let a test bring its own data."""
    config = config or SandboxConfig()
    clock = clock or Clock()
    state = SandboxState(config, store if store is not None else initial_store(config), clock)
    state.cs = cs_state if cs_state is not None else make_cs_state(config, clock)
    app = web.Application(middlewares=list(MIDDLEWARES), client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    control.add_routes(app)
    px_users_accounts.add_routes(app)
    px_events.add_routes(app)
    px_preferences.add_routes(app)
    px_lists.add_routes(app)
    add_cs_routes(app, state.cs)
    if config.state_file:
        app.on_cleanup.append(_save_state)
    return app


async def _save_state(app: web.Application) -> None:
    state = app[STATE_KEY]
    if state.config.state_file:
        state.store.save(state.config.state_file)
