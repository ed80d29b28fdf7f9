"""One key, many jobs: every batchgs process using a key divides the key's rate fairly, and the sum of
their requests stays within the key's rate in every sliding window.

Each job keeps its own exact sliding-window limiter (no round trip per request) and publishes, on a
shared board (`share_local`: a SQLite file in the state folder; `coordinator`: Redis), a record:
its `want` (its own `--rate`), its `limit` (the share its limiter enforces now) and its `live` slots
(requests the server may still count in the current window). The job's *claim* is `max(limit, live)`:
an upper bound of what the server can see from it in any window ending from now on, because its
limiter grants only while fewer than `limit` slots are live. The board holds one invariant, checked
atomically (SQLite `BEGIN IMMEDIATE`, Redis WATCH/MULTI): the claims add up to at most the key's rate.

Every `TICK` seconds (every `SATISFIED_SLOWDOWN` ticks while it has all it wants) a job re-plans in
one atomic step (`plan_tick`): the fair shares are max-min fair
(water-filling; nobody gets more than its `want`); a job above its fair share lowers its limit at
once (always safe); a job below it raises only into what the others' claims leave free. A job that
joins late therefore gets its share once the others' old slots have expired — about one window plus
a tick or two. A job that ends publishes `limit 0` and its record lives one more window (its last
slots still count); a job that dies stops its heartbeat and its record expires after `stale_after`
(longer than a window, so its last requests are out of every window when its claim goes). A job that
cannot reach the board for `TICK_TIMEOUT` stops granting at once, well before the others may take its
share, and stops the run (exit 4) after `LOST_AFTER`: never unthrottled.

Durations are measured on each job's own clock and times on the board are the board's clock (the
Redis server's TIME), so machines whose clocks differ still keep the invariant.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from batchgs.errors import CoordinatorLost
from batchgs.transport.limiter import SlidingWindowLimiter

TICK = 0.1  # seconds between two re-plans of a job (a late joiner ramps up in these steps)
# ...while it has all it wants (a job alone on its key, say), it re-plans this much less often: its
# share can only go down, which a joiner waits for at most this long; ticks cost CPU per request
SATISFIED_SLOWDOWN = 5
TICK_TIMEOUT = 1.0  # a tick slower than this counts as failed: the job holds its grants at once
LOST_AFTER = 5.0  # seconds of failed ticks before a run stops (exit 4); it sends nothing meanwhile
log = logging.getLogger(__name__)


def pool_id(fingerprint: str, base_url: str, scope: str) -> str:
    """The id of the jobs sharing one key at one API: a hash of the key's fingerprint (itself a hash,
    never the key) and the base URL."""
    text = f"batchgs-pool:{scope}:{fingerprint}:{base_url.rstrip('/').lower()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class JobRecord:
    """One job on the board. Times are the board's clock."""

    job: str
    want: int  # slots per window the job would use alone (its own --rate)
    limit: int  # slots per window its limiter may grant now
    live: int  # slots live at its last tick
    started: float
    expires: float  # the record (and its claim) is gone after this
    ending: bool = False
    host: str = ""
    pid: int = 0
    label: str = ""  # what the job is (a run folder, a command), for `batchgs quota`

    @property
    def claim(self) -> int:
        return max(self.limit, self.live)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def fair_shares(capacity: int, wants: Mapping[str, int], order: list[str]) -> dict[str, int]:
    """Max-min fair integer shares of `capacity`: equal parts, a job never gets more than it wants, what
    one does not use goes to the others; the leftover slots of an uneven division go to the earliest."""
    shares = dict.fromkeys(wants, 0)
    pending = [job for job in order if wants[job] > 0]
    left = capacity
    while pending:  # those who want less than an equal part get what they want
        part = left // len(pending)
        modest = [job for job in pending if wants[job] <= part]
        if not modest:
            break
        for job in modest:
            shares[job] = wants[job]
            left -= wants[job]
        pending = [job for job in pending if job not in modest]
    if pending:  # the others split the rest evenly
        part, extra = divmod(left, len(pending))
        for index, job in enumerate(pending):
            shares[job] = part + (1 if index < extra else 0)
    return shares


