"""ApiClient against a small aiohttp.web app of our own: auth headers, encoding, retries, the
uncertain rule for non-idempotent requests, redirects that never carry the key elsewhere."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from batchgs.config import Secret, Settings
from batchgs.errors import ConfigError, FatalApiError, QuotaExhausted, ResumableStop, UsageError
from batchgs.transport.client import (
    ApiClient,
    TransportStats,
    build_path,
    cs_client,
    encode_query,
    needs_id_in_body,
    px_client,
    raise_for_fatal,
    raise_for_result,
)
from batchgs.transport.ledger import QuotaLedger
from batchgs.transport.limiter import SlidingWindowLimiter
from batchgs.transport.result import ApiResult, Outcome
from tests.transport.transport_helpers import KEY, Recorder, client_for, fast_policy, make_app, serve

ERROR_429 = {"externalapierror": {"status": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def scripted(*answers):
    """A handler that answers with the given (status, body, headers) in turn, the last one forever."""
    queue = list(answers)

    async def handler(request: web.Request) -> web.StreamResponse:
        status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        if status == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        if status == "hang":
            await asyncio.sleep(5)
            return web.Response(status=200)
        return web.json_response(body, status=status, headers=headers or {})

    return handler


def test_px_auth_header_json_body_and_success() -> None:
    recorder = Recorder()
    seen = {}

    async def create(request: web.Request) -> web.Response:
        seen["body"] = await request.json()
        seen["ctype"] = request.headers["Content-Type"]
        return web.json_response({"identifyId": "u1"}, status=201)

    async def main() -> ApiResult:
        async with (
            serve(make_app([web.post("/v1/users", create)], recorder)) as url,
            client_for(url) as client,
        ):
            return await client.request("POST", "/v1/users", json={"identifyId": "u1", "firstName": "Zoë"})

    result = run(main())
    assert result.ok and result.status == 201 and result.attempts == 1
    assert result.body == {"identifyId": "u1"}
    assert seen["body"] == {"identifyId": "u1", "firstName": "Zoë"}
    assert seen["ctype"].startswith("application/json")
    assert recorder.requests[0]["headers"]["X-APTRINSIC-API-KEY"] == KEY


def test_cs_accesskey_header_and_envelope() -> None:
    recorder = Recorder()

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(
            {"result": False, "errorCode": "GSOBJ_1011", "errorDesc": "none"}, status=400
        )

    async def main() -> ApiResult:
        async with (
            serve(make_app([web.post("/v2/cockpit/cta/list", listing)], recorder)) as url,
            client_for(url, api="cs") as client,
        ):
            return await client.request("POST", "/v2/cockpit/cta/list", json={"pageNumber": 1})

    result = run(main())
    assert result.ok and result.empty
    assert recorder.requests[0]["headers"]["accesskey"] == KEY
    assert "X-APTRINSIC-API-KEY" not in recorder.requests[0]["headers"]


def test_filters_and_path_segments_are_percent_encoded() -> None:
    seen: dict[str, Any] = {}

    async def users(request: web.Request) -> web.Response:
        seen["filters"] = request.query.getall("filter")
        seen["sort"] = request.query["sort"]
        seen["raw"] = request.rel_url.raw_query_string
        return web.json_response({"users": []})

    async def one(request: web.Request) -> web.Response:
        seen["id"] = request.match_info["id"]
        seen["raw_path"] = request.raw_path
        return web.json_response({})

    awkward = "a b+c;d=e*f&g"
    filters = ["email==a+b@x.com;customAttributes.plan==gold*", "lastName~O'Br?en", "name==a&b=c"]

    async def main() -> None:
        routes = [web.get("/v1/users", users), web.get("/v1/users/{id}", one)]
        async with serve(make_app(routes)) as url, client_for(url) as client:
            assert (
                await client.request("GET", "/v1/users", params={"filter": filters, "sort": "-lastName"})
            ).ok
            assert (await client.request("GET", build_path("/v1/users/{}", awkward))).ok

    run(main())
    assert seen["filters"] == filters
    assert seen["sort"] == "-lastName"
    assert "%3D%3D" in seen["raw"] and "%3B" in seen["raw"] and "%2A" in seen["raw"]
    assert seen["raw"].count("filter=") == 3
    assert seen["id"] == awkward


def test_encode_query_and_ids() -> None:
    assert encode_query({"a": [1, 2], "b": True, "c": None}) == "a=1&a=2&b=true"
    assert encode_query([("filter", "x==1;y>2")]) == "filter=x%3D%3D1%3By%3E2"
    assert build_path("/v1/users/{}", "a/b?c#d%e f") == "/v1/users/a%2Fb%3Fc%23d%25e%20f"
    for bad in ["a/b", "a?b", "a#b", "50%", "a b", "", "..", ".", "tab\there"]:
        assert needs_id_in_body(bad), bad
    for good in ["user-1", "Jane.Doe@example.com", "ÄÖÜ", "a+b=c"]:
        assert not needs_id_in_body(good), good


def test_retry_after_is_honoured_then_success() -> None:
    recorder = Recorder()
    handler = scripted((429, ERROR_429, {"Retry-After": "0.3"}), (200, {"ok": True}, None))
    stats = TransportStats()

    async def main() -> ApiResult:
        async with (
            serve(make_app([web.get("/v1/x", handler)], recorder)) as url,
            client_for(url, stats=stats, policy=fast_policy()) as client,
        ):
            return await client.request("GET", "/v1/x")

    result = run(main())
    assert result.ok and result.attempts == 2
    assert recorder.arrivals[1] - recorder.arrivals[0] >= 0.3
    assert stats.responses_429 == 1 and stats.retries == 1 and stats.requests == 2
    assert stats.responses[429] == 1 and stats.responses[200] == 1


def test_retries_exhausted_after_max_attempts() -> None:
    recorder = Recorder()

    async def main() -> ApiResult:
        app = make_app([web.put("/v1/users/u1", scripted((503, {"message": "busy"}, None)))], recorder)
        async with serve(app) as url, client_for(url, policy=fast_policy(attempts=4)) as client:
            return await client.request("PUT", "/v1/users/u1", json={"firstName": "A"})

    result = run(main())
    assert result.outcome is Outcome.RETRIES_EXHAUSTED and result.code == "retries-exhausted"
    assert result.attempts == 4 and len(recorder.requests) == 4
    assert "busy" in result.message and result.status == 503


def test_row_errors_and_fatal_are_returned_not_raised() -> None:
    async def main() -> list[ApiResult]:
        routes = [
            web.get(
                "/v1/users/missing", scripted((404, {"externalapierror": {"message": "not found"}}, None))
            ),
            web.post("/v1/users", scripted((403, None, None))),
        ]
        async with serve(make_app(routes)) as url, client_for(url) as client:
            return [
                await client.request("GET", "/v1/users/missing"),
                await client.request("POST", "/v1/users"),
            ]

    missing, forbidden = run(main())
    assert missing.outcome is Outcome.ROW_ERROR and missing.code == "not-found" and missing.attempts == 1
    assert forbidden.outcome is Outcome.FATAL and forbidden.hint
    raise_for_fatal(missing)  # a row error does not stop the run
    with pytest.raises(FatalApiError) as info:
        raise_for_fatal(forbidden)
    assert info.value.status == 403 and info.value.exit_code == 4
    with pytest.raises(UsageError):
        raise_for_result(missing, what="reading users")
    exhausted = ApiResult(Outcome.RETRIES_EXHAUSTED, 503, None, "gave up", 8, "retries-exhausted")
    with pytest.raises(ResumableStop):
        raise_for_result(exhausted, what="reading users")


# -- the uncertain rule ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "idempotent", "outcome", "server_saw"),
    [
        (("drop", None, None), False, Outcome.UNCERTAIN, 1),  # server disconnected after receiving
        ((500, {"message": "boom"}, None), False, Outcome.UNCERTAIN, 1),
        ((502, None, None), False, Outcome.UNCERTAIN, 1),
        (("hang", None, None), False, Outcome.UNCERTAIN, 1),  # timeout after sending
        (
            (429, ERROR_429, {"Retry-After": "0.05"}),
            False,
            Outcome.SUCCESS,
            2,
        ),  # refused before processing: retried
        (("drop", None, None), True, Outcome.SUCCESS, 2),
        ((500, {"message": "boom"}, None), True, Outcome.SUCCESS, 2),
        (("hang", None, None), True, Outcome.SUCCESS, 2),
    ],
)
def test_uncertain_rule(first, idempotent, outcome, server_saw) -> None:
    recorder = Recorder()
    handler = scripted(first, (201, {}, None))
    stats = TransportStats()
    timeout = aiohttp.ClientTimeout(total=5, sock_read=0.3)

    async def main() -> ApiResult:
        async with (
            serve(make_app([web.post("/v1/events/custom", handler)], recorder)) as url,
            client_for(url, timeout=timeout, stats=stats) as client,
        ):
            return await client.request(
                "POST", "/v1/events/custom", json={"eventName": "e"}, idempotent=idempotent
            )

    result = run(main())
    assert result.outcome is outcome
    assert len(recorder.requests) == server_saw
    if outcome is Outcome.UNCERTAIN:
        assert result.code == "uncertain" and stats.uncertain == 1


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connection_refused_is_retried_even_when_not_idempotent() -> None:
    stats = TransportStats()

    async def main() -> ApiResult:
        async with client_for(
            f"http://127.0.0.1:{_closed_port()}", policy=fast_policy(attempts=3), stats=stats
        ) as c:
            return await c.request("POST", "/v1/events/custom", json={}, idempotent=False)

    result = run(main())
    assert result.outcome is Outcome.RETRIES_EXHAUSTED and result.attempts == 3
    assert result.status is None and stats.connection_errors == 3 and stats.uncertain == 0
    assert "cannot connect" in result.message


# -- redirects -------------------------------------------------------------------------------------
def test_redirect_to_another_host_does_not_carry_the_key() -> None:
    elsewhere = Recorder()
    home = Recorder()

    async def main() -> tuple[ApiResult, ApiResult]:
        other_app = make_app([web.get("/v1/users", scripted((200, {"users": []}, None)))], elsewhere)
        async with serve(other_app) as other:

            async def bounce(request: web.Request) -> web.Response:
                raise web.HTTPTemporaryRedirect(f"{other}/v1/users")

            async def bounce_by_name(request: web.Request) -> web.Response:
                raise web.HTTPFound(other.replace("127.0.0.1", "localhost") + "/v1/users")

            routes = [web.get("/v1/users", bounce), web.get("/v1/accounts", bounce_by_name)]
            async with serve(make_app(routes, home)) as url, client_for(url) as client:
                return await client.request("GET", "/v1/users"), await client.request("GET", "/v1/accounts")

    for result in run(main()):
        assert result.outcome is Outcome.FATAL and result.code == "redirect"
        assert result.hint
    assert elsewhere.requests == []  # the other host never saw a request, let alone the key
    assert len(home.requests) == 2


def test_same_host_redirect_is_followed_a_few_times_only() -> None:
    recorder = Recorder()

    async def old(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/v1/new")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/v1/loop")

    async def post_moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/v1/new")

    async def main() -> list[ApiResult]:
        routes = [
            web.get("/v1/old", old),
            web.get("/v1/new", scripted((200, {"here": True}, None))),
            web.get("/v1/loop", loop),
            web.post("/v1/post", post_moved),
        ]
        async with serve(make_app(routes, recorder)) as url, client_for(url) as client:
            return [
                await client.request("GET", "/v1/old"),
                await client.request("GET", "/v1/loop"),
                await client.request("POST", "/v1/post", json={}),
            ]

    moved, looping, posted = run(main())
    assert moved.ok and moved.body == {"here": True}
    assert recorder.requests[1]["headers"]["X-APTRINSIC-API-KEY"] == KEY
    assert looping.outcome is Outcome.ROW_ERROR and "too many redirects" in looping.message
    assert posted.outcome is Outcome.ROW_ERROR and "not followed" in posted.message
    assert sum(r["path"] == "/v1/loop" for r in recorder.requests) == 4  # 1 + max_redirects


# -- quota and factories ---------------------------------------------------------------------------
def test_ledger_counts_every_attempt_and_stops_at_the_limit(tmp_path: Path) -> None:
    recorder = Recorder()
    ledger = QuotaLedger(tmp_path, Secret(KEY).fingerprint(), "px", 3)
    handler = scripted((503, None, None), (200, {}, None))

    async def main() -> None:
        async with (
            serve(make_app([web.get("/v1/x", handler)], recorder)) as url,
            client_for(url, ledger=ledger) as client,
        ):
            assert (await client.request("GET", "/v1/x")).attempts == 2  # a retry spends quota too
            assert (await client.request("GET", "/v1/x")).ok
            with pytest.raises(QuotaExhausted) as info:
                await client.request("GET", "/v1/x")
            assert info.value.available_at is not None

    run(main())
    assert len(recorder.requests) == 3
    assert QuotaLedger(tmp_path, Secret(KEY).fingerprint(), "px", 3).used() == 3


def test_server_daily_limit_raises_quota_exhausted() -> None:
    body = {"externalapierror": {"status": "TOO_MANY_REQUESTS", "message": "Daily request limit exceeded"}}

    async def main() -> None:
        async with (
            serve(make_app([web.get("/v1/x", scripted((429, body, {"Retry-After": "3600"})))])) as url,
            client_for(url) as client,
        ):
            with pytest.raises(QuotaExhausted) as info:
                await client.request("GET", "/v1/x")
            assert info.value.available_at is not None

    run(main())


def test_factories(tmp_path: Path) -> None:
    settings = Settings(
        px_base_url="http://127.0.0.1:9",
        px_api_key=Secret("px-key"),
        cs_base_url="http://127.0.0.1:9",
        cs_access_key=Secret("cs-key"),
        cs_shared_secret=Secret("shh"),
        state_dir=tmp_path,
        rate=50,
    )
    px = px_client(settings)
    assert px.limiter.configured_rate == 50 and px.api == "px" and px.ledger is not None
    assert px.ledger.daily_limit == settings.daily_limit
    assert "px-key" not in repr(vars(px))
    cs = cs_client(settings)
    assert cs.limiter.window == 60 and cs.limiter.configured_rate == 100
    events = cs_client(settings, events=True)
    assert list(events._secret_headers) == ["sharedSecret"]
    with pytest.raises(ConfigError):
        cs_client(Settings(px_api_key=Secret("k"), state_dir=tmp_path))
    with pytest.raises(ConfigError):
        px_client(Settings(state_dir=tmp_path))
    with pytest.raises(ConfigError):
        px_client(Settings(px_base_url="http://api.example.com", px_api_key=Secret("k"), state_dir=tmp_path))
    for client in (px, cs, events):
        run(client.close())


# -- TLS -------------------------------------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_verified_and_a_ca_bundle_can_be_given(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    recorder = Recorder()

    def tls_client(url: str, ca_bundle: str | None) -> ApiClient:
        headers = {"X-APTRINSIC-API-KEY": Secret(KEY)}
        limiter = SlidingWindowLimiter(100)
        return ApiClient(url, api="px", secret_headers=headers, limiter=limiter, ca_bundle=ca_bundle)

    async def main() -> tuple[ApiResult, ApiResult]:
        app = make_app([web.get("/v1/users", scripted((200, {"users": []}, None)))], recorder)
        async with serve(app, server_ssl) as url:
            async with tls_client(url, None) as untrusted:
                refused = await untrusted.request("GET", "/v1/users")
            async with tls_client(url, str(cert)) as trusted:
                return refused, await trusted.request("GET", "/v1/users")

    refused, accepted = run(main())
    assert refused.outcome is Outcome.FATAL and refused.code == "tls" and refused.attempts == 1
    assert accepted.ok
    assert len(recorder.requests) == 1  # the key only went out over the verified connection


def test_unreadable_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    async def main() -> None:
        client = client_for("http://127.0.0.1:9")
        client._ca_bundle = str(tmp_path / "missing.pem")
        with pytest.raises(ConfigError, match="CA bundle"):
            await client.__aenter__()

    run(main())
