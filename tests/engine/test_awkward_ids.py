"""Every request that carries an id, with every kind of awkward id, against the sandbox: the sandbox must
receive exactly that id (in the path when a path keeps it, in the body otherwise), or, for the requests
that have no id-in-body form, batchgs must refuse before sending rather than send a path a proxy could
resolve to someone else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batchgs.engine import px_requests as rq
from batchgs.engine.optout.actions import PREFERENCE_NAMES, OptOutOptions
from batchgs.engine.optout.user import OneUser
from batchgs.sandbox.server import SandboxThread
from batchgs.sandbox.settings import SandboxConfig
from batchgs.transport.client import needs_id_in_body
from tests.engine.export.export_helpers import fast_client
from tests.engine.imports.import_helpers import fast_settings

AWKWARD = [
    "a b",
    "a\tb",
    "a\nb",
    "a\x00b",
    "a/b",
    "a?b",
    "a#b",
    "50%",
    "a\\b",
    "",
    ".",
    "..",
    "Łukasz-ß-日本",
]
ID_KEYS = ("identifyId", "id")


def _recorder(seen: list[tuple[str, str, str]]) -> Any:
    """(method, where, id) for every request the sandbox routed: the id from the path or the body."""

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/__sandbox"):
            for key in ID_KEYS:
                if key in request.match_info:
                    seen.append((request.method, "path", request.match_info[key]))
            raw = await request.read()
            body = json.loads(raw) if raw else None
            if isinstance(body, dict):
                for key in ID_KEYS:
                    if key in body:
                        seen.append((request.method, "body", body[key]))
        return await handler(request)

    return record


@pytest.fixture
def awkward_sandbox() -> Iterator[tuple[SandboxThread, list[tuple[str, str, str]]]]:
    handle = SandboxThread(SandboxConfig().with_changes(rate_limit=0))
    seen: list[tuple[str, str, str]] = []
    handle.app.middlewares.insert(0, _recorder(seen))  # before start: aiohttp freezes the list
    handle.start()
    try:
        yield handle, seen
    finally:
        handle.stop()


def _seed(sandbox: SandboxThread, uid: str) -> None:
    sandbox.store.users[uid] = {
        "identifyId": uid,
        "email": "x@example.com",
        "firstName": "Before",
        "globalUnsubscribe": False,
        "propertyKeys": ["AP-TEST-1"],
    }
    sandbox.store.users["bystander"] = {
        "identifyId": "bystander",
        "firstName": "Bystander",
        "propertyKeys": [],
    }


async def _send(sandbox: SandboxThread, tmp_path: Path, call: rq.Call) -> Any:
    async with fast_client(fast_settings(sandbox, tmp_path / "state")) as client:
        return await client.request(call.method, call.path, params=call.params or None, json=call.json)


def _only_id_sent(seen: list[tuple[str, str, str]], uid: str) -> None:
    """Every request carried exactly `uid`; in the body only when a path would mangle it."""
    assert seen, "nothing reached the sandbox"
    assert {sent for _m, _w, sent in seen} == {uid}, seen
    in_path = any(where == "path" for _m, where, _s in seen)
    assert in_path is not needs_id_in_body(uid), (uid, seen)


def _refused_empty(answer: Any, seen: list[tuple[str, str, str]]) -> None:
    """An empty id is sent in the body as exactly "" and the API refuses it: no other record is hit."""
    assert (answer.ok, answer.status) == (False, 400), answer
    _only_id_sent(seen, "")


@pytest.mark.parametrize("uid", AWKWARD, ids=repr)
def test_update_and_delete_carry_exactly_the_id(awkward_sandbox: Any, tmp_path: Path, uid: str) -> None:
    sandbox, seen = awkward_sandbox
    _seed(sandbox, uid)
    answer = asyncio.run(_send(sandbox, tmp_path, rq.USERS.update(uid, {"firstName": "After"})))
    if uid == "":
        _refused_empty(answer, seen)
        seen.clear()
        _refused_empty(asyncio.run(_send(sandbox, tmp_path, rq.USERS.delete(uid, hard=True))), seen)
        assert sandbox.store.users[""]["firstName"] == "Before" and "bystander" in sandbox.store.users
        return
    assert answer.ok, answer.message
    assert sandbox.store.users[uid]["firstName"] == "After"
    assert sandbox.store.users["bystander"]["firstName"] == "Bystander"
    _only_id_sent(seen, uid)

    seen.clear()
    answer = asyncio.run(_send(sandbox, tmp_path, rq.USERS.delete(uid, hard=True)))
    assert answer.ok, answer.message
    assert uid not in sandbox.store.users and "bystander" in sandbox.store.users
    _only_id_sent(seen, uid)


@pytest.mark.parametrize("uid", AWKWARD, ids=repr)
def test_preferences_read_and_write_carry_exactly_the_id(
    awkward_sandbox: Any, tmp_path: Path, uid: str
) -> None:
    sandbox, seen = awkward_sandbox
    _seed(sandbox, uid)
    answer = asyncio.run(_send(sandbox, tmp_path, rq.preferences_update(uid, {"surveys": False})))
    if uid == "":
        _refused_empty(answer, seen)
        assert not sandbox.store.preferences
        return
    assert answer.ok, answer.message
    assert sandbox.store.preferences_of(uid)["surveys"] is False
    assert "bystander" not in sandbox.store.preferences
    answer = asyncio.run(_send(sandbox, tmp_path, rq.preferences_get(uid)))
    assert answer.ok and answer.body["surveys"] is False
    _only_id_sent(seen, uid)


@pytest.mark.parametrize("uid", AWKWARD, ids=repr)
def test_get_and_denylist_carry_the_id_in_the_path_or_refuse_before_sending(
    awkward_sandbox: Any, tmp_path: Path, uid: str
) -> None:
    """These two have no id-in-body form in the API: an id a path would mangle is never sent."""
    sandbox, seen = awkward_sandbox
    _seed(sandbox, uid)
    if needs_id_in_body(uid):
        for build in (rq.USERS.get, rq.denylist_get, rq.denylist_set):
            with pytest.raises(rq.IdNotInPath):
                build(uid)
        return
    answer = asyncio.run(_send(sandbox, tmp_path, rq.USERS.get(uid)))
    assert answer.ok and answer.body["identifyId"] == uid
    assert asyncio.run(_send(sandbox, tmp_path, rq.denylist_set(uid))).ok
    assert sandbox.store.denylist == {uid}
    answer = asyncio.run(_send(sandbox, tmp_path, rq.denylist_get(uid)))
    assert answer.ok and answer.body["denied"] is True
    _only_id_sent(seen, uid)


@pytest.mark.parametrize("denylist", [False, True], ids=["prefs", "prefs+denylist"])
@pytest.mark.parametrize("uid", AWKWARD, ids=repr)
def test_opt_out_reaches_exactly_that_user_or_reports_the_id_unsupported(
    awkward_sandbox: Any, tmp_path: Path, uid: str, denylist: bool
) -> None:
    sandbox, seen = awkward_sandbox
    _seed(sandbox, uid)

    async def opt_out() -> Any:
        async with fast_client(fast_settings(sandbox, tmp_path / "state")) as client:
            return await OneUser(client, OptOutOptions(denylist=denylist)).opt_out(
                uid, saved_before=None, mark=None
            )

    result = asyncio.run(opt_out())
    assert "bystander" not in sandbox.store.preferences and "bystander" not in sandbox.store.denylist
    if uid == "":  # refused by the API at the first read: nothing written
        assert (result.status, result.http_status) == ("failed", 400), result
        assert not sandbox.store.preferences and not sandbox.store.denylist
        _only_id_sent(seen, "")
        return
    if denylist and needs_id_in_body(uid):
        assert (result.status, result.code) == ("failed", "unsupported-id")
        assert uid not in sandbox.store.preferences and not sandbox.store.denylist
        assert all(method in ("GET", "POST") for method, _w, _s in seen), seen  # reads only
        return
    assert result.status == "opted-out", result
    assert all(sandbox.store.preferences_of(uid)[name] is False for name in PREFERENCE_NAMES)
    assert sandbox.store.denylist == ({uid} if denylist else set())
    _only_id_sent(seen, uid)