@dataclass(frozen=True)
class TickInput:
    """What a job brings to one tick."""

    job: str
    want: int
    live: int
    ending: bool
    host: str
    pid: int
    label: str


def plan_tick(
    records: Mapping[str, JobRecord],
    me: TickInput,
    *,
    now: float,
    capacity: int,
    window: float,
    stale_after: float,
) -> tuple[JobRecord, dict[str, JobRecord], list[str]]:
    """One atomic step on the board: my new record, the records that stay, and the expired ones to
    remove. Holds `sum(claim) <= capacity` whenever it held before."""
    expired = [job for job, rec in records.items() if rec.expires <= now and job != me.job]
    alive = {job: rec for job, rec in records.items() if job not in expired and job != me.job}
    mine = records.get(me.job)
    started = mine.started if mine is not None else now
    limit = mine.limit if mine is not None else 0
    others = sum(rec.claim for rec in alive.values())
    if me.ending:
        new_limit, expires = 0, now + window + TICK
    else:
        running = {job: rec for job, rec in alive.items() if not rec.ending}
        wants = {job: rec.want for job, rec in running.items()} | {me.job: me.want}
        order = sorted(wants, key=lambda job: (running[job].started if job in running else started, job))
        target = fair_shares(capacity, wants, order)[me.job]
        # lowering is always safe; raising only into what the others' claims leave free
        new_limit = target if target <= limit else max(limit, min(target, capacity - others))
        expires = now + stale_after
    record = JobRecord(
        job=me.job,
        want=me.want,
        limit=new_limit,
        live=me.live,
        started=started,
        expires=expires,
        ending=me.ending,
        host=me.host,
        pid=me.pid,
        label=me.label,
    )
    return record, {**alive, me.job: record}, expired


@dataclass(frozen=True)
class BoardView:
    """The jobs sharing one key now, for `batchgs quota` and `batchgs status`."""

    pool: str
    scope: str
    capacity: int
    window: float
    jobs: list[JobRecord]


class ShareBoard(Protocol):
    """Where the jobs of a pool meet. `tick` is one atomic `plan_tick` on the board's clock."""

    async def tick(self, me: TickInput) -> JobRecord: ...

    async def leave(self, me: TickInput) -> None: ...

    async def close(self) -> None: ...


def job_id() -> str:
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ShareSnapshot:
    """This job's share as last planned, for progress lines, summary.json and `batchgs status`."""

    job: str
    limit: int
    want: int
    at: float  # epoch seconds, local clock


