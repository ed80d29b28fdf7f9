"""The CS side of the sandbox, over real HTTP on a loopback port: envelope, auth, limits, CTAs, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from batchgs.sandbox.cs.query import QueryError, parse_list_query
from batchgs.sandbox.cs.routes import CsState, add_cs_routes, is_cs_path

START_MS = 1_767_225_610_000  # 2026-01-01T00:00:10Z: 50 s before the minute ends
DAY_S = 86_400
ENVELOPE_KEYS = {"result", "errorCode", "errorDesc", "requestId", "data"}
EVENT_HEADERS = {
    "sharedSecret": "sandbox-secret",
    "topicName": "usage",
    "eventName": "login",
    "eventVersion": "v01",
    "tenantId": "sandbox-tenant",
}


class FakeClock:
    """Frozen wall time that only moves when a test says so."""

    def __init__(self, epoch_ms: int = START_MS) -> None:
        self.now_ms = epoch_ms

    def epoch_ms(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: Any

    @property
    def data(self) -> Any:
        return self.body["data"]


@dataclass
class Cs:
    session: aiohttp.ClientSession
    state: CsState
    clock: FakeClock

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes = b"",
    ) -> Answer:
        sent_headers = {"accesskey": "sandbox-cs"} if headers is None else headers
        kwargs: dict[str, Any] = {"data": raw} if raw else {"json": body}
        async with self.session.request(method, path, headers=sent_headers, **kwargs) as response:
            payload = await response.json()
            assert set(payload) == ENVELOPE_KEYS, payload
            assert payload["requestId"]
            assert payload["result"] is (payload["errorCode"] is None)
            return Answer(response.status, payload, response.headers)

    async def create(self, *records: dict[str, Any]) -> Answer:
        return await self.call("POST", "/v2/cockpit/cta", {"requests": [{"record": r} for r in records]})

    async def update(self, *records: dict[str, Any]) -> Answer:
        return await self.call("PUT", "/v2/cockpit/cta", {"requests": [{"record": r} for r in records]})

    async def list(self, query: dict[str, Any], path: str = "/v2/cockpit/cta/list") -> Answer:
        return await self.call("POST", path, query)

    async def event(self, body: Any, headers: dict[str, str] | None = None) -> Answer:
        return await self.call(
            "POST",
            "/v1.0/api/eventManager/event",
            body,
            headers=EVENT_HEADERS if headers is None else headers,
        )


@asynccontextmanager
async def serve(state: CsState, clock: FakeClock) -> AsyncIterator[Cs]:
    app = web.Application()
    add_cs_routes(app, state)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
            yield Cs(session, state, clock)
    finally:
        await runner.cleanup()


def run(scenario: Callable[[Cs], Awaitable[None]], **state_options: Any) -> CsState:
    """Serve a fresh CsState on 127.0.0.1:<random>, run the scenario against it, always stop it."""
    clock = FakeClock()
    state = CsState(clock=clock, **state_options)

    async def main() -> None:
        async with serve(state, clock) as cs:
            await scenario(cs)

    asyncio.run(main())
    return state


def company(state: CsState, n: int = 0) -> str:
    return state.company_gsids()[n]


def where(*conditions: tuple[str, str, str, list[Any]], expression: str | None = None) -> dict[str, Any]:
    conds = [{"alias": a, "fieldName": f, "operator": op, "value": v} for a, f, op, v in conditions]
    return {"conditions": conds, "expression": expression}


# ----- auth and envelope ----------------------------------------------------------------------------


def test_accesskey_is_required_and_its_header_name_is_case_insensitive() -> None:
    async def scenario(cs: Cs) -> None:
        for headers in ({}, {"accesskey": "wrong"}, {"X-APTRINSIC-API-KEY": "sandbox-cs"}):
            answer = await cs.call("GET", "/v2/cockpit/admin/picklist/lite", headers=headers)
            assert answer.status == 401
            assert answer.body["result"] is False
            assert answer.body["errorCode"] == "GS_APIG_2401"
            assert answer.data is None
        answer = await cs.call("GET", "/v2/cockpit/admin/picklist/lite", headers={"AccessKey": "sandbox-cs"})
        assert answer.status == 200
        assert answer.body["errorCode"] is None and answer.body["errorDesc"] is None

    state = run(scenario)
    assert [c.status for c in state.calls("/v2/cockpit/admin/picklist/lite")] == [401, 401, 401, 200]
    assert state.counters["status:401"] == 3


def test_secrets_stay_out_of_the_state_repr() -> None:
    state = CsState(access_key="key-123456", shared_secret="secret-654321")
    assert "key-123456" not in repr(state) and "secret-654321" not in repr(state)


def test_cs_paths_are_recognised_for_other_middleware() -> None:
    assert is_cs_path("/v2/cockpit/cta/list") and is_cs_path("/v1.0/api/eventManager/event")
    assert not is_cs_path("/v1/users")


# ----- picklist and seeding -------------------------------------------------------------------------


def test_picklist_lists_the_default_names_with_ids() -> None:
    async def scenario(cs: Cs) -> None:
        data = (await cs.call("GET", "/v2/cockpit/admin/picklist/lite")).data
        names = {group: [item["name"] for item in items] for group, items in data.items()}
        assert names == {
            "types": ["Risk", "Expansion", "Lifecycle", "Renewal", "Event"],
            "reasons": ["Churn", "Low Usage", "Upsell", "Onboarding", "Support Escalation", "Other"],
            "priorities": ["High", "Medium", "Low"],
            "statuses": ["Open", "Work In Progress", "Closed Success", "Closed Lost"],
        }
        ids = [item["id"] for items in data.values() for item in items]
        assert len(set(ids)) == len(ids)

    run(scenario)


def test_seeded_companies_and_users_are_deterministic_by_seed() -> None:
    first, again, other = CsState(seed=7), CsState(seed=7), CsState(seed=8)
    assert len(first.companies) == 20 and len(first.users) == 8
    assert first.companies == again.companies and first.users == again.users
    assert set(first.companies) != set(other.companies)
    assert all(g.startswith("1P02") and len(g) == 36 for g in first.companies)
    assert all(g.startswith("1P01") and len(g) == 36 for g in first.users)
    assert len({c.name for c in first.companies.values()}) == 20


# ----- create ---------------------------------------------------------------------------------------


def test_create_resolves_names_to_ids_and_the_list_shows_flat_records() -> None:
    async def scenario(cs: Cs) -> None:
        owner = cs.state.user_gsids()[0]
        answer = await cs.create(
            {
                "Name": "Renewal risk",
                "CompanyId": company(cs.state),
                "OwnerId": owner,
                "type": "risk",  # names match ignoring case
                "reason": "Low Usage",
                "status": "OPEN",
                "priority": "High",
                "DueDate": "2026-03-31",
                "Comments": "usage fell",
                "Health__gc": 42,
                "referenceId": "row-2",
            },
            {"Name": "Defaults", "CompanyId": company(cs.state, 1), "referenceId": "row-3"},
        )
        assert answer.status == 200 and answer.body["result"] is True
        assert [s["referenceId"] for s in answer.data["success"]] == ["row-2", "row-3"]
        assert answer.data["errors"] == []
        gsid = answer.data["success"][0]["Gsid"]
        assert cs.state.cta(gsid) is not None and gsid.startswith("1S01") and len(gsid) == 36

        listed = await cs.list({"where": where(("A", "Gsid", "EQ", [gsid]), expression="A")})
        (record,) = listed.data["records"]
        assert listed.data["count"] == 1
        picklist = cs.state.picklist
        assert record["Name"] == "Renewal risk"
        assert record["CompanyId"] == company(cs.state)
        assert record["CompanyId__gr.Name"] == cs.state.companies[company(cs.state)].name
        assert record["TypeId"] == picklist.find_by_name("types", "Risk").id  # type: ignore[union-attr]
        assert (record["TypeId__gr.Name"], record["ReasonId__gr.Name"]) == ("Risk", "Low Usage")
        assert (record["StatusId__gr.Name"], record["PriorityId__gr.Name"]) == ("Open", "High")
        assert record["OwnerId"] == owner
        assert (record["DueDate"], record["Comments"], record["Health__gc"]) == (
            "2026-03-31",
            "usage fell",
            42,
        )
        assert (record["IsClosed"], record["ClosedDate"]) == (False, None)
        assert record["CreatedDate"] == "2026-01-01T00:00:10.000Z"
        defaults = cs.state.cta(answer.data["success"][1]["Gsid"])
        assert defaults is not None
        assert [picklist.name_of(defaults[f]) for f in ("TypeId", "ReasonId", "PriorityId", "StatusId")] == [
            "Risk",
            "Other",
            "Medium",
            "Open",
        ]

    state = run(scenario)
    assert state.created_count == 2


def test_one_bad_record_does_not_fail_the_others_and_errors_carry_the_reference_id() -> None:
    async def scenario(cs: Cs) -> None:
        good = {"Name": "ok", "CompanyId": company(cs.state)}
        answer = await cs.create(
            {**good, "referenceId": "r1"},
            {**good, "CompanyId": "1P02NOSUCHCOMPANY", "referenceId": "r2"},
            {**good, "type": "Risky", "referenceId": "r3"},
            {**good, "DueDate": "31/03/2026", "referenceId": "r4"},
            {**good, "Foo": "bar", "TypeId": "x", "referenceId": "r5"},
            {"CompanyId": company(cs.state), "referenceId": "r6"},
            {**good, "OwnerId": "1P01NOBODY", "referenceId": "r7"},
            {**good, "status": "Done", "priority": "Urgent", "referenceId": "r8"},
            {**good, "Gsid": "1S01WHATEVER", "referenceId": "r9"},
            {**good, "referenceId": "r10"},
        )
        assert answer.status == 200 and answer.body["result"] is True
        assert [s["referenceId"] for s in answer.data["success"]] == ["r1", "r10"]
        errors = {e["referenceId"]: e for e in answer.data["errors"]}
        assert set(errors) == {"r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"}
        assert (
            errors["r2"]["errorCode"] == "COCKPIT_5101" and "1P02NOSUCHCOMPANY" in errors["r2"]["errorDesc"]
        )
        assert "type" in errors["r3"]["errorDesc"] and "Risky" in errors["r3"]["errorDesc"]
        assert errors["r4"]["errorCode"] == "GSOBJ_1005" and "DueDate" in errors["r4"]["errorDesc"]
        assert "Foo" in errors["r5"]["errorDesc"] and "TypeId" in errors["r5"]["errorDesc"]
        assert "Name is required" in errors["r6"]["errorDesc"]
        assert "1P01NOBODY" in errors["r7"]["errorDesc"]
        assert (
            "status 'Done'" in errors["r8"]["errorDesc"] and "priority 'Urgent'" in errors["r8"]["errorDesc"]
        )
        assert "Gsid" in errors["r9"]["errorDesc"]

    state = run(scenario)
    assert state.created_count == 2 and len(state.ctas_by_gsid()) == 2


@pytest.mark.parametrize("due", ["2026-02-30", "2026-1-05", "20260105", "2026-01-05T00:00:00"])
def test_bad_due_dates_are_gsobj_1005(due: str) -> None:
    async def scenario(cs: Cs) -> None:
        answer = await cs.create({"Name": "x", "CompanyId": company(cs.state), "DueDate": due})
        assert answer.data["success"] == []
        assert answer.data["errors"][0]["errorCode"] == "GSOBJ_1005"

    run(scenario)


def test_at_most_50_records_per_call() -> None:
    async def scenario(cs: Cs) -> None:
        records = [
            {"Name": f"cta {n}", "CompanyId": company(cs.state), "referenceId": str(n)} for n in range(51)
        ]
        refused = await cs.create(*records)
        assert refused.status == 400 and refused.body["errorCode"] == "COCKPIT_5101"
        assert "50" in refused.body["errorDesc"] and refused.data is None
        assert cs.state.created_count == 0
        accepted = await cs.create(*records[:50])
        assert accepted.status == 200 and len(accepted.data["success"]) == 50
        refused_update = await cs.update(
            *({"Gsid": s["Gsid"], "Comments": "x"} for s in accepted.data["success"]), {}
        )
        assert refused_update.status == 400 and refused_update.body["errorCode"] == "COCKPIT_5101"

    state = run(scenario)
    assert state.created_count == 50 and state.updated_count == 0


def test_unreadable_write_requests_fail_as_a_whole() -> None:
    async def scenario(cs: Cs) -> None:
        not_json = await cs.call("POST", "/v2/cockpit/cta", raw=b"{nope")
        assert not_json.status == 400 and not_json.body["errorCode"] == "COCKPIT_5101"
        bodies: list[Any] = [{}, {"requests": []}, {"requests": "x"}, [1, 2]]
        for body in bodies:
            answer = await cs.call("POST", "/v2/cockpit/cta", body)
            assert answer.status == 400 and answer.body["errorCode"] == "COCKPIT_5101", body
        no_record = await cs.call("POST", "/v2/cockpit/cta", {"requests": [{"nothing": 1}]})
        assert no_record.status == 200 and no_record.data["errors"][0]["referenceId"] is None

    run(scenario)


# ----- update ---------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields_and_closing_sets_closed_date() -> None:
    async def scenario(cs: Cs) -> None:
        created = await cs.create(
            {
                "Name": "keep",
                "CompanyId": company(cs.state),
                "Comments": "c",
                "X__gc": "1",
                "DueDate": "2026-02-01",
            }
        )
        gsid = created.data["success"][0]["Gsid"]
        before = cs.state.cta(gsid)
        cs.clock.advance(DAY_S)
        answer = await cs.update({"Gsid": gsid, "status": "closed success", "referenceId": "u1"})
        assert answer.data == {"success": [{"referenceId": "u1", "Gsid": gsid}], "errors": []}
        after = cs.state.cta(gsid)
        assert before is not None and after is not None
        changed = {k for k in after if after[k] != before[k]}
        assert changed == {"StatusId", "IsClosed", "ClosedDate", "ModifiedDate"}
        assert (after["IsClosed"], after["ClosedDate"]) == (True, "2026-01-02")
        assert after["CreatedDate"] == before["CreatedDate"]

        owner = cs.state.user_gsids()[1]
        await cs.update({"Gsid": gsid, "status": "Open", "OwnerId": owner, "DueDate": None, "X__gc": None})
        reopened = cs.state.cta(gsid)
        assert reopened is not None
        assert (reopened["IsClosed"], reopened["ClosedDate"], reopened["OwnerId"]) == (False, None, owner)
        assert (reopened["DueDate"], reopened["X__gc"], reopened["Name"]) == (None, None, "keep")

        bad = await cs.update(
            {"Gsid": "1S01UNKNOWN", "Name": "x", "referenceId": "a"},
            {"Name": "no gsid", "referenceId": "b"},
            {"Gsid": gsid, "Name": "", "referenceId": "c"},
            {"Gsid": gsid, "priority": "Whenever", "referenceId": "d"},
        )
        codes = {e["referenceId"]: e["errorCode"] for e in bad.data["errors"]}
        assert codes == {"a": "GSOBJ_1011", "b": "COCKPIT_5101", "c": "COCKPIT_5101", "d": "COCKPIT_5101"}
        assert bad.data["success"] == []
        assert cs.state.cta(gsid) == reopened  # refused records change nothing

    run(scenario)


# ----- list -----------------------------------------------------------------------------------------


def test_list_pages_until_gsobj_1011_and_checks_page_bounds() -> None:
    async def scenario(cs: Cs) -> None:
        empty = await cs.list({"pageSize": 10, "pageNumber": 1})
        assert empty.status == 400 and empty.body["errorCode"] == "GSOBJ_1011" and empty.data is None
        for batch in range(3):
            await cs.create(*({"Name": f"n{batch}-{i}", "CompanyId": company(cs.state)} for i in range(10)))
        seen: list[str] = []
        sizes = []
        for page in (1, 2, 3):
            answer = await cs.list({"select": ["Gsid", "Name"], "pageSize": 12, "pageNumber": page})
            assert answer.status == 200
            assert all(set(r) == {"Gsid", "Name"} for r in answer.data["records"])
            sizes.append(answer.data["count"])
            seen += [r["Gsid"] for r in answer.data["records"]]
        assert sizes == [12, 12, 6]
        assert seen == list(cs.state.ctas_by_gsid())  # creation order, no repeats, nothing missing
        past_end = await cs.list({"pageSize": 12, "pageNumber": 4})
        assert past_end.status == 400 and past_end.body["errorCode"] == "GSOBJ_1011"
        ordered = await cs.list({"select": ["Name"], "orderBy": {"Name": "DESC"}, "pageSize": 2})
        assert [r["Name"] for r in ordered.data["records"]] == ["n2-9", "n2-8"]
        for bad in ({"pageSize": 1001}, {"pageSize": 0}, {"pageNumber": 0}, {"pageSize": "10"}):
            answer = await cs.list(bad)
            assert answer.status == 400 and answer.body["errorCode"] == "COCKPIT_5101", bad
        biggest = await cs.list({"pageSize": 1000})
        assert biggest.data["count"] == 30

    run(scenario)


def test_list_filters_by_names_ids_and_expressions() -> None:
    async def scenario(cs: Cs) -> None:
        owner_a, owner_b = cs.state.user_gsids()[:2]
        rows = [
            ("a", "Risk", "Open", "High", owner_a, 0),
            ("b", "Risk", "Closed Lost", "Low", owner_b, 0),
            ("c", "Expansion", "Open", "Low", owner_a, 1),
            ("d", "Renewal", "Work In Progress", "Medium", owner_b, 1),
        ]
        await cs.create(
            *(
                {
                    "Name": n,
                    "type": t,
                    "status": s,
                    "priority": p,
                    "OwnerId": o,
                    "CompanyId": company(cs.state, c),
                }
                for n, t, s, p, o, c in rows
            )
        )

        async def names(where_clause: dict[str, Any]) -> list[str]:
            answer = await cs.list({"select": ["Name"], "where": where_clause, "pageSize": 100})
            if answer.body["errorCode"] == "GSOBJ_1011":
                return []
            assert answer.status == 200, answer.body
            return sorted(r["Name"] for r in answer.data["records"])

        assert await names(where(("A", "StatusId__gr.Name", "EQ", ["Open"]), expression="A")) == ["a", "c"]
        assert await names(where(("A", "TypeId__gr.Name", "IN", ["risk", "Renewal"]), expression="A")) == [
            "a",
            "b",
            "d",
        ]
        assert await names(where(("A", "OwnerId", "EQ", [owner_b]), expression="A")) == ["b", "d"]
        assert await names(where(("A", "CompanyId", "EQ", [company(cs.state, 1)]), expression="A")) == [
            "c",
            "d",
        ]
        assert await names(where(("A", "PriorityId__gr.Name", "NE", ["Low"]), expression="A")) == ["a", "d"]
        both = (("A", "TypeId__gr.Name", "EQ", ["Risk"]), ("B", "PriorityId__gr.Name", "EQ", ["Low"]))
        assert await names(where(*both, expression="A AND B")) == ["b"]
        assert await names(where(*both, expression="A OR B")) == ["a", "b", "c"]
        assert await names(where(*both)) == ["b"]  # no expression: every condition must hold
        assert await names(where(("A", "IsClosed", "EQ", [True]), expression="A")) == ["b"]
        assert await names(where(("A", "StatusId__gr.Name", "EQ", ["Closed Success"]), expression="A")) == []

        for bad in (
            where(("A", "Nonsense", "EQ", ["x"]), expression="A"),
            where(("A", "Name", "SOUNDS_LIKE", ["x"]), expression="A"),
            where(("A", "Name", "EQ", ["x"]), expression="A AND Z"),
            where(("A", "Name", "EQ", ["x"]), expression="A AND"),
            where(("A", "Name", "EQ", []), expression="A"),
        ):
            answer = await cs.list({"where": bad})
            assert answer.status == 400 and answer.body["errorCode"] == "COCKPIT_5101", bad
        unknown_select = await cs.list({"select": ["Gsid", "Bogus"]})
        assert unknown_select.status == 400 and "Bogus" in unknown_select.body["errorDesc"]

    run(scenario)


def test_expression_precedence_and_parentheses() -> None:
    record = {"Name": "x", "Comments": "y", "DueDate": None}
    conditions = [
        {"alias": "A", "fieldName": "Name", "operator": "EQ", "value": ["x"]},
        {"alias": "B", "fieldName": "Comments", "operator": "EQ", "value": ["no"]},
        {"alias": "C", "fieldName": "DueDate", "operator": "IS_NOT_NULL"},
    ]

    def holds(expression: str) -> bool:
        query = parse_list_query(
            {"where": {"conditions": conditions, "expression": expression}}, lambda f: True
        )
        return query.predicate(record)

    assert holds("A OR B AND C")  # AND binds tighter
    assert not holds("(A OR B) AND C")
    assert holds("a and not (b or c)")
    with pytest.raises(QueryError, match="ends too early"):
        holds("(A OR B")


def test_deleted_list_shows_ctas_deleted_within_15_days() -> None:
    async def scenario(cs: Cs) -> None:
        created = await cs.create(*({"Name": f"n{i}", "CompanyId": company(cs.state)} for i in range(3)))
        doomed = created.data["success"][1]["Gsid"]
        assert (await cs.list({}, "/v2/cockpit/cta/deleted/list")).body["errorCode"] == "GSOBJ_1011"
        cs.clock.advance(60)
        assert cs.state.delete_cta(doomed) and not cs.state.delete_cta(doomed)
        live = await cs.list({"select": ["Gsid"]})
        assert doomed not in [r["Gsid"] for r in live.data["records"]] and live.data["count"] == 2
        deleted = await cs.list({"select": ["Gsid", "Name", "DeletedDate"]}, "/v2/cockpit/cta/deleted/list")
        assert deleted.data["records"] == [
            {"Gsid": doomed, "Name": "n1", "DeletedDate": "2026-01-01T00:01:10.000Z"}
        ]
        update = await cs.update({"Gsid": doomed, "Name": "again"})
        assert update.data["errors"][0]["errorCode"] == "GSOBJ_1011"
        cs.clock.advance(14 * DAY_S)
        assert (await cs.list({}, "/v2/cockpit/cta/deleted/list")).status == 200
        cs.clock.advance(2 * DAY_S)
        gone = await cs.list({}, "/v2/cockpit/cta/deleted/list")
        assert gone.status == 400 and gone.body["errorCode"] == "GSOBJ_1011"

    run(scenario)


# ----- events ---------------------------------------------------------------------------------------


def test_events_are_stored_with_their_headers_but_never_the_secret() -> None:
    async def scenario(cs: Cs) -> None:
        first = await cs.event({"user": {"email": "a@x.io"}, "count": 3})
        assert first.status == 200 and first.body["result"] is True
        second = await cs.event({"n": 2}, {**EVENT_HEADERS, "contractId": "c-9"})
        assert second.data["eventId"] != first.data["eventId"]

    state = run(scenario)
    first, second = state.published_events()
    assert first.body == {"user": {"email": "a@x.io"}, "count": 3}
    assert (first.topic_name, first.event_name, first.event_version, first.tenant_id) == (
        "usage",
        "login",
        "v01",
        "sandbox-tenant",
    )
    assert (first.contract_id, second.contract_id, first.secret_matched) == (None, "c-9", True)
    assert "sandbox-secret" not in repr(state.published_events())
    assert state.calls("/v1.0/api/eventManager/event")[0].status == 200


def test_events_refuse_bad_secrets_tenants_headers_and_bodies() -> None:
    async def scenario(cs: Cs) -> None:
        without_secret = {k: v for k, v in EVENT_HEADERS.items() if k != "sharedSecret"}
        cases: list[tuple[dict[str, str], Any, int, str]] = [
            (without_secret, {}, 401, "GS_APIG_2401"),
            ({**EVENT_HEADERS, "sharedSecret": "nope"}, {}, 401, "GS_APIG_2401"),
            ({**EVENT_HEADERS, "tenantId": "other"}, {}, 401, "GS_APIG_2401"),
            ({k: v for k, v in EVENT_HEADERS.items() if k != "eventVersion"}, {}, 400, "GS_EVENT_4001"),
            (EVENT_HEADERS, [1, 2], 400, "GS_EVENT_4001"),
            (EVENT_HEADERS, "text", 400, "GS_EVENT_4001"),
        ]
        for headers, body, status, code in cases:
            answer = await cs.event(body, headers)
            assert (answer.status, answer.body["errorCode"]) == (status, code), (headers, body)
        missing = await cs.event({}, {k: v for k, v in EVENT_HEADERS.items() if k != "eventVersion"})
        assert "eventVersion" in missing.body["errorDesc"]
        lowercase = {k.lower(): v for k, v in EVENT_HEADERS.items()}
        assert (await cs.event({"ok": True}, lowercase)).status == 200  # header names are case-insensitive

    state = run(scenario)
    assert len(state.published_events()) == 1


# ----- limits ---------------------------------------------------------------------------------------


def test_100_calls_per_fixed_minute_then_429_until_the_next_minute() -> None:
    async def scenario(cs: Cs) -> None:
        statuses = [(await cs.call("GET", "/v2/cockpit/admin/picklist/lite")).status for _ in range(100)]
        assert statuses == [200] * 100
        refused = await cs.call("POST", "/v2/cockpit/cta/list", {})
        assert refused.status == 429 and refused.body["errorCode"] == "GS_APIG_2429"
        assert "Rate limit exceeded" in refused.body["errorDesc"]
        assert refused.headers["Retry-After"] == "50"  # the clock stands at hh:mm:10
        assert (await cs.event({"e": 1})).status == 200  # events have their own window
        cs.clock.advance(49.999)
        assert (await cs.call("GET", "/v2/cockpit/admin/picklist/lite")).status == 429
        cs.clock.advance(0.001)  # a new fixed window: the full 100 again
        statuses = [(await cs.call("GET", "/v2/cockpit/admin/picklist/lite")).status for _ in range(101)]
        assert statuses == [200] * 100 + [429]

    state = run(scenario)
    assert state.counters["status:429"] == 3 and state.counters["status:200"] == 201


def test_daily_limit_answers_daily_429_until_the_next_utc_day() -> None:
    async def scenario(cs: Cs) -> None:
        for _ in range(3):
            assert (await cs.event({"x": 1})).status == 200
            cs.clock.advance(120)  # different minutes: only the daily window can refuse
        refused = await cs.event({"x": 1})
        assert refused.status == 429 and "Daily request limit exceeded" in refused.body["errorDesc"]
        assert int(refused.headers["Retry-After"]) == DAY_S - 10 - 360
        cs.clock.advance(DAY_S)
        assert (await cs.event({"x": 1})).status == 200

    state = run(scenario, daily_limit=3)
    assert len(state.published_events()) == 4


def test_unauthorized_calls_do_not_spend_the_limit() -> None:
    async def scenario(cs: Cs) -> None:
        for _ in range(5):
            assert (await cs.call("GET", "/v2/cockpit/admin/picklist/lite", headers={})).status == 401
        statuses = [(await cs.call("GET", "/v2/cockpit/admin/picklist/lite")).status for _ in range(3)]
        assert statuses == [200, 200, 429]

    run(scenario, per_minute_limit=2)


def test_reset_returns_to_the_seeded_start() -> None:
    async def scenario(cs: Cs) -> None:
        await cs.create({"Name": "x", "CompanyId": company(cs.state)})
        await cs.event({"x": 1})

    state = run(scenario)
    seeded = dict(state.companies)
    state.add_company("Extra Co")
    state.reset()
    assert state.ctas_by_gsid() == {} and state.published_events() == [] and state.calls() == []
    assert state.companies == seeded and state.created_count == 0
