"""The share board and the daily ledger in Redis, for jobs on several machines (`BATCHGS_COORDINATOR`).

Imported only when a coordinator is configured (redis-py is not loaded otherwise).
- Board: a hash `batchgs:<pool>:jobs` (job id -> JSON record). A tick is WATCH + read + `plan_tick` +
  MULTI/EXEC, retried when another job wrote in between, so the claims never add up past the key's rate;
  every time is the Redis server's TIME, so machines whose clocks differ agree.
- Ledger: a hash `batchgs:<pool>:day` (minute -> requests); reserving is one Lua script (server TIME,
  drop minutes older than 24 h, check, add), so three machines cannot overshoot the daily limit.
- `batchgs:<pool>:meta` holds the scope, the key's fingerprint, the base URL and the limits for
  `batchgs quota`; `batchgs:pools` lists the pools. Nothing stored is a key or a secret.
Every key expires when unused (the board after a few minutes, the ledger after a day).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from batchgs.config import Coordinator
from batchgs.errors import CoordinatorLost, QuotaExhausted
from batchgs.transport.ledger import BUCKET, DAY, exhausted_error
from batchgs.transport.share import LOST_AFTER, BoardView, JobRecord, TickInput, plan_tick

PREFIX = "batchgs:"
POOLS = PREFIX + "pools"
BOARD_TTL = 600  # seconds a pool's board survives without any tick
CALL_TIMEOUT = 2.0  # seconds for one call to Redis
T = TypeVar("T")

# KEYS[1] the day hash. ARGV: n, limit, upto (1: reserve min(n, left) if >= 1), day seconds, bucket.
# Returns {reserved, server now, when n would fit (-1 never, "" now), used after}. Floats travel as text
# (Redis truncates Lua numbers to integers).
_RESERVE = """
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n, limit, upto = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local day, bucket = tonumber(ARGV[4]), tonumber(ARGV[5])
local live_after = (now - day) / bucket - 1
local flat = redis.call('HGETALL', KEYS[1])
local used, minutes = 0, {}
for i = 1, #flat, 2 do
  local m, c = tonumber(flat[i]), tonumber(flat[i + 1])
  if m <= live_after then
    redis.call('HDEL', KEYS[1], flat[i])
  elseif c > 0 then
    used = used + c
    table.insert(minutes, {m, c})
  end
end
if upto == 1 and n > 0 then
  n = math.min(n, math.max(1, limit - used))
end
if n > 0 and used + n > limit then
  local at = -1
  if n <= limit then
    table.sort(minutes, function(a, b) return a[1] < b[1] end)
    local excess, freed = used + n - limit, 0
    for _, mc in ipairs(minutes) do
      freed = freed + mc[2]
      if freed >= excess then
        at = (mc[1] + 1) * bucket + day
        break
      end
    end
  end
  return {0, tostring(now), tostring(at), used}
end
if n > 0 then
  redis.call('HINCRBY', KEYS[1], tostring(math.floor(now / bucket)), n)
  redis.call('EXPIRE', KEYS[1], math.ceil(day + 2 * bucket))
end
return {n, tostring(now), '', used + n}
"""

# KEYS[1] the day hash. ARGV: n, minute. Never below zero.
_REFUND = """
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
if c > 0 then redis.call('HSET', KEYS[1], ARGV[2], math.max(0, c - tonumber(ARGV[1]))) end
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def board_key(pool: str) -> str:
    return f"{PREFIX}{pool}:jobs"


def day_key(pool: str) -> str:
    return f"{PREFIX}{pool}:day"


def meta_key(pool: str) -> str:
    return f"{PREFIX}{pool}:meta"


def connect(coordinator: Coordinator) -> aioredis.Redis:
    """An asyncio client with short timeouts: a lost coordinator must be noticed in seconds. The
    password travels as an argument, never inside a URL that could be printed."""
    password = coordinator.password.reveal() if coordinator.password else None
    client: aioredis.Redis = aioredis.Redis.from_url(
        coordinator.url,
        password=password,
        socket_timeout=CALL_TIMEOUT,
        socket_connect_timeout=CALL_TIMEOUT,
        health_check_interval=10,
    )
    return client