class ShareKeeper:
    """Keeps one limiter's share in step with the board while a client is open."""

    def __init__(
        self,
        board: ShareBoard,
        limiter: SlidingWindowLimiter,
        *,
        label: str = "",
        tick: float = TICK,
        lost_after: float = LOST_AFTER,
        describe: str = "the coordinator",
        on_change: Callable[[ShareSnapshot], None] | None = None,
    ) -> None:
        self.board = board
        self.limiter = limiter
        self.job = job_id()
        self.label = label
        self.tick_seconds = tick
        self.lost_after = lost_after
        self.describe = describe
        self.on_change = on_change
        self.last: JobRecord | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failing_since: float | None = None
        # the board call in progress: a tick slower than TICK_TIMEOUT is not abandoned (an abandoned
        # SQLite tick keeps its thread; re-sending one every tick piled them up in the default executor,
        # behind which the run's own to_thread work waited) and its answer is applied when it comes
        self._pending: asyncio.Task[JobRecord] | None = None

    def _input(self, *, ending: bool = False) -> TickInput:
        return TickInput(
            job=self.job,
            want=max(1, int(self.limiter.configured_rate)),
            live=self.limiter.live_slots(),
            ending=ending,
            host=socket.gethostname()[:64],
            pid=os.getpid(),
            label=self.label,
        )

    def _apply(self, record: JobRecord) -> None:
        changed = self.last is None or self.last.limit != record.limit
        waiting = record.limit == 0 and not record.ending
        if waiting and (self.last is None or self.last.limit > 0):  # once per wait, saying why
            log.warning(
                "shared limiter: the other jobs on this key use its whole rate for now; this job waits "
                f"for its share (they give it within {self._share_delay()}; `batchgs quota` lists them)"
            )
        self.last = record
        self.limiter.set_share(record.limit)
        if changed and self.on_change is not None:
            self.on_change(ShareSnapshot(self.job, record.limit, record.want, time.time()))

    def _share_delay(self) -> str:
        """How long a share takes to come free: the others' slots must leave the key's window first."""
        window = self.limiter.window
        return "a second or two" if window <= 1 else f"about {window + self.tick_seconds:.0f} seconds"

    async def start(self) -> None:
        """Join the board (raises what the board raises: the caller turns it into exit 2) and keep
        ticking in the background."""
        self.limiter.set_share(0)  # nothing goes out before the board has said how much may
        self._apply(await self.board.tick(self._input()))
        self._task = asyncio.create_task(self._run(), name="batchgs-share-keeper")

    def _interval(self) -> float:
        """Seconds to the next tick: short while the share is below what the job wants (it may grow),
        SATISFIED_SLOWDOWN times longer once it has all it wants (it can only shrink, when a job joins:
        the joiner gets its share that much later, well within a second or two)."""
        last = self.last
        satisfied = last is not None and last.limit >= last.want
        return self.tick_seconds * (SATISFIED_SLOWDOWN if satisfied else 1)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval()):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            if self._pending is None:  # one board call at a time: a slow one is waited for, not re-sent
                self._pending = asyncio.create_task(self.board.tick(self._input()), name="batchgs-share-tick")
            try:
                async with asyncio.timeout(TICK_TIMEOUT):  # not wait_for: 3.11's can lose a cancel
                    record = await asyncio.shield(self._pending)
            except TimeoutError as exc:  # slow: hold every grant, keep waiting for the same call
                if self._pending.done():  # the call itself timed out: the next tick asks again
                    self._pending = None
                self._on_failure(exc)
                continue
            except Exception as exc:  # the board is unreachable or broken: hold every grant
                self._pending = None
                self._on_failure(exc)
                continue
            self._pending = None
            self._failing_since = None
            self._apply(record)  # a late answer is the board's record of this job: applying it is safe

    def _on_failure(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.warning(
                "shared limiter: %s unreachable (%s); holding requests", self.describe, type(exc).__name__
            )
        self.limiter.set_share(0)
        if now - self._failing_since >= self.lost_after:
            self.limiter.fail(
                CoordinatorLost(
                    f"lost {self.describe} for {self.lost_after:g} s ({type(exc).__name__}); stopped rather "
                    "than send without the shared rate limit",
                    hint="check the coordinator, then resume",
                )
            )

    async def stop(self) -> None:
        """Leave the board: the record stays one more window with limit 0 (its last slots count).
        The ticking task is told to stop, not cancelled: a cancel that lands inside a Redis call can be
        lost there, and a process must never hang at its end waiting for that task."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            _done, pending = await asyncio.wait({task}, timeout=TICK_TIMEOUT * 3)
            for late in pending:
                late.cancel()
        if self._pending is not None:  # a tick still on the board must not land after the leave
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(TICK_TIMEOUT * 2):
                    await self._pending
            self._pending.cancel()
            self._pending = None
        with contextlib.suppress(Exception):  # a lost board forgets the job when its record expires
            async with asyncio.timeout(TICK_TIMEOUT * 2):
                await self.board.leave(self._input(ending=True))
        with contextlib.suppress(Exception):
            await self.board.close()

    def snapshot(self) -> ShareSnapshot | None:
        if self.last is None:
            return None
        return ShareSnapshot(self.job, self.last.limit, self.last.want, time.time())
