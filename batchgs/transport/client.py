"""The one HTTP client of batchgs: one aiohttp session, the limiter inside the retry loop, the quota
ledger per attempt, classification of every answer, retries, and no secret anywhere but the header.

`ApiClient.request` returns an `ApiResult` for every answer (success, row error, fatal, uncertain,
retries exhausted) and never raises for them. It raises only `QuotaExhausted` — the daily quota is
used up (the local ledger, or the server's "Daily request limit exceeded" 429) and nothing was done
for this request — so that the engine can pause the run. For FATAL results (401/403, TLS, a redirect
to another host) the engine calls `raise_for_fatal(result)`, which raises `FatalApiError` (exit 4).
Reads that cannot continue after any failure (paging, metadata) call `raise_for_result`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as jsonlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from yarl import URL

from batchgs._version import __version__
from batchgs.config import Secret, Settings, check_base_url, scrub_secrets
from batchgs.errors import ConfigError, FatalApiError, QuotaExhausted, ResumableStop, UsageError
from batchgs.tls import client_context, import_aiohttp
from batchgs.transport.classify import Api, Classification, Decision, classify
from batchgs.transport.coordination import KeySharing, open_sharing
from batchgs.transport.ledger import Ledger, QuotaLease
from batchgs.transport.limiter import SlidingWindowLimiter, cs_limiter, px_limiter
from batchgs.transport.result import ApiResult, BeforeSend, Outcome
from batchgs.transport.retry import RetryPolicy

# re-exported (`import X as X`): callers import the client's vocabulary from here
from batchgs.transport.stats import TransportStats as TransportStats
from batchgs.transport.urls import Params as Params
from batchgs.transport.urls import ParamValue as ParamValue
from batchgs.transport.urls import build_path as build_path
from batchgs.transport.urls import encode_query as encode_query
from batchgs.transport.urls import encode_segment as encode_segment
from batchgs.transport.urls import needs_id_in_body as needs_id_in_body

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = import_aiohttp()  # (the console script skips its CA store: `batchgs.tls`)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
QUOTA_WAIT_SECONDS = 60.0
QUOTA_HINT = "capacity returns as the rolling 24 hours free up; resume later, or use --wait-for-quota"
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
MESSAGE_MAX = 600  # characters of server-provided text in a message, errors.csv cell or Error: line


def _same_origin(a: URL, b: URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


# -- raising helpers -------------------------------------------------------------------------------
def raise_for_fatal(result: ApiResult) -> None:
    """Raise FatalApiError (exit 4, resumable) when the result says the run must stop."""
    if result.outcome is Outcome.FATAL:
        raise FatalApiError(result.message, status=result.status, hint=result.hint)


def raise_for_result(result: ApiResult, *, what: str) -> None:
    """For reads where any failure stops the command: fatal → FatalApiError; the API refused the
    request itself (bad filter, date range) → UsageError; transient failures → ResumableStop."""
    if result.ok:
        return
    raise_for_fatal(result)
    status = f" (HTTP {result.status})" if result.status else ""
    if result.outcome is Outcome.ROW_ERROR:
        raise UsageError(f"{what}: the API refused the request{status}: {result.message}")
    raise ResumableStop(f"{what}: {result.message}{status}", hint="run the command again later")


# -- the client ------------------------------------------------------------------------------------
class ApiClient:
    """One session to one Gainsight API. Use as `async with` inside the running event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        api: Api,
        secret_headers: Mapping[str, Secret],
        limiter: SlidingWindowLimiter,
        ledger: Ledger | None = None,
        sharing: KeySharing | None = None,
        policy: RetryPolicy | None = None,
        stats: TransportStats | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        ca_bundle: str | None = None,
        wait_for_quota: bool = False,
        max_redirects: int = 3,
        connections: int = 100,
        quota_chunk: int = 20,
    ) -> None:
        self.base_url = URL(check_base_url(base_url))
        self.api: Api = api
        self.limiter = limiter
        self.sharing = sharing
        self.ledger = sharing.ledger if sharing is not None else ledger
        self.policy = policy or RetryPolicy()
        self.stats = stats if stats is not None else TransportStats()
        self.wait_for_quota = wait_for_quota
        self.max_redirects = max_redirects
        self._secret_headers = dict(secret_headers)
        self._timeout = timeout or aiohttp.ClientTimeout(total=180, connect=30, sock_connect=15, sock_read=90)
        self._ca_bundle = ca_bundle
        self._connections = connections
        self._quota = QuotaLease(self.ledger, chunk=quota_chunk) if self.ledger is not None else None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        if self.sharing is not None:  # before any request: unreachable means exit 2, nothing sent
            await self.sharing.start()
        ssl_context: ssl.SSLContext | bool = True  # (plain HTTP: no TLS, another origin is refused)
        if self.base_url.scheme == "https" or self._ca_bundle:
            try:  # the system's CA store or the bundle's; verification is never off (`tls`)
                ssl_context = client_context(self._ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"CA bundle {self._ca_bundle!r} cannot be used: {exc.__class__.__name__}",
                    hint="point BATCHGS_CA_BUNDLE (or ca_bundle in batchgs.toml) at a PEM file of CAs",
                ) from None
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_mark_sent)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, ssl=ssl_context),
            timeout=self._timeout,
            trace_configs=[trace],
            headers={"User-Agent": f"batchgs/{__version__}", "Accept": "application/json"},
            auto_decompress=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close everything, each step even when an earlier one failed: the share keeper must stop
        (and leave the board) whatever happened to the session or the ledger."""
        quota, ledger, sharing, session = self._quota, self.ledger, self.sharing, self._session
        self._quota = self.ledger = self.sharing = self._session = None
        try:
            if session is not None:
                await session.close()
            if quota is not None:
                await quota.aclose()
            if ledger is not None:
                await ledger.aclose()
        finally:
            if sharing is not None:
                await sharing.aclose()

    def summary(self) -> dict[str, Any]:
        """Transport counters plus the limiter's state, for summary.json and progress lines."""
        limiter = self.limiter.stats()
        return {
            **self.stats.as_dict(),
            "rate_configured": limiter.configured_rate,
            "rate_current": round(limiter.current_rate, 3),
            "rate_pauses": limiter.pauses,
            "paused_seconds": round(limiter.paused_seconds, 3),
            "rate_share": limiter.share,
        }

    def url_for(self, path: str, params: Params | None = None) -> URL:
        if not path.startswith("/"):
            path = "/" + path
        query = encode_query(params)
        text = str(self.base_url).rstrip("/") + quote(path, safe=_PATH_SAFE) + (f"?{query}" if query else "")
        return URL(text, encoded=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool = True,
        headers: Mapping[str, str | Secret] | None = None,
        before_send: BeforeSend | None = None,
        raw: bool = False,
    ) -> ApiResult:
        """Send until the answer is definitive or retries run out. Raises only QuotaExhausted.

        `raw`: a success's body stays the bytes received (`ApiResult.raw`, `body` None): export pages,
        which the exporter parses column-wise and spools as they are.

        `before_send` is awaited once, when the first attempt has its quota and its limiter slot and is
        about to be written: the write-ahead mark of a non-idempotent request, taken as late as it can be
        so that a crash leaves uncertain only requests that may really have left. If it raises, nothing
        is sent and the error propagates.
        """
        started = time.monotonic()
        before_send = _once(before_send) if before_send is not None else None
        body = None if json is None else jsonlib.dumps(json, ensure_ascii=False).encode()
        url = self.url_for(path, params)
        attempt = 0
        while True:
            attempt += 1
            verdict, granted = await self._send(
                method.upper(), url, body, headers, idempotent, before_send, raw
            )
            decision = verdict.decision
            if decision is Decision.RETRY:
                if verdict.rate_limited:
                    self.limiter.on_rate_limited(verdict.retry_after, granted_at=granted)
                wait = self.policy.next_delay(attempt, time.monotonic() - started, verdict.retry_after)
                if wait is None:
                    return self._safe(
                        _result(
                            verdict,
                            Outcome.RETRIES_EXHAUSTED,
                            attempt,
                            code="retries-exhausted",
                            message=f"gave up after {attempt} attempts: {verdict.message}",
                        )
                    )
                self.stats.retries += 1
                await asyncio.sleep(wait)
                continue
            if decision is Decision.QUOTA:
                if not self.wait_for_quota:
                    available = time.time() + verdict.retry_after if verdict.retry_after else None
                    raise QuotaExhausted(
                        "the API says the daily request limit is reached: "
                        + self._safe_text(verdict.message),
                        available_at=available,
                        hint=QUOTA_HINT,
                    )
                self.limiter.pause_for(max(verdict.retry_after or 0.0, QUOTA_WAIT_SECONDS))
                attempt -= 1
                continue
            if decision is Decision.UNCERTAIN:
                self.stats.uncertain += 1
            return self._safe(_result(verdict, _OUTCOMES[decision], attempt))

    def _safe_text(self, text: str) -> str:
        """Server-provided text made fit for a terminal line and a report cell: this client's secrets
        removed (a server or proxy may echo request headers), control characters and line breaks
        turned into spaces (no forged lines, no terminal escapes), at most MESSAGE_MAX characters."""
        text = scrub_secrets(text, [s.reveal() for s in self._secret_headers.values()])[: MESSAGE_MAX * 8]
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"

    def _safe(self, result: ApiResult) -> ApiResult:
        if result.ok and not result.message:
            return result
        return dataclasses.replace(result, message=self._safe_text(result.message))

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        extra_headers: Mapping[str, str | Secret] | None,
        idempotent: bool,
        before_send: BeforeSend | None = None,
        raw: bool = False,
    ) -> tuple[Classification, float]:
        """One attempt, following same-origin redirects; each hop spends quota and a limiter slot.
        Returns the verdict and the grant time of the last hop (for the limiter's 429 episodes)."""
        for _hop in range(self.max_redirects + 1):
            answer, granted = await self._exchange(method, url, body, extra_headers, before_send)
            if isinstance(answer, _Failure):
                return classify(error=answer.error, sent=answer.sent, idempotent=idempotent), granted
            status, resp_headers, payload, reason = answer
            location = resp_headers.get("Location")
            if status not in REDIRECTS or not location:
                verdict = classify(
                    status,
                    resp_headers,
                    payload,
                    idempotent=idempotent,
                    api=self.api,
                    reason=reason,
                    keep_raw=raw,
                )
                return verdict, granted
            target = url.join(URL(location))
            if not _same_origin(target, self.base_url):
                return _redirect_refused(status, target), granted
            if method not in ("GET", "HEAD") and status not in (307, 308):
                message = f"the API redirected a {method} ({status}) to {target.path}; not followed"
                return Classification(Decision.ROW_ERROR, status, message, code="api-rejected"), granted
            url = target
        return Classification(Decision.ROW_ERROR, None, "too many redirects", code="api-rejected"), granted

    async def _exchange(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        extra_headers: Mapping[str, str | Secret] | None,
        before_send: BeforeSend | None = None,
    ) -> tuple[tuple[int, Mapping[str, str], bytes, str] | _Failure, float]:
        """Send one HTTP request through the quota and the limiter; the answer or the exception."""
        if self._session is None:
            raise RuntimeError("ApiClient used outside `async with`")
        if self._quota is not None:
            await self._quota.take_async(wait=self.wait_for_quota)
        grant = await self.limiter.acquire()
        try:
            if before_send is not None:
                await before_send()
            headers = self._headers(extra_headers, body is not None)
            ctx: dict[str, bool] = {"sent": False}
            self.stats.requests += 1
            self.stats.sent_per_second[int(time.time())] += 1
            self.stats.bytes_sent += len(body or b"")
            try:
                async with self._session.request(
                    method, url, data=body, headers=headers, allow_redirects=False, trace_request_ctx=ctx
                ) as resp:
                    payload = await resp.read()
                    answer = (resp.status, resp.headers, payload, resp.reason or "")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                if isinstance(exc, TimeoutError):
                    self.stats.timeouts += 1
                else:
                    self.stats.connection_errors += 1
                return _Failure(exc, ctx["sent"]), grant.at
        finally:
            self.limiter.release(grant)
        self.stats.responses[answer[0]] += 1
        self.stats.bytes_received += len(payload)
        if answer[0] == 429:
            self.stats.responses_429 += 1
        return answer, grant.at

    def _headers(self, extra: Mapping[str, str | Secret] | None, has_body: bool) -> dict[str, str]:
        """Secrets are revealed here, at send time, and only into the request headers."""
        headers = {name: secret.reveal() for name, secret in self._secret_headers.items()}
        if has_body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        for name, value in (extra or {}).items():
            headers[name] = value.reveal() if isinstance(value, Secret) else value
        return headers


