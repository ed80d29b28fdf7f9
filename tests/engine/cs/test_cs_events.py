"""CS Events Framework imports: headers, nested bodies, the per-minute limit, the uncertain rule."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from batchgs.engine.imports.cs_import import CsImportOptions, CsRunControl
from batchgs.run.journal import Journal
from batchgs.sandbox.server import SandboxThread
from tests.engine.cs.cs_helpers import (
    Recorder,
    VirtualTime,
    client_factory,
    cs_settings,
    max_in_window,
    read_rows,
    run_cs_import,
    virtual_limiter,
    write_events,
)

EVENT_PATH = "/v1.0/api/eventManager/event"


def event_options(**changes: object) -> CsImportOptions:
    base: dict[str, object] = {
        "topic": "Usage",
        "event_name": "Login",
        "event_version": "v01",
        "tenant_id": "sandbox-tenant",
    }
    base.update(changes)
    return CsImportOptions("cs-events", mode="insert", **base)  # type: ignore[arg-type]


def copies(sandbox: SandboxThread) -> Counter[int]:
    """Event `seq` → how many times the sandbox stored it."""
    return Counter(int(event.body["seq"]) for event in sandbox.cs.published_events())


def test_events_publish_with_the_right_headers_and_nested_bodies(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    path = write_events(tmp_path / "events.csv", 20)
    recorder = Recorder()
    run_dir = tmp_path / "run"
    summary = run_cs_import(
        run_dir,
        path,
        event_options(),
        client_factory(cs_settings(sandbox, tmp_path / "s"), events=True, recorder=recorder),
    )
    assert summary["rows_succeeded"] == 20 and summary["status"] == "completed"
    events = sandbox.cs.published_events()
    assert sorted(int(e.body["seq"]) for e in events) == list(range(20))
    for event in events:
        assert (event.topic_name, event.event_name, event.event_version) == ("Usage", "Login", "v01")
        assert event.tenant_id == "sandbox-tenant" and event.secret_matched
        assert "accesskey" not in {h.lower() for h in event.headers}
        seq = int(event.body["seq"])
        assert event.body["account"] == {"name": f"Account {seq % 7}", "id": f"A-{seq % 7:03d}"}
        assert event.body["usage"] == {"logins": seq % 13}
        assert event.body["active"] is bool(seq % 2)
    assert all(call[3] == {"topicName": "Usage", "eventName": "Login", "eventVersion": "v01",
                           "tenantId": "sandbox-tenant"} for call in recorder.calls)  # fmt: skip
    success = read_rows(run_dir / "success.csv")
    assert len(success) == 20 and {r["_operation"] for r in success.values()} == {"published"}
    assert all(r["requestId"] for r in success.values())


def test_a_wrong_tenant_stops_the_run_resumably_and_sends_nothing_more(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    path = write_events(tmp_path / "events.csv", 30)
    run_dir = tmp_path / "run"
    factory = client_factory(cs_settings(sandbox, tmp_path / "s"), events=True)
    summary = run_cs_import(run_dir, path, event_options(tenant_id="someone-else"), factory)
    assert summary["status"] == "paused" and summary["status_reason"] == "fatal-api-error"
    assert "shared secret or tenant" in str(summary["stop"])
    assert summary["rows_uncertain"] == 0  # answered 401: not stored, so not in doubt
    assert len(sandbox.cs.calls(EVENT_PATH)) <= 4  # the workers in flight, then nothing
    assert sandbox.cs.published_events() == []


def test_the_default_100_per_minute_holds_in_every_sliding_minute(sandbox_factory, tmp_path: Path) -> None:
    """The real defaults (Settings: 100/min, the sandbox's fixed 100/min windows) on a virtual clock."""
    sandbox = sandbox_factory(rate_limit=0)
    settings = cs_settings(sandbox, tmp_path / "state")
    assert settings.cs_per_minute == 100 and sandbox.cs.per_minute_limit == 100
    vt = VirtualTime(sandbox)
    path = write_events(tmp_path / "events.csv", 250)
    summary = run_cs_import(
        tmp_path / "run",
        path,
        event_options(),
        client_factory(settings, events=True, limiter=virtual_limiter(vt, settings.cs_per_minute)),
    )
    assert summary["rows_succeeded"] == 250 and summary["responses_429"] == 0
    calls = sandbox.cs.calls(EVENT_PATH)
    assert len(calls) == 250 and all(c.status == 200 for c in calls)
    assert max_in_window((c.at_ms for c in calls), 60_000) <= 100
    assert vt.offset >= 120  # 250 calls needed at least two more minutes: the limiter did hold


def test_ambiguous_failures_are_uncertain_and_never_resent_unless_asked(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(
        rate_limit=0,
        cs_per_minute_limit=0,
        seed=4,
        ambiguous_rate=0.08,  # stored, then answered 500
        drop_rate=0.04,
        drop_after_apply=True,  # stored, then the connection dropped
        fail_rate=0.08,
        fail_statuses=(429, 503),  # 429: never stored (retried); 503: not stored, but we cannot know
        retry_after=False,  # no 1-second Retry-After pauses: the limiter backs off on its own
    )
    settings = cs_settings(sandbox, tmp_path / "state")
    path = write_events(tmp_path / "events.csv", 300)
    run_dir = tmp_path / "run"
    factory = client_factory(settings, events=True)
    summary = run_cs_import(run_dir, path, event_options(), factory)
    assert sandbox.stats()["faults"], "no fault was injected: the test would prove nothing"

    with Journal.open(run_dir, lock=False) as journal:
        outcomes = {o.row: o for o in journal.iter_outcomes()}
    uncertain = {row - 2 for row, o in outcomes.items() if o.status == "uncertain"}
    succeeded = {row - 2 for row, o in outcomes.items() if o.status == "succeeded"}
    assert uncertain and summary["rows_uncertain"] == len(uncertain)
    assert succeeded | uncertain == set(range(300))
    stored = copies(sandbox)
    assert all(stored[seq] == 1 for seq in succeeded)  # a success is stored exactly once
    assert all(stored[seq] <= 1 for seq in uncertain)  # never sent twice
    assert any(stored[seq] == 0 for seq in uncertain) and any(stored[seq] == 1 for seq in uncertain)
    errors = read_rows(run_dir / "errors.csv")
    assert {row - 2 for row in errors} == uncertain
    assert {r["_code"] for r in errors.values()} == {"uncertain"}

    # a plain resume sends nothing: every row is done or uncertain
    sandbox.configure(ambiguous_rate=0.0, drop_rate=0.0, fail_rate=0.0)
    before = len(sandbox.cs.calls(EVENT_PATH))
    again = run_cs_import(run_dir, path, event_options(), factory, resume=True)
    assert len(sandbox.cs.calls(EVENT_PATH)) == before
    assert again["rows_uncertain"] == len(uncertain) and copies(sandbox) == stored

    # --resend-uncertain sends exactly the uncertain rows once more
    control = CsRunControl(progress=False, resend_uncertain=True)
    final = run_cs_import(run_dir, path, event_options(), factory, control=control, resume=True)
    assert len(sandbox.cs.calls(EVENT_PATH)) == before + len(uncertain)
    assert final["rows_succeeded"] == 300 and final["rows_uncertain"] == 0
    after = copies(sandbox)
    assert {seq for seq in range(300) if after[seq] == 2} <= uncertain
    assert all(after[seq] >= 1 for seq in range(300))


def test_rows_are_marked_uncertain_before_their_request_leaves(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    path = write_events(tmp_path / "events.csv", 6)
    run_dir = tmp_path / "run"
    recorder = Recorder()
    seen: list[str | None] = []

    def check_journal(method: str, api_path: str, body: object) -> None:
        with Journal.open(run_dir, lock=False) as journal:
            outcome = journal.get_outcome(int(body["seq"]) + 2)  # type: ignore[index]
        seen.append(outcome.status if outcome else None)

    recorder.before = check_journal
    run_cs_import(
        run_dir,
        path,
        event_options(),
        client_factory(cs_settings(sandbox, tmp_path / "s"), events=True, recorder=recorder),
    )
    assert seen == ["uncertain"] * 6  # a crash at that moment would leave it uncertain, not re-sent


def test_resume_after_a_stop_publishes_every_event_exactly_once(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(rate_limit=0, cs_per_minute_limit=0)
    path = write_events(tmp_path / "events.csv", 80)
    run_dir = tmp_path / "run"
    recorder = Recorder()
    stop_events: list[asyncio.Event] = []
    written: list[object] = []

    def stop_at_the_25th(method: str, api_path: str, body: object) -> None:
        written.append(body)
        if len(written) == 25:
            stop_events[0].set()

    recorder.before = stop_at_the_25th
    factory = client_factory(cs_settings(sandbox, tmp_path / "s"), events=True, recorder=recorder)
    first = run_cs_import(run_dir, path, event_options(), factory, make_stop=stop_events.append)
    assert first["status"] == "paused" and first["status_reason"] == "interrupted"
    assert 25 <= first["rows_succeeded"] < 80 and first["rows_pending"] == 80 - first["rows_succeeded"]
    assert first["rows_uncertain"] == 0  # in-flight requests were finished, not abandoned
    recorder.before = None
    second = run_cs_import(run_dir, path, event_options(), factory, resume=True)
    assert second["status"] == "completed" and second["rows_succeeded"] == 80
    assert copies(sandbox) == Counter(range(80))
    assert len(sandbox.cs.calls(EVENT_PATH)) == 80
