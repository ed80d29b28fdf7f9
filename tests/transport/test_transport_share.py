"""The fair-share planner: max-min fair shares, and the invariant that the claims of the jobs sharing a
key never add up past the key's rate, whatever order the jobs tick in and however their slots drain."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from batchgs.transport.share import JobRecord, TickInput, fair_shares, plan_tick

WINDOW = 1.0
STALE = 4.0


def me(job: str, want: int = 200, live: int = 0, *, ending: bool = False) -> TickInput:
    return TickInput(job=job, want=want, live=live, ending=ending, host="h", pid=1, label=job)


def tick(
    board: dict[str, JobRecord], job: TickInput, now: float, capacity: int = 200
) -> tuple[JobRecord, dict[str, JobRecord]]:
    mine, alive, _expired = plan_tick(
        board, job, now=now, capacity=capacity, window=WINDOW, stale_after=STALE
    )
    return mine, alive


def test_fair_shares_split_evenly_and_give_the_remainder_to_the_earliest() -> None:
    assert fair_shares(200, {"a": 200, "b": 200, "c": 200}, ["a", "b", "c"]) == {"a": 67, "b": 67, "c": 66}
    assert fair_shares(200, {"a": 190}, ["a"]) == {"a": 190}  # alone: its own --rate, not the key's


def test_what_a_job_does_not_want_goes_to_the_others() -> None:
    assert fair_shares(200, {"a": 50, "b": 200, "c": 200}, ["a", "b", "c"]) == {"a": 50, "b": 75, "c": 75}
    assert fair_shares(2, {"a": 5, "b": 5, "c": 5}, ["c", "a", "b"]) == {"c": 1, "a": 1, "b": 0}


def test_a_late_job_waits_for_the_others_slots_then_gets_its_share() -> None:
    first, board = tick({}, me("a", live=0), now=0.0)
    assert first.limit == 200  # alone: everything at once
    first, board = tick(board, me("a", live=200), now=0.5)  # busy: 200 slots live
    joiner, board = tick(board, me("b"), now=0.6)
    assert joiner.limit == 0  # a's 200 live slots still count
    first, board = tick(board, me("a", live=200), now=0.7)
    assert first.limit == 100  # lowers at once; its claim stays 200 while the slots are live
    joiner, board = tick(board, me("b"), now=0.8)
    assert joiner.limit == 0
    first, board = tick(board, me("a", live=140), now=1.2)  # slots expire
    joiner, board = tick(board, me("b"), now=1.3)
    assert joiner.limit == 60  # ramps into what is free
    first, board = tick(board, me("a", live=100), now=1.8)
    joiner, board = tick(board, me("b", live=60), now=1.9)
    assert (first.limit, joiner.limit) == (100, 100)


def test_an_ended_job_counts_for_one_more_window_and_a_dead_one_until_its_heartbeat_is_stale() -> None:
    _a, board = tick({}, me("a", live=0), now=0.0)
    _b, board = tick(board, me("b"), now=0.0)
    _a, board = tick(board, me("a", live=100), now=0.1)
    _b, board = tick(board, me("b", live=100), now=0.1)
    assert [r.limit for r in board.values()] == [100, 100]
    gone, board = tick(board, me("a", live=100, ending=True), now=0.2)
    assert gone.limit == 0 and gone.claim == 100
    b, board = tick(board, me("b", live=100), now=0.5)
    assert b.limit == 100  # a's last slots still count
    b, board = tick(board, me("b", live=100), now=0.2 + WINDOW + 0.2)
    assert b.limit == 200 and "a" not in board

    _c, board = tick(board, me("c"), now=2.0)  # c joins, then dies without a word
    b, board = tick(board, me("b", live=100), now=2.1)
    c, board = tick(board, me("c", live=0), now=2.2)
    assert (b.limit, c.limit) == (100, 100)
    b, board = tick(board, me("b", live=100), now=2.2 + STALE - 0.1)
    assert b.limit == 100  # c's heartbeat is not stale yet
    b, board = tick(board, me("b", live=100), now=2.2 + STALE + 0.01)
    assert b.limit == 200 and "c" not in board


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 4),  # which job ticks
            st.floats(0.0, 1.0),  # how far its live slots move between none and its limit
            st.floats(0.0, 0.6),  # time passing
            st.integers(0, 30),  # 0 = the job ends, 1 = it dies (stops ticking), else it carries on
        ),
        max_size=80,
    ),
    wants=st.lists(st.integers(1, 200), min_size=5, max_size=5),
    capacity=st.integers(1, 200),
)
def test_the_claims_never_add_up_past_the_key_and_settle_on_fair_shares(
    steps: list[tuple[int, float, float, int]], wants: list[int], capacity: int
) -> None:
    """Random jobs tick in random order; between its ticks a job's live slots can be anything up to
    what its limiter allows (max of its last live and its limit). After every tick the board's claims
    fit the key. Once the chaos stops and every job drains to its limit, all get their fair share."""
    board: dict[str, JobRecord] = {}
    now = 0.0
    gone: set[str] = set()
    for index, fraction, elapsed, fate in steps:
        job = f"j{index}"
        if job in gone:
            continue
        now += elapsed
        previous = board.get(job)
        ceiling = max(previous.live, previous.limit) if previous else 0
        live = int(ceiling * fraction)
        _mine, board = tick(board, me(job, wants[index], live, ending=fate == 0), now, capacity)
        assert sum(record.claim for record in board.values()) <= capacity
        if fate <= 1:
            gone.add(job)
    running = [f"j{i}" for i in range(5) if f"j{i}" not in gone]
    for _ in range(12):  # calm: every running job ticks often, its live slots drained to its limit
        now += WINDOW / 2
        for job in running:
            limit = board[job].limit if job in board else 0
            _mine, board = tick(board, me(job, wants[int(job[1:])], limit), now, capacity)
            assert sum(record.claim for record in board.values()) <= capacity
    order = sorted(running, key=lambda job: (board[job].started, job))
    expected = fair_shares(capacity, {job: wants[int(job[1:])] for job in running}, order)
    assert {job: board[job].limit for job in running} == expected


def test_a_job_with_all_it_wants_re_plans_less_often_and_a_short_one_at_once() -> None:
    """The keeper's ticks cost CPU per request; a job whose share equals its want (alone on its key)
    can only be asked to give some back, so it re-plans every SATISFIED_SLOWDOWN ticks; a job below
    its want re-plans every tick (its share may grow)."""
    from batchgs.transport.limiter import SlidingWindowLimiter
    from batchgs.transport.share import SATISFIED_SLOWDOWN, TICK, ShareKeeper

    keeper = ShareKeeper(board=None, limiter=SlidingWindowLimiter(190))  # type: ignore[arg-type]
    assert keeper._interval() == TICK  # nothing heard from the board yet

    def record(limit: int) -> JobRecord:
        return JobRecord(
            job=keeper.job, want=190, limit=limit, live=0, started=0.0, expires=9.0, ending=False,
            host="h", pid=1, label="",
        )  # fmt: skip

    keeper.last = record(190)
    assert keeper._interval() == TICK * SATISFIED_SLOWDOWN
    keeper.last = record(95)  # a second job joined: half each, and this one may get more back later
    assert keeper._interval() == TICK