@dataclass(frozen=True)
class _Failure:
    error: BaseException
    sent: bool  # the request's headers were written before it failed


def _once(hook: BeforeSend) -> BeforeSend:
    """`hook` awaited on the first call only (retries and redirect hops of a request reuse the mark)."""
    done = False

    async def call() -> None:
        nonlocal done
        if not done:
            await hook()  # a failing hook stays not-done: the request was not sent
            done = True

    return call


async def _mark_sent(session: aiohttp.ClientSession, context: Any, params: Any) -> None:
    ctx = context.trace_request_ctx
    if isinstance(ctx, dict):
        ctx["sent"] = True


_OUTCOMES = {
    Decision.SUCCESS: Outcome.SUCCESS,
    Decision.ROW_ERROR: Outcome.ROW_ERROR,
    Decision.FATAL: Outcome.FATAL,
    Decision.UNCERTAIN: Outcome.UNCERTAIN,
}


def _result(
    verdict: Classification,
    outcome: Outcome,
    attempts: int,
    *,
    code: str | None = None,
    message: str | None = None,
) -> ApiResult:
    return ApiResult(
        outcome=outcome,
        status=verdict.status,
        body=verdict.body,
        message=verdict.message if message is None else message,
        attempts=attempts,
        code=verdict.code if code is None else code,
        hint=verdict.hint,
        empty=verdict.empty_result,
        raw=verdict.raw,
    )


