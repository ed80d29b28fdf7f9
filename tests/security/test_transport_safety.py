"""Transport safety: no plain http off the machine, TLS always verified (custom CA bundle possible),
redirects never carry a key to another origin, hostile answers cut short and made one line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from yarl import URL

from batchgs.config import Secret, Settings, check_base_url, is_loopback, resolve
from batchgs.errors import ConfigError
from batchgs.sandbox.app import build_app
from batchgs.sandbox.settings import SandboxConfig
from batchgs.sandbox.state import STATE_KEY
from batchgs.transport.client import ApiClient, _same_origin, cs_client, px_client
from batchgs.transport.result import ApiResult, Outcome
from tests.cli.cli_helpers import run_cli
from tests.security.sec_helpers import PX_KEY, error_lines, find_secrets, write_table
from tests.transport.transport_helpers import Recorder, make_app, serve

T = TypeVar("T")
BATCHGS = Path(__file__).resolve().parents[2] / "batchgs"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def settings_for(url: str, tmp_path: Path, **changes: Any) -> Settings:
    return Settings(px_base_url=url, px_api_key=Secret(PX_KEY), state_dir=tmp_path / "state", **changes)


# -- plain http ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://api.aptrinsic.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.nip.io",  # a DNS name that merely starts like a loopback address
        "http://127.0.0.1@evil.example",  # userinfo trick: the host is evil.example
        "http://localhost.evil.example",
        "HTTP://API.EXAMPLE.COM",
        "ftp://api.example.com",
        "api.example.com",
    ],
)
def test_plain_http_off_the_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        check_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.aptrinsic.com",
        "https://api-eu.aptrinsic.com/",
        "http://127.0.0.1:8700",
        "http://127.1.2.3",
        "http://localhost:8700",
        "http://[::1]:8700",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


def test_is_loopback_needs_a_loopback_address_not_a_prefix() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("127.0.0.1.nip.io") and not is_loopback("127.example.com")
    assert not is_loopback("0.0.0.0") and not is_loopback(None)


def test_cli_refuses_plain_http_in_one_line_with_exit_2(sandbox, tmp_path: Path) -> None:
    users = write_table(tmp_path / "u.csv", ["identifyId", "email"], [["U1", "a@example.com"]])
    key = {"GAINSIGHT_PX_API_KEY": PX_KEY, "BATCHGS_STATE_DIR": str(tmp_path / "s")}
    (tmp_path / "batchgs.toml").write_text('[profiles.p]\nbase_url = "http://gs.example.com"\n')
    cases = [
        (["import", "users", str(users), "--base-url", "http://api.example.com"], key),
        (["import", "users", str(users)], {**key, "GAINSIGHT_PX_BASE_URL": "http://api.example.com"}),
        (["--profile", "p", "quota"], key),
        (["import", "ctas", str(users)], {**key, "GAINSIGHT_CS_BASE_URL": "http://tenant.example.com"}),
    ]
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for args, env in cases:
            result = run_cli([*args, "--run-dir", str(tmp_path / "never")] if "import" in args else args, env)
            assert result.exit_code == 2, (args, result.output)
            assert len(error_lines(result.stderr)) == 1 and "plain http://" in result.stderr, result.stderr
            assert "Traceback" not in result.output
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "never").exists()
    assert find_secrets([tmp_path], [PX_KEY]) == []


# -- TLS -----------------------------------------------------------------------------------------------
def test_no_code_turns_tls_verification_off() -> None:
    pattern = re.compile(
        r"ssl\s*=\s*False|verify_ssl|CERT_NONE|check_hostname\s*=\s*False|_create_unverified"
    )
    offenders = [
        f"{path.relative_to(BATCHGS.parent)}:{n}"
        for path in BATCHGS.rglob("*.py")
        if "sandbox" not in path.parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_the_session_verifies_certificates(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        found = []
        for client in (px_client(settings_for("https://api.example.com", tmp_path), use_ledger=False),):
            async with client:
                assert client._session is not None
                found.append(client._session.connector._ssl)  # type: ignore[union-attr]
        return found

    for value in run(main()):
        assert value is not False
        if isinstance(value, ssl.SSLContext):
            assert value.verify_mode == ssl.CERT_REQUIRED and value.check_hostname


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


def test_ca_bundle_from_the_environment_or_a_profile(tmp_path: Path) -> None:
    """An untrusted certificate stops the run before the key is sent; BATCHGS_CA_BUNDLE or the
    profile's `ca_bundle` make a corporate CA trusted."""
    cert, key = _self_signed(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    profile = tmp_path / "batchgs.toml"
    recorder = Recorder()

    async def users(request: web.Request) -> web.Response:
        return web.json_response({"users": []})

    async def main() -> list[ApiResult]:
        results = []
        async with serve(make_app([web.get("/v1/users", users)], recorder), server_ssl) as url:
            profile.write_text(f'[profiles.corp]\nbase_url = "{url}"\nca_bundle = "{cert}"\n')
            env = {"GAINSIGHT_PX_API_KEY": PX_KEY, "GAINSIGHT_PX_BASE_URL": url}
            for settings in (
                resolve(env=env, state_dir=tmp_path / "s", profile_path=profile),  # no CA: refused
                resolve(env={**env, "BATCHGS_CA_BUNDLE": str(cert)}, state_dir=tmp_path / "s"),
                resolve(profile="corp", env={"GAINSIGHT_PX_API_KEY": PX_KEY}, profile_path=profile),
            ):
                async with px_client(settings, use_ledger=False) as client:
                    results.append(await client.request("GET", "/v1/users"))
        return results

    refused, by_env, by_profile = run(main())
    assert refused.outcome is Outcome.FATAL and refused.code == "tls"
    assert by_env.ok and by_profile.ok
    assert len(recorder.requests) == 2  # the key went out only over verified connections


def test_the_console_script_verifies_tls_with_the_system_store_or_the_bundle(tmp_path: Path) -> None:
    """`batchgs` as a user runs it (the console script, which imports aiohttp without loading the CA
    store for aiohttp's unused defaults: `batchgs.tls`): a certificate no CA vouches for stops the run
    before the key is sent; the same server is exported once its CA is in the system's store (here
    SSL_CERT_FILE, which OpenSSL reads for it) or named by BATCHGS_CA_BUNDLE."""
    cert, key = _self_signed(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    app = build_app(SandboxConfig(api_key=PX_KEY, seed_users=3))

    def export(url: str, name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GAINSIGHT_", "BATCHGS_"))}
        env = {**base, "GAINSIGHT_PX_API_KEY": PX_KEY, "GAINSIGHT_PX_BASE_URL": url}
        env.update(BATCHGS_STATE_DIR=str(tmp_path / "state"), **extra)
        command = [sys.executable, "-m", "batchgs", "export", "users", "-o", str(tmp_path / name), "-q"]
        return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    async def main() -> tuple[subprocess.CompletedProcess[str], int, list[subprocess.CompletedProcess[str]]]:
        async with serve(app, server_ssl) as url:
            refused = await asyncio.to_thread(export, url, "refused.csv")
            seen = int(app[STATE_KEY].stats.arrived)
            trusted = [
                await asyncio.to_thread(export, url, "system.csv", SSL_CERT_FILE=str(cert)),
                await asyncio.to_thread(export, url, "bundle.csv", BATCHGS_CA_BUNDLE=str(cert)),
            ]
        return refused, seen, trusted

    refused, seen_when_refused, trusted = run(main())
    assert refused.returncode != 0 and "certificate" in refused.stderr.lower(), refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "refused.csv").exists()
    assert seen_when_refused == 0  # no request (no key) went over the unverified connection
    for done, name in zip(trusted, ("system.csv", "bundle.csv"), strict=True):
        assert done.returncode == 0, done.stderr
        assert len((tmp_path / name).read_text(encoding="utf-8").splitlines()) == 1 + 3


def test_importing_batchgs_leaves_aiohttp_and_ssl_as_they_are() -> None:
    """Only the console script skips aiohttp's CA store: a program that imports batchgs (its own
    aiohttp sessions use aiohttp's default contexts) gets them with the system's CAs, and after the
    console script's import every new default context still loads them."""
    stats = "aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()"
    fresh = "ssl.create_default_context().cert_store_stats()"
    script = (
        "import ssl, sys\n"
        "from batchgs import tls\n"
        "before = ssl.create_default_context().cert_store_stats()\n"
        "if sys.argv[1] == 'console': tls.defer_default_ca_store()\n"
        "import batchgs.api, batchgs.transport.client, aiohttp.connector\n"
        f"print({stats} == before, {fresh} == before, before['x509_ca'])\n"
    )
    library, console = (
        subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, text=True, check=True
        ).stdout.split()
        for mode in ("library", "console")
    )
    if library[2] == "0":
        pytest.skip("this machine has no system CA store to compare with")
    assert library[:2] == ["True", "True"]
    assert console[1] == "True"  # ssl's own methods are back once aiohttp is imported


# -- redirects -----------------------------------------------------------------------------------------
def test_same_origin_means_scheme_host_and_port() -> None:
    base = URL("https://api.aptrinsic.com")
    assert _same_origin(URL("https://api.aptrinsic.com/v1/x"), base)
    assert not _same_origin(URL("http://api.aptrinsic.com/v1/x"), base)  # downgrade
    assert not _same_origin(URL("https://api.aptrinsic.com:8443/v1/x"), base)
    assert not _same_origin(URL("https://evil.example/v1/x"), base)
    assert not _same_origin(URL("https://api.aptrinsic.com.evil.example/v1/x"), base)


def test_cli_run_redirected_to_another_port_stops_and_the_key_never_leaves(
    sandbox_factory, tmp_path: Path
) -> None:
    """The base URL answers every request with a redirect to another server (another port of the
    same host): the run stops (exit 4) and the other server never receives the key."""
    target = sandbox_factory(api_key=PX_KEY)
    users = write_table(
        tmp_path / "u.csv",
        ["identifyId", "email"],
        [[f"U{i}", f"u{i}@example.com"] for i in range(5)],
    )
    recorder = Recorder()

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{target.url}{request.path_qs}")

    ready = threading.Event()
    box: dict[str, Any] = {}

    def serve_bouncer() -> None:
        async def main() -> None:
            app = make_app([web.route("*", "/{tail:.*}", bounce)], recorder)
            async with serve(app) as url:
                box["url"] = url
                box["loop"] = asyncio.get_running_loop()
                box["stop"] = asyncio.Event()
                ready.set()
                await box["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=serve_bouncer, daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        result = run_cli(
            ["import", "users", str(users), "--run-dir", str(tmp_path / "run"), "--product-key", "AP-1"],
            {
                "GAINSIGHT_PX_API_KEY": PX_KEY,
                "GAINSIGHT_PX_BASE_URL": box["url"],
                "BATCHGS_STATE_DIR": str(tmp_path / "state"),
            },
        )
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
    assert result.exit_code == 4, result.output
    assert "redirected to another host" in result.stderr, result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert recorder.requests, "the redirecting server was asked"
    assert all(r["headers"].get("X-APTRINSIC-API-KEY") == PX_KEY for r in recorder.requests)
    assert target.stats()["requests_total"] == 0  # the other origin never saw a request, nor the key
    assert find_secrets([tmp_path], [PX_KEY], [result.stdout, result.stderr]) == []


def test_same_origin_redirects_keep_the_key_and_cross_origin_ones_never_get_it(tmp_path: Path) -> None:
    home, elsewhere = Recorder(), Recorder()

    async def main() -> tuple[ApiResult, ApiResult, ApiResult]:
        async def ok(request: web.Request) -> web.Response:
            return web.json_response({"users": []})

        async with serve(make_app([web.get("/{tail:.*}", ok)], elsewhere)) as other:

            async def moved(request: web.Request) -> web.Response:
                raise web.HTTPMovedPermanently("/v1/new")

            async def away(request: web.Request) -> web.Response:
                raise web.HTTPFound(f"{other}/v1/users")

            async def away_by_name(request: web.Request) -> web.Response:
                raise web.HTTPPermanentRedirect(other.replace("127.0.0.1", "localhost") + "/v1/users")

            routes = [
                web.get("/v1/old", moved),
                web.get("/v1/new", ok),
                web.get("/v1/away", away),
                web.post("/v1/away-by-name", away_by_name),
            ]
            async with serve(make_app(routes, home)) as url:
                client = px_client(settings_for(url, tmp_path), use_ledger=False)
                async with client:
                    return (
                        await client.request("GET", "/v1/old"),
                        await client.request("GET", "/v1/away"),
                        await client.request("POST", "/v1/away-by-name", json={}),
                    )

    followed, away, away_post = run(main())
    assert followed.ok
    assert [r["path"] for r in home.requests][:2] == ["/v1/old", "/v1/new"]
    assert home.requests[1]["headers"]["X-APTRINSIC-API-KEY"] == PX_KEY  # same origin: key kept
    for refused in (away, away_post):
        assert refused.outcome is Outcome.FATAL and refused.code == "redirect"
    assert elsewhere.requests == []


# -- hostile answers -----------------------------------------------------------------------------------
MEGABYTE = 1 << 20
HUGE_ANSWERS = {
    "html": (502, "text/html", ("<html><body>" + "x" * MEGABYTE + "</body></html>").encode()),
    "text": (400, "text/plain", b"y" * MEGABYTE),
    "json message": (400, "application/json", json.dumps({"message": "z" * MEGABYTE}).encode()),
    "json subErrors": (
        400,
        "application/json",
        json.dumps(
            {"externalapierror": {"subErrors": [{"field": "f", "message": "m" * 1000}] * 1000}}
        ).encode(),
    ),
    "cs envelope 200": (
        200,
        "application/json",
        json.dumps({"result": False, "errorCode": "X_1", "errorDesc": "d" * MEGABYTE}).encode(),
    ),
    "cs envelope 400": (
        400,
        "application/json",
        json.dumps({"result": False, "errorCode": "X_2", "errorDesc": "e" * MEGABYTE}).encode(),
    ),
    "401": (401, "application/json", json.dumps({"message": "u" * MEGABYTE}).encode()),
    "newlines and escapes": (
        400,
        "application/json",
        json.dumps({"message": "first line\nsecond line\r\n\x1b[31mred\x1b[0m\x07 end"}).encode(),
    ),
    "key echoed": (
        400,
        "application/json",
        json.dumps(
            {"message": f"bad request, headers: X-APTRINSIC-API-KEY={PX_KEY} accesskey={PX_KEY}"}
        ).encode(),
    ),
}
MESSAGE_BOUND = 1_000


@pytest.mark.parametrize("api", ["px", "cs"])
def test_huge_or_hostile_error_bodies_give_short_one_line_messages(api: str, tmp_path: Path) -> None:
    async def main() -> dict[str, ApiResult]:
        def answer(status: int, ctype: str, body: bytes) -> Any:
            async def handler(request: web.Request) -> web.Response:
                return web.Response(status=status, body=body, content_type=ctype)

            return handler

        routes = [web.get(f"/r/{i}", answer(*spec)) for i, spec in enumerate(HUGE_ANSWERS.values())]
        results = {}
        async with serve(make_app(routes)) as url:
            settings = Settings(
                px_base_url=url,
                px_api_key=Secret(PX_KEY),
                cs_base_url=url,
                cs_access_key=Secret(PX_KEY),
                state_dir=tmp_path,
            )
            client: ApiClient = (
                px_client(settings, use_ledger=False)
                if api == "px"
                else cs_client(settings, use_ledger=False)
            )
            client.policy.max_attempts = 1
            async with client:
                for i, name in enumerate(HUGE_ANSWERS):
                    results[name] = await client.request("GET", f"/r/{i}")
        return results

    results = run(main())
    for name, result in results.items():
        if api == "px" and name.startswith("cs envelope 200"):
            continue  # a 200 is a success for PX, whatever its body
        assert not result.ok, name
        assert 0 < len(result.message) <= MESSAGE_BOUND, (name, len(result.message))
        assert result.message.isprintable(), (name, result.message)
        assert PX_KEY not in result.message and "***" in result.message if name == "key echoed" else True
    assert "first line second line" in results["newlines and escapes"].message