class RedisShareBoard:
    """The jobs of one pool on every machine that uses the coordinator."""

    def __init__(
        self,
        client: aioredis.Redis,
        pool: str,
        *,
        capacity: int,
        window: float,
        stale_after: float,
        meta: dict[str, str],
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.pool = pool
        self.capacity = capacity
        self.window = window
        self.stale_after = stale_after
        self.meta = {**meta, "capacity": str(capacity), "window": str(window)}
        self.owns_client = owns_client

    async def tick(self, me: TickInput) -> JobRecord:
        key = board_key(self.pool)
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    seconds, micros = await pipe.time()
                    now = seconds + micros / 1_000_000
                    raw = await pipe.hgetall(key)
                    records = {_text(k): JobRecord.from_json(json.loads(v)) for k, v in raw.items()}
                    mine, _alive, expired = plan_tick(
                        records,
                        me,
                        now=now,
                        capacity=self.capacity,
                        window=self.window,
                        stale_after=self.stale_after,
                    )
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                    if expired:
                        pipe.hdel(key, *expired)
                    pipe.hset(key, me.job, json.dumps(mine.to_json()))
                    pipe.expire(key, BOARD_TTL)
                    pipe.hset(meta_key(self.pool), mapping=cast(Any, self.meta))
                    pipe.expire(meta_key(self.pool), int(DAY) + 2 * BUCKET)
                    pipe.sadd(POOLS, self.pool)
                    await pipe.execute()
                    return mine
                except WatchError:
                    continue

    async def leave(self, me: TickInput) -> None:
        await self.tick(me)

    async def close(self) -> None:
        if self.owns_client:
            await self.client.aclose()


class RedisLedger:
    """The rolling-24-hour quota of one pool, shared through Redis. A Redis failure is retried for
    `LOST_AFTER` seconds, then stops the run (`CoordinatorLost`, exit 4): nothing is sent uncounted."""

    def __init__(
        self,
        client: aioredis.Redis,
        pool: str,
        *,
        scope: str,
        fingerprint: str,
        daily_limit: int,
        meta: dict[str, str] | None = None,
        lost_after: float = LOST_AFTER,
        describe: str = "the coordinator",
    ) -> None:
        self.client = client
        self.meta = {
            **(meta or {}),
            "scope": scope,
            "fingerprint": fingerprint,
            "daily_limit": str(daily_limit),
        }
        self._meta_written = False
        self.pool = pool
        self.scope = scope
        self.fingerprint = fingerprint
        self.daily_limit = int(daily_limit)
        self.lost_after = lost_after
        self.describe = describe
        self._offset = 0.0  # local epoch - server epoch, from the last answer
        self._used = 0
        self._lost: CoordinatorLost | None = None  # once lost, every later call fails at once
        self._reserve = client.register_script(_RESERVE)
        self._refund = client.register_script(_REFUND)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        started = time.monotonic()
        while self._lost is None:
            try:
                async with asyncio.timeout(CALL_TIMEOUT * 2):
                    return await call()
            except (RedisError, OSError, TimeoutError) as exc:
                if time.monotonic() - started >= self.lost_after:
                    self._lost = CoordinatorLost(
                        f"lost {self.describe} while counting the daily quota ({type(exc).__name__}); "
                        "stopped rather than send uncounted requests",
                        hint="check the coordinator, then resume",
                    )
                    break
                await asyncio.sleep(0.25)
        raise self._lost

    async def _run(self, n: int, *, upto: bool) -> tuple[int, float, float | None]:
        args = [n, self.daily_limit, 1 if upto else 0, DAY, BUCKET]
        answer: Any = await self._retrying(lambda: self._reserve(keys=[day_key(self.pool)], args=args))
        got, server_now, when, used = int(answer[0]), float(answer[1]), answer[2], int(answer[3])
        local_now = time.time()
        self._offset = local_now - server_now
        self._used = used
        if got and not self._meta_written:
            await self._retrying(self._write_meta)
            self._meta_written = True
        if isinstance(when, bytes):
            when = when.decode()
        if not when:
            return got, local_now, None
        at = float(when)
        return got, local_now, (math.inf if at < 0 else at + self._offset)

    async def _write_meta(self) -> None:
        """What `batchgs quota` shows about this pool (no key, no secret)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(meta_key(self.pool), mapping=cast(Any, self.meta))
            pipe.expire(meta_key(self.pool), int(DAY) + 2 * BUCKET)
            pipe.sadd(POOLS, self.pool)
            await pipe.execute()

    async def reserve_upto_async(self, n: int) -> tuple[int, float]:
        """Reserve min(n, left) requests (at least 1): (how many, local time), or (0, when 1 fits)."""
        got, now, at = await self._run(n, upto=True)
        if got:
            return got, now
        return 0, at if at is not None else now

    async def used_async(self) -> int:
        await self._run(0, upto=False)
        return self._used

    async def left_async(self) -> int:
        return max(0, self.daily_limit - await self.used_async())

    async def refund_async(self, n: int, at: float) -> None:
        """Give back reservations never sent — best effort: with the coordinator lost they stay
        counted, which errs on the safe side (at most one lease chunk per job)."""
        if n <= 0 or self._lost is not None:
            return
        minute = math.floor((at - self._offset) / BUCKET)
        with contextlib.suppress(CoordinatorLost):
            await self._retrying(lambda: self._refund(keys=[day_key(self.pool)], args=[n, minute]))

    def exhausted(self, n: int, available_at: float) -> QuotaExhausted:
        return exhausted_error(
            n,
            available_at,
            used=self._used,
            daily_limit=self.daily_limit,
            scope=self.scope,
            key=self.fingerprint,
        )

    async def aclose(self) -> None:
        return None


async def list_pools(client: aioredis.Redis) -> list[tuple[dict[str, str], BoardView, int]]:
    """(meta, board view, requests used in the rolling 24 h) of every pool the coordinator knows."""
    seconds, micros = await client.time()
    now = seconds + micros / 1_000_000
    found = []
    for raw_pool in sorted(await client.smembers(POOLS)):
        pool = _text(raw_pool)
        meta = {_text(k): _text(v) for k, v in (await client.hgetall(meta_key(pool))).items()}
        if not meta:
            await client.srem(POOLS, pool)
            continue
        jobs = [JobRecord.from_json(json.loads(v)) for v in (await client.hgetall(board_key(pool))).values()]
        live = sorted((job for job in jobs if job.expires > now), key=lambda job: job.started)
        live_after = (now - DAY) / BUCKET - 1
        counts = await client.hgetall(day_key(pool))
        used = sum(int(c) for m, c in counts.items() if float(m) > live_after)
        view = BoardView(
            pool, meta.get("scope", "?"), int(meta.get("capacity", 0)), float(meta.get("window", 1)), live
        )
        found.append((meta, view, used))
    return found