def _redirect_refused(status: int, target: URL) -> Classification:
    return Classification(
        Decision.FATAL,
        status,
        f"the API redirected to another host ({target.scheme}://{target.host}); not followed so that the "
        "key is never sent there",
        code="redirect",
        hint="if that host is the right one, give it as the base URL (--base-url or the region)",
    )


# -- factories -------------------------------------------------------------------------------------
def px_client(
    settings: Settings,
    *,
    stats: TransportStats | None = None,
    policy: RetryPolicy | None = None,
    limiter: SlidingWindowLimiter | None = None,
    rate: float | None = None,
    wait_for_quota: bool = False,
    use_ledger: bool = True,
    share: bool | None = None,
    label: str = "",
    timeout: aiohttp.ClientTimeout | None = None,
) -> ApiClient:
    """A client for Gainsight PX with the settings' key, rate (or `rate`), daily limit and CA bundle.
    Its limiter shares the key's rate with every other job on the key (`share`, default: unless the
    caller brings its own limiter), through the state folder or the coordinator."""
    key = settings.require_px_key()
    return _shared_client(
        settings,
        api="px",
        base_url=settings.px_base_url,
        header=("X-APTRINSIC-API-KEY", key),
        own_limiter=limiter,
        limiter=limiter or px_limiter(rate or settings.rate),
        daily_limit=settings.daily_limit,
        stats=stats,
        policy=policy,
        wait_for_quota=wait_for_quota,
        use_ledger=use_ledger,
        share=share,
        label=label,
        timeout=timeout,
    )


def cs_client(
    settings: Settings,
    *,
    events: bool = False,
    stats: TransportStats | None = None,
    policy: RetryPolicy | None = None,
    limiter: SlidingWindowLimiter | None = None,
    per_minute: int | None = None,
    wait_for_quota: bool = False,
    use_ledger: bool = True,
    share: bool | None = None,
    label: str = "",
    timeout: aiohttp.ClientTimeout | None = None,
) -> ApiClient:
    """A client for Gainsight CS: the `accesskey` header, or with `events=True` the Events Framework's
    `sharedSecret` header (the other event headers go per request). 100 calls per minute by default."""
    if not settings.cs_base_url:
        raise ConfigError(
            "no Gainsight CS base URL",
            hint="--base-url https://<tenant>.gainsightcloud.com or GAINSIGHT_CS_BASE_URL",
        )
    name, secret = (
        ("sharedSecret", settings.cs_shared_secret) if events else ("accesskey", settings.cs_access_key)
    )
    if not secret:
        var = "GAINSIGHT_CS_SHARED_SECRET" if events else "GAINSIGHT_CS_ACCESS_KEY"
        raise ConfigError(
            f"no Gainsight CS {'shared secret' if events else 'access key'}", hint=f"export {var}=..."
        )
    return _shared_client(
        settings,
        api="cs",
        base_url=settings.cs_base_url,
        header=(name, secret),
        own_limiter=limiter,
        limiter=limiter or cs_limiter(per_minute or settings.cs_pace),
        daily_limit=settings.cs_daily_limit,
        stats=stats,
        policy=policy,
        wait_for_quota=wait_for_quota,
        use_ledger=use_ledger,
        share=share,
        label=label,
        timeout=timeout,
    )


def _shared_client(
    settings: Settings,
    *,
    api: Api,
    base_url: str,
    header: tuple[str, Secret],
    own_limiter: SlidingWindowLimiter | None,
    limiter: SlidingWindowLimiter,
    daily_limit: int,
    stats: TransportStats | None,
    policy: RetryPolicy | None,
    wait_for_quota: bool,
    use_ledger: bool,
    share: bool | None,
    label: str,
    timeout: aiohttp.ClientTimeout | None,
) -> ApiClient:
    """The one way a factory's client is put together: its key's sharing (with every other job on the
    key unless `share` says otherwise; by default only when the caller brought no limiter of its own)."""
    name, secret = header
    sharing = open_sharing(
        settings,
        fingerprint=secret.fingerprint(),
        scope=api,
        base_url=base_url,
        limiter=limiter,
        daily_limit=daily_limit,
        use_ledger=use_ledger,
        share=own_limiter is None if share is None else share,
        label=label,
    )
    return ApiClient(
        base_url,
        api=api,
        secret_headers={name: secret},
        limiter=limiter,
        sharing=sharing,
        policy=policy,
        stats=stats,
        timeout=timeout,
        ca_bundle=settings.ca_bundle,
        wait_for_quota=wait_for_quota,
    )
